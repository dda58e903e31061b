"""A preconfigured stock llama-index ``QdrantVectorStore`` for users who keep that class.

Its collections keep llama-index's own payload format (``_node_content``, vectors
``text-dense`` / ``text-sparse-new``), not msearch's schema: use ``MSearchVectorStore`` for a
collection that LangChain and the ``msearch`` command also read.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from llama_index.vector_stores.qdrant import QdrantVectorStore
from qdrant_client import QdrantClient

from msearch.backends.base import SparseEmbedder
from msearch.store.client import Connection, connect
from msearch.store.embedders import as_sparse_embedder

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

    Example:
        .. code-block:: python

            from llamaindex_msearch.qdrant import qdrant_vector_store
            from msearch.sparse import sparse_embedder

            store = qdrant_vector_store(
                "docs", location=":memory:", sparse_embedding=sparse_embedder("BAAI/bge-m3")
            )
    """
    if client is None:
        client = connect(
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
    return QdrantVectorStore(
        collection_name=collection_name,
        client=client,
        shard_number=shard_number,
        replication_factor=replication_factor,
        **hybrid,
        **store_options,
    )


def _sparse_fn(embedder: SparseEmbedder, *, query: bool) -> SparseFn:
    def encode(texts: list[str]) -> tuple[list[list[int]], list[list[float]]]:
        if query:
            vectors = [embedder.embed_query_sparse(text) for text in texts]
        else:
            vectors = embedder.embed_documents_sparse(texts)
        return [v.indices.tolist() for v in vectors], [v.values.tolist() for v in vectors]

    return encode
