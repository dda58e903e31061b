"""LangChain ``Embeddings`` for image-text (CLIP, SigLIP) and audio-text (CLAP) models.

The ``Embeddings`` methods embed text with the model's text tower; ``embed_image`` and
``embed_audio`` embed media into the same space, so a text query finds images or sounds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.embeddings import Embeddings

from msearch.backends.base import AudioEmbedder, ImageEmbedder, TextEmbedder
from msearch.multimodal import audio_embedder, image_embedder


class _TextSide(Embeddings):
    """The text half shared by the image and audio embeddings."""

    embedder: TextEmbedder
    model: str
    backend: str

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, backend={self.backend!r})"

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.embed_documents(texts).tolist()  # type: ignore[no-any-return]

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.embed_query(text).tolist()  # type: ignore[no-any-return]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return (await self.embedder.aembed_documents(texts)).tolist()  # type: ignore[no-any-return]

    async def aembed_query(self, text: str) -> list[float]:
        return (await self.embedder.aembed_query(text)).tolist()  # type: ignore[no-any-return]


class MSearchImageEmbeddings(_TextSide):
    """Images and texts in one vector space (CLIP, SigLIP/SigLIP2), for LangChain.

    ``embed_image`` takes paths, bytes, PIL images, numpy arrays, data URIs or http(s) URLs.
    Vectors are L2-normalized. Backends: ``"transformers"`` (default), ``"infinity"``,
    ``"infinity-server"`` (``url=...``).

    Example:
        .. code-block:: python

            from langchain_msearch import MSearchImageEmbeddings

            embeddings = MSearchImageEmbeddings(model="openai/clip-vit-base-patch32")
            image_vectors = embeddings.embed_image(["cat.jpg", "dog.png"])
            query_vector = embeddings.embed_query("a photo of a cat")
    """

    def __init__(self, model: str, backend: str = "transformers", **options: Any) -> None:
        self.model = model
        self.backend = backend
        self.embedder: ImageEmbedder = image_embedder(model, backend, **options)

    def embed_image(self, images: Sequence[Any]) -> list[list[float]]:
        return self.embedder.embed_images(images).tolist()  # type: ignore[no-any-return]

    async def aembed_image(self, images: Sequence[Any]) -> list[list[float]]:
        return (await self.embedder.aembed_images(images)).tolist()  # type: ignore[no-any-return]


class MSearchAudioEmbeddings(_TextSide):
    """Audio and texts in one vector space (CLAP), for LangChain.

    ``embed_audio`` takes paths (wav, flac, ogg, mp3 ...), bytes or ``(array, sample_rate)``
    pairs; audio is mixed to mono, resampled to the model's rate, and clips longer than its
    window are embedded as the mean of fixed windows. Vectors are L2-normalized.

    Example:
        .. code-block:: python

            from langchain_msearch import MSearchAudioEmbeddings

            embeddings = MSearchAudioEmbeddings(model="laion/clap-htsat-unfused")
            clip_vectors = embeddings.embed_audio(["bark.wav", "rain.flac"])
            query_vector = embeddings.embed_query("a dog barking")
    """

    def __init__(self, model: str, backend: str = "transformers", **options: Any) -> None:
        self.model = model
        self.backend = backend
        self.embedder: AudioEmbedder = audio_embedder(model, backend, **options)

    def embed_audio(self, audios: Sequence[Any]) -> list[list[float]]:
        return self.embedder.embed_audio(audios).tolist()  # type: ignore[no-any-return]

    async def aembed_audio(self, audios: Sequence[Any]) -> list[list[float]]:
        return (await self.embedder.aembed_audio(audios)).tolist()  # type: ignore[no-any-return]
