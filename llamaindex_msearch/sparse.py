"""LlamaIndex sparse embeddings over msearch, and encoder functions for its Qdrant store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llama_index.core.base.embeddings.base_sparse import BaseSparseEmbedding, SparseEmbedding
from pydantic import Field, PrivateAttr

from msearch.protocols import SparseEmbedder
from msearch.secrets import without_secrets
from msearch.sparse import sparse_embedder

#: What llama-index's ``QdrantVectorStore`` takes as ``sparse_doc_fn`` / ``sparse_query_fn``.
SparseEncoder = Callable[[list[str]], tuple[list[list[int]], list[list[float]]]]


class MSearchSparseEmbedding(BaseSparseEmbedding):
    """Local sparse (lexical) embeddings for LlamaIndex, as ``{token id: weight}`` dicts.

    ``sparse_doc_fn`` and ``sparse_query_fn`` give the same vectors in the shape that
    llama-index's ``QdrantVectorStore(enable_hybrid=True, ...)`` takes.

    Example:
        .. code-block:: python

            from llama_index.vector_stores.qdrant import QdrantVectorStore
            from llamaindex_msearch import MSearchSparseEmbedding
            from qdrant_client import QdrantClient

            sparse = MSearchSparseEmbedding("BAAI/bge-m3", backend="transformers")
            store = QdrantVectorStore(
                collection_name="docs",
                client=QdrantClient(location=":memory:"),
                enable_hybrid=True,
                sparse_doc_fn=sparse.sparse_doc_fn,
                sparse_query_fn=sparse.sparse_query_fn,
            )
    """

    backend: str | None = Field(default=None, description="msearch backend (default: the model's)")
    options: dict[str, Any] = Field(default_factory=dict, description="backend options")
    _embedder: SparseEmbedder = PrivateAttr()

    def __init__(
        self,
        model: str,
        backend: str | None = None,
        embed_batch_size: int = 1024,
        **options: Any,
    ) -> None:
        super().__init__(  # type: ignore[call-arg]  # pydantic fields declared above
            model_name=model,
            backend=backend,
            options=without_secrets(options),
            embed_batch_size=embed_batch_size,
        )
        self._embedder = sparse_embedder(model, backend, **options)

    @classmethod
    def class_name(cls) -> str:
        return "MSearchSparseEmbedding"

    @property
    def embedder(self) -> SparseEmbedder:
        return self._embedder

    def _get_query_embedding(self, query: str) -> SparseEmbedding:
        return self._embedder.embed_query_sparse(query).as_dict()

    async def _aget_query_embedding(self, query: str) -> SparseEmbedding:
        return (await self._embedder.aembed_query_sparse(query)).as_dict()

    def _get_text_embedding(self, text: str) -> SparseEmbedding:
        return self._get_text_embeddings([text])[0]

    async def _aget_text_embedding(self, text: str) -> SparseEmbedding:
        return (await self._aget_text_embeddings([text]))[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[SparseEmbedding]:
        return [vector.as_dict() for vector in self._embedder.embed_documents_sparse(texts)]

    async def _aget_text_embeddings(self, texts: list[str]) -> list[SparseEmbedding]:
        vectors = await self._embedder.aembed_documents_sparse(texts)
        return [vector.as_dict() for vector in vectors]

    # -- llama-index QdrantVectorStore encoders -------------------------------------------
    def sparse_doc_fn(self, texts: list[str]) -> tuple[list[list[int]], list[list[float]]]:
        """Documents' sparse vectors as (indices per text, values per text)."""
        return _split(self._embedder.embed_documents_sparse(texts))

    def sparse_query_fn(self, texts: list[str]) -> tuple[list[list[int]], list[list[float]]]:
        """Queries' sparse vectors as (indices per text, values per text)."""
        return _split([self._embedder.embed_query_sparse(text) for text in texts])


def sparse_encoders(
    model: str, backend: str | None = None, **options: Any
) -> tuple[SparseEncoder, SparseEncoder]:
    """``(sparse_doc_fn, sparse_query_fn)`` for llama-index's ``QdrantVectorStore``.

    >>> from llamaindex_msearch.sparse import sparse_encoders
    >>> doc_fn, query_fn = sparse_encoders("BAAI/bge-m3")  # doctest: +SKIP
    """
    sparse = MSearchSparseEmbedding(model, backend, **options)
    return sparse.sparse_doc_fn, sparse.sparse_query_fn


def _split(vectors: list[Any]) -> tuple[list[list[int]], list[list[float]]]:
    return (
        [vector.indices.tolist() for vector in vectors],
        [vector.values.tolist() for vector in vectors],
    )
