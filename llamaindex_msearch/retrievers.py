"""LlamaIndex retriever over an ``MSearchVectorStore``: dense, sparse or hybrid, then rerank."""

from __future__ import annotations

import asyncio
from typing import Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle
from llama_index.core.vector_stores.types import MetadataFilters

from llamaindex_msearch.vector_store import MSearchVectorStore, to_node, to_qdrant_filter
from msearch.adapters.text import (
    MODES,
    arerank_hits,
    as_reranker,
    check_mode,
    check_options,
    check_query_model,
    rerank_hits,
    search,
)
from msearch.errors import InvalidInputError
from msearch.hits import check_group_by, fetch_size, result_metadata, results
from msearch.store import Hit

#: What LlamaIndex's BaseRetriever itself takes.
_BASE_OPTIONS = ("callback_manager", "object_map", "objects", "verbose")


class MSearchRetriever(BaseRetriever):
    """Search an ``MSearchVectorStore`` by ``mode`` ("dense", "sparse" or "hybrid").

    The same options as LangChain's ``MSearchRetriever``: ``k`` results, a ``filter`` (a dict
    over metadata keys, LlamaIndex ``MetadataFilters`` or a Qdrant ``Filter``), an optional
    ``reranker`` choosing the best ``k`` of ``fetch_k`` candidates. Queries are embedded with
    ``embed_model`` (default: the store's ``embed_model``, else ``Settings.embed_model``).
    ``NodeWithScore.score`` is the search's or the reranker's score; node metadata is the
    caller's, plus ``source`` and ``modality`` (hidden from the LLM and the embedder) where
    the caller's metadata does not already hold those keys. ``group_by="source"`` returns
    files instead of chunks: each file's best chunk (after reranking, with a reranker) with
    ``matches`` in its metadata, folded from ``fetch_k`` (default 8 per result) chunk hits.

    Example:
        .. code-block:: python

            from llamaindex_msearch import MSearchEmbedding, MSearchRetriever, MSearchVectorStore

            embed_model = MSearchEmbedding(model="sentence-transformers/all-MiniLM-L6-v2")
            store = MSearchVectorStore("notes", location=":memory:", embed_model=embed_model)
            retriever = MSearchRetriever(store, k=2)
            nodes = retriever.retrieve("Where do vectors live?")
    """

    def __init__(
        self,
        vector_store: MSearchVectorStore,
        embed_model: Any | None = None,
        *,
        mode: str = "dense",
        k: int = 4,
        filter: Any | None = None,
        reranker: Any | None = None,
        fetch_k: int | None = None,
        fusion: str = "rrf",
        group_by: str | None = None,
        **kwargs: Any,
    ) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise InvalidInputError(f"k must be a positive integer, got {k!r}")
        if mode not in MODES:
            raise InvalidInputError(f"mode must be one of {MODES}, got {mode!r}")
        check_mode(mode, vector_store.sparse_embedding)
        check_group_by(group_by)
        check_options(kwargs, _BASE_OPTIONS, "MSearchRetriever")
        super().__init__(**kwargs)
        self.vector_store = vector_store
        self._embed_model = embed_model
        self.mode = mode
        self.k = k
        self.filter = filter
        self.reranker = None if reranker is None else as_reranker(reranker)
        self.fetch_k = fetch_k
        self.fusion = fusion
        self.group_by = group_by

    @property
    def embed_model(self) -> Any:
        if self._embed_model is not None:
            return self._embed_model
        if self.vector_store.embed_model is not None:
            return self.vector_store.embed_model
        from llama_index.core import Settings

        return Settings.embed_model

    def _filter(self) -> Any:
        if isinstance(self.filter, MetadataFilters):
            return to_qdrant_filter(self.filter)
        return self.filter

    def _search(self, dense: Any, sparse: Any) -> list[Hit]:
        store = self.vector_store.store
        name = self.vector_store.vector_name
        if dense is not None and not check_query_model(
            store, name, len(dense), self.vector_store.embed_model
        ):
            return []
        if dense is None and store.schema is None:
            return []
        return search(
            store,
            self.mode,
            dense=dense,
            sparse=sparse,
            k=fetch_size(self.k, self.fetch_k, self.reranker is not None, self.group_by),
            filter=self._filter(),
            dense_name=name,
            sparse_name=self.vector_store.sparse_vector_name,
            fusion=self.fusion,
        )

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        query = query_bundle.query_str
        sparse_model = self.vector_store.sparse_embedding
        dense = self.embed_model.get_query_embedding(query) if self.mode != "sparse" else None
        sparse = (
            sparse_model.embed_query_sparse(query)
            if self.mode != "dense" and sparse_model is not None
            else None
        )
        hits = self._search(dense, sparse)
        ranked = None
        if self.reranker is not None:
            ranked = rerank_hits(self.reranker, query, hits, len(hits))
        return self._results(hits, ranked)

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        query = query_bundle.query_str
        sparse_model = self.vector_store.sparse_embedding
        dense = (
            await self.embed_model.aget_query_embedding(query) if self.mode != "sparse" else None
        )
        sparse = (
            await sparse_model.aembed_query_sparse(query)
            if self.mode != "dense" and sparse_model is not None
            else None
        )
        hits = await asyncio.to_thread(self._search, dense, sparse)
        ranked = None
        if self.reranker is not None:
            ranked = await arerank_hits(self.reranker, query, hits, len(hits))
        return self._results(hits, ranked)

    def _results(self, hits: list[Hit], ranked: list[Hit] | None) -> list[NodeWithScore]:
        return [
            _scored(hit, search_score, matches)
            for hit, search_score, matches in results(hits, ranked, self.k, self.group_by)
        ]


def _scored(
    hit: Hit, search_score: float | None = None, matches: int | None = None
) -> NodeWithScore:
    """A node with the metadata every msearch retriever shows (``msearch.hits``); the keys
    msearch adds are hidden from the LLM and the embedder."""
    node = to_node(hit)
    node.metadata, added = result_metadata(hit, search_score, matches)
    node.excluded_llm_metadata_keys.extend(added)
    node.excluded_embed_metadata_keys.extend(added)
    return NodeWithScore(node=node, score=hit.score)

