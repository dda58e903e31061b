"""A preconfigured stock ``langchain_qdrant.QdrantVectorStore`` for users who keep that class.

Its collections keep langchain-qdrant's own payload format (``page_content``/``metadata``,
vectors ``""`` and ``langchain-sparse``), not msearch's schema: use ``MSearchVectorStore`` for a
collection that LlamaIndex and the ``msearch`` command also read.
"""

from __future__ import annotations

import os
from typing import Any

from langchain_core.embeddings import Embeddings
from langchain_qdrant import QdrantVectorStore, RetrievalMode, SparseEmbeddings, SparseVector
from qdrant_client import QdrantClient, models

from msearch.adapters.models import as_sparse_embedder
from msearch.protocols import SparseEmbedder
from msearch.store import Connection, own_client


def qdrant_vectorstore(
    embedding: Embeddings,
    collection_name: str = "langchain",
    *,
    sparse_embedding: Any | None = None,
    location: str | None = None,
    path: str | os.PathLike[str] | None = None,
    url: str | None = None,
    api_key: str | None = None,
    client: QdrantClient | None = None,
    https: bool | None = None,
    timeout: int | None = None,
    prefer_grpc: bool = False,
    shard_number: int | None = None,
    replication_factor: int | None = None,
    **store_options: Any,
) -> QdrantVectorStore:
    """A ``langchain_qdrant.QdrantVectorStore``: hybrid (dense + msearch sparse) when
    ``sparse_embedding`` is given, dense otherwise; its collection is created if missing. It
    gets a client of its own: close it with ``store.client.close()`` when done.

    Example:
        .. code-block:: python

            from langchain_msearch import MSearchEmbeddings
            from langchain_msearch.qdrant import qdrant_vectorstore

            store = qdrant_vectorstore(
                MSearchEmbeddings(model="sentence-transformers/all-MiniLM-L6-v2"),
                location=":memory:",
            )
            store.add_texts(["Qdrant stores vectors."])
    """
    if client is None:  # the returned store's alone: close store.client
        client = own_client(
            Connection(
                location=location,
                path=path,
                url=url,
                api_key=api_key,
                https=https,
                timeout=timeout,
                prefer_grpc=prefer_grpc,
            )
        )
    sparse = None if sparse_embedding is None else _stock_sparse(sparse_embedding)
    dense_name = store_options.pop("vector_name", "")
    sparse_name = store_options.pop("sparse_vector_name", "langchain-sparse")
    if not client.collection_exists(collection_name):
        client.create_collection(
            collection_name=collection_name,
            vectors_config={
                dense_name: models.VectorParams(
                    size=_dimension(embedding),
                    distance=models.Distance.COSINE,
                )
            },
            sparse_vectors_config=(
                {sparse_name: models.SparseVectorParams(modifier=_modifier(sparse))}
                if sparse is not None
                else None
            ),
            shard_number=shard_number,
            replication_factor=replication_factor,
        )
    return QdrantVectorStore(
        client=client,
        collection_name=collection_name,
        embedding=embedding,
        retrieval_mode=RetrievalMode.HYBRID if sparse is not None else RetrievalMode.DENSE,
        vector_name=dense_name,
        sparse_embedding=sparse,
        sparse_vector_name=sparse_name,
        **store_options,
    )


def _dimension(embedding: Embeddings) -> int:
    """The embedding size: declared by msearch's models, else measured on a probe text."""
    for owner in (getattr(embedding, "embedder", None), embedding):
        dim = getattr(owner, "dim", None)
        if isinstance(dim, int) and dim > 0:
            return dim
    return len(embedding.embed_query("dimension probe"))


def _modifier(sparse: SparseEmbeddings) -> models.Modifier | None:
    """Qdrant's IDF modifier for a sparse model whose weights need it (msearch's BM25)."""
    needs_idf = getattr(getattr(sparse, "embedder", None), "idf", False)
    return models.Modifier.IDF if needs_idf else None


def _stock_sparse(model: Any) -> SparseEmbeddings:
    """A langchain-qdrant ``SparseEmbeddings`` for ``model`` (msearch's, or already one)."""
    if isinstance(model, SparseEmbeddings):
        return model
    return _StockSparse(as_sparse_embedder(model))


class _StockSparse(SparseEmbeddings):
    """msearch's sparse model as langchain-qdrant's ``SparseEmbeddings``."""

    def __init__(self, embedder: SparseEmbedder) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[SparseVector]:
        return [_convert(v) for v in self.embedder.embed_documents_sparse(texts)]

    def embed_query(self, text: str) -> SparseVector:
        return _convert(self.embedder.embed_query_sparse(text))

    async def aembed_documents(self, texts: list[str]) -> list[SparseVector]:
        return [_convert(v) for v in await self.embedder.aembed_documents_sparse(texts)]

    async def aembed_query(self, text: str) -> SparseVector:
        return _convert(await self.embedder.aembed_query_sparse(text))


def _convert(vector: Any) -> SparseVector:
    return SparseVector(indices=vector.indices.tolist(), values=vector.values.tolist())
