"""LangChain ``Embeddings`` for image-text (CLIP, SigLIP) and audio-text (CLAP) models.

They are ``MSearchEmbeddings`` whose text methods use the model's text tower; ``embed_image`` and
``embed_audio`` embed media into the same space, so a text query finds images or sounds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from pydantic import Field

from langchain_msearch.embeddings import MSearchEmbeddings
from msearch.multimodal import audio_embedder, image_embedder
from msearch.protocols import AudioEmbedder, ImageEmbedder


class MSearchImageEmbeddings(MSearchEmbeddings):
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

    backend: str = Field(default="transformers", description="msearch backend name")
    _build: ClassVar[Callable[..., Any]] = staticmethod(image_embedder)

    @property
    def embedder(self) -> ImageEmbedder:
        return self._embedder  # type: ignore[no-any-return]

    def embed_image(self, images: Sequence[Any]) -> list[list[float]]:
        return self.embedder.embed_images(images).tolist()  # type: ignore[no-any-return]

    async def aembed_image(self, images: Sequence[Any]) -> list[list[float]]:
        return (await self.embedder.aembed_images(images)).tolist()  # type: ignore[no-any-return]


class MSearchAudioEmbeddings(MSearchEmbeddings):
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

    backend: str = Field(default="transformers", description="msearch backend name")
    _build: ClassVar[Callable[..., Any]] = staticmethod(audio_embedder)

    @property
    def embedder(self) -> AudioEmbedder:
        return self._embedder  # type: ignore[no-any-return]

    def embed_audio(self, audios: Sequence[Any]) -> list[list[float]]:
        return self.embedder.embed_audio(audios).tolist()  # type: ignore[no-any-return]

    async def aembed_audio(self, audios: Sequence[Any]) -> list[list[float]]:
        return (await self.embedder.aembed_audio(audios)).tolist()  # type: ignore[no-any-return]
