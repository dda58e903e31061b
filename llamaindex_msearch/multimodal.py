"""LlamaIndex embeddings for image-text (CLIP, SigLIP) and audio-text (CLAP) models.

``MSearchImageEmbedding`` is a ``MultiModalEmbedding``, so ``MultiModalVectorStoreIndex`` can
use it as its ``image_embed_model``; ``MSearchAudioEmbedding`` adds ``get_audio_embedding``
(LlamaIndex has no audio embedding base class).
"""

from __future__ import annotations

from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.embeddings.multi_modal_base import MultiModalEmbedding
from llama_index.core.schema import ImageType
from pydantic import Field, PrivateAttr

from msearch.backends.base import AudioEmbedder, ImageEmbedder, TextEmbedder
from msearch.multimodal import audio_embedder, image_embedder


class _TextSide(BaseEmbedding):
    """Text through the model's text tower; msearch batches by length itself."""

    backend: str = Field(default="transformers", description="msearch backend name")
    options: dict[str, Any] = Field(default_factory=dict, description="backend options")
    _embedder: TextEmbedder = PrivateAttr()

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._embedder.embed_query(query).tolist()  # type: ignore[no-any-return]

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return (await self._embedder.aembed_query(query)).tolist()  # type: ignore[no-any-return]

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._get_text_embeddings([text])[0]

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return (await self._aget_text_embeddings([text]))[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self._embedder.embed_documents(texts).tolist()  # type: ignore[no-any-return]

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return (await self._embedder.aembed_documents(texts)).tolist()  # type: ignore[no-any-return]


class MSearchImageEmbedding(_TextSide, MultiModalEmbedding):
    """Images and texts in one vector space (CLIP, SigLIP/SigLIP2), for LlamaIndex.

    Images may be paths, ``BytesIO``, bytes, PIL images, arrays or URLs. Vectors are
    L2-normalized.

    Example:
        .. code-block:: python

            from llamaindex_msearch import MSearchImageEmbedding

            embed_model = MSearchImageEmbedding(model="openai/clip-vit-base-patch32")
            image_vector = embed_model.get_image_embedding("cat.jpg")
            query_vector = embed_model.get_query_embedding("a photo of a cat")
    """

    _embedder: ImageEmbedder = PrivateAttr()

    def __init__(
        self,
        model: str,
        backend: str = "transformers",
        embed_batch_size: int = 256,
        **options: Any,
    ) -> None:
        super().__init__(  # type: ignore[call-arg]  # pydantic fields declared above
            model_name=model, backend=backend, options=options, embed_batch_size=embed_batch_size
        )
        self._embedder = image_embedder(model, backend, **options)

    @classmethod
    def class_name(cls) -> str:
        return "MSearchImageEmbedding"

    @property
    def embedder(self) -> ImageEmbedder:
        return self._embedder

    def _get_image_embedding(self, img_file_path: ImageType) -> Embedding:
        return self._get_image_embeddings([img_file_path])[0]

    async def _aget_image_embedding(self, img_file_path: ImageType) -> Embedding:
        return (await self._aget_image_embeddings([img_file_path]))[0]

    def _get_image_embeddings(self, img_file_paths: list[ImageType]) -> list[Embedding]:
        return self._embedder.embed_images(img_file_paths).tolist()  # type: ignore[no-any-return]

    async def _aget_image_embeddings(self, img_file_paths: list[ImageType]) -> list[Embedding]:
        vectors = await self._embedder.aembed_images(img_file_paths)
        return vectors.tolist()  # type: ignore[no-any-return]


class MSearchAudioEmbedding(_TextSide):
    """Audio and texts in one vector space (CLAP), for LlamaIndex.

    ``get_audio_embedding`` takes a path, bytes, ``BytesIO`` or ``(array, sample_rate)``;
    clips longer than the model's window are embedded as the mean of fixed windows.

    Example:
        .. code-block:: python

            from llamaindex_msearch import MSearchAudioEmbedding

            embed_model = MSearchAudioEmbedding(model="laion/clap-htsat-unfused")
            clip_vector = embed_model.get_audio_embedding("bark.wav")
            query_vector = embed_model.get_query_embedding("a dog barking")
    """

    _embedder: AudioEmbedder = PrivateAttr()

    def __init__(
        self,
        model: str,
        backend: str = "transformers",
        embed_batch_size: int = 256,
        **options: Any,
    ) -> None:
        super().__init__(  # type: ignore[call-arg]  # pydantic fields declared above
            model_name=model, backend=backend, options=options, embed_batch_size=embed_batch_size
        )
        self._embedder = audio_embedder(model, backend, **options)

    @classmethod
    def class_name(cls) -> str:
        return "MSearchAudioEmbedding"

    @property
    def embedder(self) -> AudioEmbedder:
        return self._embedder

    def get_audio_embedding(self, audio: Any) -> Embedding:
        return self.get_audio_embedding_batch([audio])[0]

    async def aget_audio_embedding(self, audio: Any) -> Embedding:
        return (await self.aget_audio_embedding_batch([audio]))[0]

    def get_audio_embedding_batch(self, audios: list[Any]) -> list[Embedding]:
        return self._embedder.embed_audio(audios).tolist()  # type: ignore[no-any-return]

    async def aget_audio_embedding_batch(self, audios: list[Any]) -> list[Embedding]:
        return (await self._embedder.aembed_audio(audios)).tolist()  # type: ignore[no-any-return]
