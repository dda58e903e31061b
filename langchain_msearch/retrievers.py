"""LangChain retriever over an ``MSearchVectorStore``: dense, sparse or hybrid, then rerank."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field, model_validator

from langchain_msearch.vectorstores import MSearchVectorStore
from msearch.errors import InvalidInputError
from msearch.store import Hit
from msearch.store.text import MODES, arerank_hits, as_reranker, candidates, rerank_hits

SCORE_KEY = "score"
SOURCE_KEY = "source"
MODALITY_KEY = "modality"


class MSearchRetriever(BaseRetriever):
    """Search an ``MSearchVectorStore`` by ``mode`` ("dense", "sparse" or "hybrid").

    ``k`` results (``k=`` also works per call, as do ``filter=`` and ``mode=``); with a
    ``reranker`` (``MSearchReranker``, ``msearch.rerank.reranker(...)`` or anything with
    ``rerank(query, documents, top_n)``), ``fetch_k`` candidates are fetched and the best ``k``
    by the reranker kept. Each Document's metadata is the caller's, plus ``score`` (the
    search's or the reranker's), ``source`` and ``modality`` where the caller's metadata does
    not already hold those keys.

    Example:
        .. code-block:: python

            from langchain_msearch import MSearchEmbeddings, MSearchRetriever, MSearchVectorStore

            store = MSearchVectorStore(
                embedding=MSearchEmbeddings(model="sentence-transformers/all-MiniLM-L6-v2"),
                location=":memory:",
            )
            store.add_texts(["Qdrant stores vectors.", "Cats purr."])
            retriever = MSearchRetriever(vectorstore=store, k=1)
            docs = retriever.invoke("Where do vectors live?")
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    vectorstore: MSearchVectorStore
    mode: str = "dense"
    k: int = 4
    filter: Any | None = None
    reranker: Any | None = None
    fetch_k: int | None = None
    fusion: str = "rrf"
    search_kwargs: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> MSearchRetriever:
        if self.mode not in MODES:
            raise InvalidInputError(f"mode must be one of {MODES}, got {self.mode!r}")
        if isinstance(self.k, bool) or self.k < 1:
            raise InvalidInputError(f"k must be a positive integer, got {self.k!r}")
        if self.reranker is not None:
            as_reranker(self.reranker)
        return self

    def _options(self, kwargs: dict[str, Any]) -> tuple[int, Any, str, int]:
        k = kwargs.get("k", self.k)
        fetch = candidates(k, kwargs.get("fetch_k", self.fetch_k), self.reranker is not None)
        return k, kwargs.get("filter", self.filter), kwargs.get("mode", self.mode), fetch

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        k, filter, mode, fetch = self._options(kwargs)
        hits = self.vectorstore.search_hits(query, fetch, filter, mode, self.fusion)
        if self.reranker is not None:
            hits = rerank_hits(as_reranker(self.reranker), query, hits, k)
        return [_document(hit) for hit in hits[:k]]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        k, filter, mode, fetch = self._options(kwargs)
        hits = await self.vectorstore.asearch_hits(query, fetch, filter, mode, self.fusion)
        if self.reranker is not None:
            hits = await arerank_hits(as_reranker(self.reranker), query, hits, k)
        return [_document(hit) for hit in hits[:k]]


def _document(hit: Hit) -> Document:
    metadata = dict(hit.metadata)
    metadata.setdefault(SCORE_KEY, hit.score)
    if hit.source is not None:
        metadata.setdefault(SOURCE_KEY, hit.source)
    if hit.modality is not None:
        metadata.setdefault(MODALITY_KEY, hit.modality)
    return Document(id=hit.id, page_content=hit.content or "", metadata=metadata)
