"""LangChain retriever over an ``MSearchVectorStore``: dense, sparse or hybrid, then rerank."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field, ValidationError, model_validator

from langchain_msearch.vectorstores import MSearchVectorStore
from msearch.adapters.text import (
    arerank_hits,
    as_reranker,
    check_mode,
    check_options,
    rerank_hits,
)
from msearch.errors import InvalidInputError
from msearch.hits import check_group_by, fetch_size, result_metadata, results
from msearch.store import Hit


class MSearchRetriever(BaseRetriever):
    """Search an ``MSearchVectorStore`` by ``mode`` ("dense", "sparse" or "hybrid").

    ``k`` results; ``filter``, ``mode``, ``fusion``, ``score_threshold`` (on the search's
    score) and ``fetch_k`` are fields, entries of ``search_kwargs``, or per-call keywords (the
    later wins); any other key is refused by name. With a ``reranker`` (``MSearchReranker``,
    ``msearch.rerank.reranker(...)`` or anything with ``rerank(query, documents, top_n)``),
    ``fetch_k`` candidates are fetched and the best ``k`` by the reranker kept, scored on the
    text alone (as the compressor and LlamaIndex's ``MSearchRerank`` do). Each Document's
    metadata is the caller's, plus ``source`` and ``modality`` where the caller's metadata does
    not hold those keys, and msearch's result keys: ``score`` (the search's) and, when
    reranked, ``relevance_score`` (the reranker's, 0..1), which always say msearch's numbers.
    ``group_by="source"`` returns files instead of chunks: each file's best chunk (reranked
    first, with a reranker), with ``matches`` in its metadata, folded from ``fetch_k`` (default
    8 per result) chunk hits.

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

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    vectorstore: MSearchVectorStore
    mode: str = "dense"
    k: int = 4
    filter: Any | None = None
    reranker: Any | None = None
    fetch_k: int | None = None
    fusion: str = "rrf"
    score_threshold: float | None = None
    group_by: str | None = None
    search_kwargs: dict[str, Any] = Field(default_factory=dict)

    def __init__(self, **fields: Any) -> None:
        try:
            super().__init__(**fields)
        except ValidationError as err:  # pydantic's wrapper: report msearch's own error
            raise InvalidInputError(f"MSearchRetriever: {err}") from err

    @model_validator(mode="after")
    def _check(self) -> MSearchRetriever:
        check_options(self.search_kwargs, _OPTIONS, "MSearchRetriever search_kwargs")
        # at construction, as LlamaIndex's retriever does: hybrid needs the store's sparse model
        check_mode(self.mode, self.vectorstore.sparse_embedding)
        if isinstance(self.k, bool) or self.k < 1:
            raise InvalidInputError(f"k must be a positive integer, got {self.k!r}")
        if self.reranker is not None:
            as_reranker(self.reranker)
        check_group_by(self.search_kwargs.get("group_by", self.group_by))
        return self

    def _options(self, kwargs: dict[str, Any]) -> tuple[int, str | None, dict[str, Any]]:
        """``k``, ``group_by`` and the search's options: fields, then search_kwargs, then the
        call's."""
        check_options(kwargs, _OPTIONS, "MSearchRetriever")
        chosen = {
            "k": self.k,
            "filter": self.filter,
            "mode": self.mode,
            "fusion": self.fusion,
            "score_threshold": self.score_threshold,
            "fetch_k": self.fetch_k,
            "group_by": self.group_by,
            **self.search_kwargs,
            **kwargs,
        }
        k = chosen.pop("k")
        group_by = chosen.pop("group_by")
        check_group_by(group_by)
        fetch_k = chosen.pop("fetch_k")
        chosen["k"] = fetch_size(k, fetch_k, self.reranker is not None, group_by)
        return k, group_by, chosen

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        k, group_by, options = self._options(kwargs)
        hits = self.vectorstore.search_hits(query, **options)
        ranked = None
        if self.reranker is not None:
            ranked = rerank_hits(as_reranker(self.reranker), query, hits, len(hits))
        return _documents(hits, ranked, k, group_by)

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        k, group_by, options = self._options(kwargs)
        hits = await self.vectorstore.asearch_hits(query, **options)
        ranked = None
        if self.reranker is not None:
            ranked = await arerank_hits(as_reranker(self.reranker), query, hits, len(hits))
        return _documents(hits, ranked, k, group_by)


_OPTIONS = ("k", "filter", "mode", "fusion", "score_threshold", "fetch_k", "group_by")


def _documents(
    searched: list[Hit], ranked: list[Hit] | None, k: int, group_by: str | None
) -> list[Document]:
    documents = []
    for hit, search_score, matches in results(searched, ranked, k, group_by):
        metadata, _ = result_metadata(hit, search_score, matches)
        documents.append(Document(id=hit.id, page_content=hit.content or "", metadata=metadata))
    return documents
