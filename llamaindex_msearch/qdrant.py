"""A preconfigured stock llama-index ``QdrantVectorStore`` for users who keep that class.

Its collections keep llama-index's own payload format (``_node_content``, vectors
``text-dense`` / ``text-sparse-new``), not msearch's schema: use ``MSearchVectorStore`` for a
collection that LangChain and the ``msearch`` command also read.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any

from llama_index.vector_stores.qdrant import QdrantVectorStore
from qdrant_client import AsyncQdrantClient, QdrantClient, models

from msearch.adapters.models import as_sparse_embedder
from msearch.protocols import SparseEmbedder
from msearch.store import Connection, own_client

SparseFn = Callable[[list[str]], tuple[list[list[int]], list[list[float]]]]


def qdrant_vector_store(
    collection_name: str = "llamaindex",
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
    """A ``llama_index.vector_stores.qdrant.QdrantVectorStore``, hybrid with msearch's sparse
    model when ``sparse_embedding`` is given (no fastembed needed), dense otherwise.

    It gets a client of its own (close it with ``store.client.close()`` when done; an embedded
    folder opens in one client per process). Its async methods work on every connection: a
    server gets an ``AsyncQdrantClient`` too; on an embedded client they run in a thread.

    Example:
        .. code-block:: python

            from llamaindex_msearch.qdrant import qdrant_vector_store
            from msearch.sparse import sparse_embedder

            store = qdrant_vector_store(
                "docs", location=":memory:", sparse_embedding=sparse_embedder("BAAI/bge-m3")
            )
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
    hybrid: dict[str, Any] = {}
    if sparse_embedding is not None:
        embedder = as_sparse_embedder(sparse_embedding)
        hybrid = {
            "enable_hybrid": True,
            "sparse_doc_fn": _sparse_fn(embedder, query=False),
            "sparse_query_fn": _sparse_fn(embedder, query=True),
        }
        if getattr(embedder, "idf", False):  # msearch's BM25: Qdrant supplies the IDF
            hybrid["sparse_config"] = models.SparseVectorParams(
                index=models.SparseIndexParams(), modifier=models.Modifier.IDF
            )
    if url is not None and "aclient" not in store_options:
        # a server serves both clients; LlamaIndex's async methods need their own
        store_options["aclient"] = AsyncQdrantClient(
            url=url, api_key=api_key, https=https, timeout=timeout, prefer_grpc=prefer_grpc
        )
    cls: type[Any] = (
        QdrantVectorStore if "aclient" in store_options else _ThreadedAsyncQdrantVectorStore
    )
    return cls(
        collection_name=collection_name,
        client=client,
        shard_number=shard_number,
        replication_factor=replication_factor,
        **hybrid,
        **store_options,
    )


class _ThreadedAsyncQdrantVectorStore(QdrantVectorStore):
    """The stock store on an embedded client, whose async methods need an async client that
    cannot share the embedded data: they run the sync methods in a worker thread instead."""

    async def async_add(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.add, *args, **kwargs)

    async def aquery(self, query: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.query, query, **kwargs)

    async def adelete(self, *args: Any, **kwargs: Any) -> None:
        await asyncio.to_thread(self.delete, *args, **kwargs)

    async def adelete_nodes(self, *args: Any, **kwargs: Any) -> None:
        await asyncio.to_thread(self.delete_nodes, *args, **kwargs)

    async def aget_nodes(self, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.get_nodes, *args, **kwargs)

    async def aclear(self) -> None:
        await asyncio.to_thread(self.clear)


def _sparse_fn(embedder: SparseEmbedder, *, query: bool) -> SparseFn:
    def encode(texts: list[str]) -> tuple[list[list[int]], list[list[float]]]:
        if query:
            vectors = [embedder.embed_query_sparse(text) for text in texts]
        else:
            vectors = embedder.embed_documents_sparse(texts)
        return [v.indices.tolist() for v in vectors], [v.values.tolist() for v in vectors]

    return encode
