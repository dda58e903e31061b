"""LlamaIndex embeddings over msearch's embedders: text models, and image-text models (CLIP,
SigLIP) as a ``MultiModalEmbedding``."""

from __future__ import annotations

from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.embeddings.multi_modal_base import MultiModalEmbedding
from llama_index.core.schema import ImageType
from pydantic import Field, PrivateAttr

from msearch.embeddings import text_embedder
from msearch.errors import InvalidInputError
from msearch.models import Modality
from msearch.multimodal import image_embedder, model_modality
from msearch.protocols import ImageEmbedder, TextEmbedder
from msearch.secrets import without_secrets

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
    ``modality="image"`` for any other. It embeds images (paths, ``BytesIO``, bytes, PIL
    images, arrays, URLs) with ``get_image_embedding`` and texts through its text tower, into
    one space, so it can be ``MultiModalVectorStoreIndex``'s ``image_embed_model``. Its default
    backend is ``"transformers"``; a text model's is ``"sentence-transformers"``. A text model
    refuses images with ``InvalidInputError``. Audio models have ``MSearchAudioEmbedding``.

    ``query_instruction``, ``text_instruction``, ``max_length`` and ``normalize`` work as on
    ``HuggingFaceEmbedding`` (unset, the model's own prompts and limit apply); other options go
    to the backend, and ``to_dict()``/``from_dict()`` round-trip.

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
    query_instruction: str | None = Field(
        default=None, description="prompt before each query (default: the model's own)"
    )
    text_instruction: str | None = Field(
        default=None, description="prompt before each document (default: the model's own)"
    )
    max_length: int | None = Field(default=None, description="token limit (default: model's)")
    normalize: bool = Field(default=True, description="L2-normalize the vectors")

    def __init__(
        self,
        model: str | None = None,
        backend: str | None = None,
        embed_batch_size: int | None = None,
        modality: str | None = None,
        *,
        query_instruction: str | None = None,
        text_instruction: str | None = None,
        max_length: int | None = None,
        normalize: bool = True,
        model_name: str | None = None,
        options: dict[str, Any] | None = None,
        num_workers: int | None = None,
        embeddings_cache: Any = None,
        **more_options: Any,
    ) -> None:
        # model_name and an options dict are what to_dict() writes: from_dict() round-trips
        if model is not None and model_name is not None and model != model_name:
            raise InvalidInputError(f"model={model!r} and model_name={model_name!r} disagree")
        model = model or model_name
        if not model:
            raise InvalidInputError("MSearchEmbedding needs a model name or folder (model=...)")
        options = {**(options or {}), **more_options}
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
            options=without_secrets(options),
            query_instruction=query_instruction,
            text_instruction=text_instruction,
            max_length=max_length,
            normalize=normalize,
            num_workers=num_workers,
            embeddings_cache=embeddings_cache,
            embed_batch_size=embed_batch_size or (_IMAGE_BATCH if image else _TEXT_BATCH),
        )
        # HuggingFaceEmbedding's names for msearch's options; None leaves the model's own
        named = {
            "query_prompt": query_instruction,
            "document_prompt": text_instruction,
            "max_tokens": max_length,
            "normalize": None if normalize else False,
        }
        chosen = {**{k: v for k, v in named.items() if v is not None}, **options}
        build = image_embedder if image else text_embedder
        self._embedder = build(model, backend, **chosen)

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
