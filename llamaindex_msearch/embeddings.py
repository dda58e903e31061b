"""LlamaIndex ``BaseEmbedding`` over msearch's text embedders."""

from __future__ import annotations

from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from pydantic import Field, PrivateAttr

from msearch.backends.base import TextEmbedder
from msearch.embeddings import text_embedder


class MSearchEmbedding(BaseEmbedding):
    """Local text embeddings for LlamaIndex, on any msearch backend.

    msearch batches by length itself, so LlamaIndex's own batches are made large.

    Example:
        .. code-block:: python

            from llama_index.core import Settings
            from llamaindex_msearch import MSearchEmbedding

            Settings.embed_model = MSearchEmbedding(model="sentence-transformers/all-MiniLM-L6-v2")
            vector = Settings.embed_model.get_query_embedding("Where do vectors live?")
    """

    backend: str = Field(default="sentence-transformers", description="msearch backend name")
    options: dict[str, Any] = Field(default_factory=dict, description="backend options")
    _embedder: TextEmbedder = PrivateAttr()

    def __init__(
        self,
        model: str,
        backend: str = "sentence-transformers",
        embed_batch_size: int = 1024,
        **options: Any,
    ) -> None:
        super().__init__(  # type: ignore[call-arg]  # pydantic fields declared above
            model_name=model, backend=backend, options=options, embed_batch_size=embed_batch_size
        )
        self._embedder = text_embedder(model, backend, **options)

    @classmethod
    def class_name(cls) -> str:
        return "MSearchEmbedding"

    @property
    def embedder(self) -> TextEmbedder:
        return self._embedder

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
