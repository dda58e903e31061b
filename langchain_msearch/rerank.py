"""LangChain document compressor over msearch's rerankers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import Callbacks
from langchain_core.documents import BaseDocumentCompressor, Document
from pydantic import ConfigDict, Field, PrivateAttr

from msearch.datatypes import RerankResult
from msearch.protocols import Reranker
from msearch.rerank import adapter_reranker
from msearch.secrets import without_secrets


class MSearchReranker(BaseDocumentCompressor):
    """Rerank retrieved documents with a local cross-encoder or LLM reranker.

    Use it as the ``base_compressor`` of a ``ContextualCompressionRetriever``. It returns the
    best ``top_n`` documents (all when None) whose relevance, in 0..1 on every backend, is at
    least ``score_threshold``, best first, as copies with ``relevance_score`` in their metadata;
    the caller's documents are never changed. ``options`` go to the backend (``batch_size``,
    ``device``, ``url`` ...); pass ``reranker=`` to share an already built msearch reranker.

    Example:
        .. code-block:: python

            from langchain_classic.retrievers import ContextualCompressionRetriever
            from langchain_msearch import MSearchReranker

            compressor = MSearchReranker(model="cross-encoder/ms-marco-MiniLM-L-6-v2", top_n=3)
            retriever = ContextualCompressionRetriever(
                base_compressor=compressor, base_retriever=vector_store.as_retriever()
            )
            docs = retriever.invoke("Where do cats purr?")
            docs[0].metadata["relevance_score"]
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model: str = Field(description="model name or local folder")
    backend: str = Field(default="sentence-transformers", description="msearch backend name")
    top_n: int | None = Field(default=3, ge=1, description="documents to keep; None keeps all")
    score_threshold: float | None = Field(
        default=None, description="drop documents whose relevance score is below this"
    )
    options: dict[str, Any] = Field(default_factory=dict, description="backend options")
    _reranker: Reranker = PrivateAttr()

    def __init__(
        self,
        model: str | None = None,
        backend: str = "sentence-transformers",
        *,
        top_n: int | None = 3,
        score_threshold: float | None = None,
        reranker: Reranker | None = None,
        **options: Any,
    ) -> None:
        model, built = adapter_reranker("MSearchReranker", model, backend, reranker, options)
        super().__init__(  # type: ignore[call-arg]  # pydantic fields declared above
            model=model,
            backend=backend,
            top_n=top_n,
            score_threshold=score_threshold,
            options=without_secrets(options),
        )
        self._reranker = built

    @property
    def reranker(self) -> Reranker:
        return self._reranker

    def compress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[Document]:
        """The best documents for ``query``, best first, as scored copies."""
        texts = [document.page_content for document in documents]
        return self._select(documents, self._reranker.rerank(query, texts, self.top_n))

    async def acompress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[Document]:
        """The async twin of ``compress_documents``; the caller's event loop is never blocked."""
        texts = [document.page_content for document in documents]
        return self._select(documents, await self._reranker.arerank(query, texts, self.top_n))

    def _select(self, documents: Sequence[Document], ranked: list[RerankResult]) -> list[Document]:
        return [
            documents[result.index].model_copy(
                update={
                    "metadata": {
                        **documents[result.index].metadata,
                        "relevance_score": result.score,
                    }
                }
            )
            for result in ranked
            if self.score_threshold is None or result.score >= self.score_threshold
        ]
