"""LangChain-Qdrant ``SparseEmbeddings`` over msearch's sparse embedders."""

from __future__ import annotations

from typing import Any

from langchain_qdrant import SparseEmbeddings, SparseVector

from msearch.datatypes import SparseVector as CoreSparseVector
from msearch.protocols import SparseEmbedder
from msearch.sparse import sparse_embedder


class MSearchSparseEmbeddings(SparseEmbeddings):
    """Local sparse (lexical) embeddings for langchain-qdrant's hybrid mode.

    With BGE-M3 on the ``"transformers"`` (or ``"flag"``) backend, the dense
    ``MSearchEmbeddings`` and this class share one loaded model, and the dense pass over a
    batch also yields its sparse vectors, so ``QdrantVectorStore`` in HYBRID mode runs the
    model once per batch.

    Example:
        .. code-block:: python

            from langchain_qdrant import QdrantVectorStore, RetrievalMode
            from langchain_msearch import MSearchEmbeddings, MSearchSparseEmbeddings

            store = QdrantVectorStore.from_texts(
                ["Qdrant stores vectors.", "Cats purr."],
                embedding=MSearchEmbeddings("BAAI/bge-m3", backend="transformers"),
                sparse_embedding=MSearchSparseEmbeddings("BAAI/bge-m3", backend="transformers"),
                retrieval_mode=RetrievalMode.HYBRID,
                location=":memory:",
                collection_name="docs",
            )
            store.similarity_search("where do vectors live?", k=1)
    """

    def __init__(self, model: str, backend: str | None = None, **options: Any) -> None:
        self.model = model
        self.backend = backend
        self.embedder: SparseEmbedder = sparse_embedder(model, backend, **options)

    def __repr__(self) -> str:
        return f"MSearchSparseEmbeddings(model={self.model!r}, backend={self.backend!r})"

    def embed_documents(self, texts: list[str]) -> list[SparseVector]:
        return [_to_langchain(vector) for vector in self.embedder.embed_documents_sparse(texts)]

    def embed_query(self, text: str) -> SparseVector:
        return _to_langchain(self.embedder.embed_query_sparse(text))

    async def aembed_documents(self, texts: list[str]) -> list[SparseVector]:
        vectors = await self.embedder.aembed_documents_sparse(texts)
        return [_to_langchain(vector) for vector in vectors]

    async def aembed_query(self, text: str) -> SparseVector:
        return _to_langchain(await self.embedder.aembed_query_sparse(text))


def _to_langchain(vector: CoreSparseVector) -> SparseVector:
    return SparseVector(indices=vector.indices.tolist(), values=vector.values.tolist())
