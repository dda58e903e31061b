"""LlamaIndex embeddings over msearch's embedders: text models, and image-text models (CLIP,
SigLIP) as a ``MultiModalEmbedding``."""

from __future__ import annotations

from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.embeddings.multi_modal_base import MultiModalEmbedding
from llama_index.core.schema import ImageType
from pydantic import Field, PrivateAttr

from msearch.backends.base import ImageEmbedder, TextEmbedder
from msearch.embeddings import text_embedder
from msearch.errors import InvalidInputError
from msearch.models import Modality
from msearch.multimodal import image_embedder, model_modality

#: LlamaIndex's own batches are cut this large, since msearch sorts and batches by length itself.
_TEXT_BATCH = 1024
#: Images are decoded per LlamaIndex batch, so their batches stay smaller.
_IMAGE_BATCH = 256
_DEFAULT_BACKEND = {Modality.TEXT: "sentence-transformers", Modality.IMAGE: "transformers"}


class _TextTower(BaseEmbedding):
    """LlamaIndex's text API over an msearch embedder's ``embed_query``/``embed_documents``.

    The shared base of ``MSearchEmbedding`` and ``MSearchAudioEmbedding``; not used directly.
    """

    backend: str = Field(default="sentence-transformers", description="msearch backend name")
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


class MSearchEmbedding(_TextTower, MultiModalEmbedding):
    """Local embeddings for LlamaIndex on any msearch backend: text models, and image-text
    models (CLIP, SigLIP/SigLIP2) as a ``MultiModalEmbedding``.

    An image model is recognized by the registry or by a local folder's config.json; pass
    ``modality="image"`` for any other. It embeds images (paths, ``BytesIO``, bytes, PIL images,
    arrays, URLs) with ``get_image_embedding`` and texts through its text tower, into one
    space, so it can be ``MultiModalVectorStoreIndex``'s ``image_embed_model``. Its default
    backend is ``"transformers"``; a text model's is ``"sentence-transformers"``. A text model
    refuses images with ``InvalidInputError``. Audio models have ``MSearchAudioEmbedding``.

    Example:
        .. code-block:: python

            from llama_index.core import Settings
            from llamaindex_msearch import MSearchEmbedding

            Settings.embed_model = MSearchEmbedding(model="sentence-transformers/all-MiniLM-L6-v2")
            vector = Settings.embed_model.get_query_embedding("Where do vectors live?")

            clip = MSearchEmbedding(model="openai/clip-vit-base-patch32")
            image_vector = clip.get_image_embedding("cat.jpg")
            query_vector = clip.get_query_embedding("a photo of a cat")
    """

    modality: str = Field(default="text", description="text or image")

    def __init__(
        self,
        model: str,
        backend: str | None = None,
        embed_batch_size: int | None = None,
        modality: str | None = None,
        **options: Any,
    ) -> None:
        kind = Modality(modality) if modality else model_modality(model)
        if kind is Modality.AUDIO:
            raise InvalidInputError(
                f"{model} is an audio model: use llamaindex_msearch.MSearchAudioEmbedding"
            )
        image = kind is Modality.IMAGE
        backend = backend or _DEFAULT_BACKEND[kind]
        super().__init__(  # type: ignore[call-arg]  # pydantic fields declared above
            model_name=model,
            backend=backend,
            modality=kind.value,
            options=options,
            embed_batch_size=embed_batch_size or (_IMAGE_BATCH if image else _TEXT_BATCH),
        )
        if image:
            self._embedder = image_embedder(model, backend, **options)
        else:
            self._embedder = text_embedder(model, backend, **options)

    @classmethod
    def class_name(cls) -> str:
        return "MSearchEmbedding"

    @property
    def embedder(self) -> TextEmbedder:
        """The msearch embedder: an ``ImageEmbedder`` for an image model."""
        return self._embedder

    def _images(self) -> ImageEmbedder:
        if self.modality != Modality.IMAGE:
            raise InvalidInputError(
                f"{self.model_name} is a text model and cannot embed images; use an image-text "
                "model such as openai/clip-vit-base-patch32 (or pass modality='image')"
            )
        return self._embedder  # type: ignore[return-value]  # built by image_embedder

    def _get_image_embedding(self, img_file_path: ImageType) -> Embedding:
        return self._get_image_embeddings([img_file_path])[0]

    async def _aget_image_embedding(self, img_file_path: ImageType) -> Embedding:
        return (await self._aget_image_embeddings([img_file_path]))[0]

    def _get_image_embeddings(self, img_file_paths: list[ImageType]) -> list[Embedding]:
        return self._images().embed_images(img_file_paths).tolist()  # type: ignore[no-any-return]

    async def _aget_image_embeddings(self, img_file_paths: list[ImageType]) -> list[Embedding]:
        vectors = await self._images().aembed_images(img_file_paths)
        return vectors.tolist()  # type: ignore[no-any-return]
