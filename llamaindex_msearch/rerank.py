"""LlamaIndex node postprocessor over msearch's rerankers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core.callbacks import CBEventType, EventPayload
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle
from pydantic import Field, PrivateAttr

from msearch.datatypes import RerankResult
from msearch.errors import InvalidInputError
from msearch.protocols import Reranker
from msearch.rerank import adapter_reranker
from msearch.secrets import without_secrets

RETRIEVAL_SCORE_KEY = "retrieval_score"


class MSearchRerank(BaseNodePostprocessor):
    """Rerank retrieved nodes with a local cross-encoder or LLM reranker.

    Keeps the best ``top_n`` nodes (all when None) whose relevance, in 0..1 on every backend,
    is at least ``score_threshold``, best first, with the relevance as their score. The node a
    retriever returned is not changed: each result holds a copy whose metadata keeps the
    retrieval score under ``"retrieval_score"`` (hidden from the LLM and the embedder). Nodes are
    scored on their text alone, as the LangChain classes score documents, so one collection gets
    the same relevance from both frameworks (LlamaIndex's own rerankers add embed-visible
    metadata to the text).
    Both ``postprocess_nodes`` and ``apostprocess_nodes`` are real (the async one never blocks
    the event loop). ``options`` go to the backend; pass ``reranker=`` to share a built one.

    Example:
        .. code-block:: python

            from llamaindex_msearch import MSearchRerank

            rerank = MSearchRerank(model="cross-encoder/ms-marco-MiniLM-L-6-v2", top_n=3)
            engine = index.as_query_engine(similarity_top_k=10, node_postprocessors=[rerank])
            response = engine.query("Where do cats purr?")
    """

    model: str = Field(description="model name or local folder")
    backend: str = Field(default="sentence-transformers", description="msearch backend name")
    top_n: int | None = Field(default=3, ge=1, description="nodes to keep; None keeps all")
    score_threshold: float | None = Field(
        default=None, description="drop nodes whose relevance score is below this"
    )
    keep_retrieval_score: bool = Field(
        default=True, description="keep the retrieval score in the node's metadata"
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
        keep_retrieval_score: bool = True,
        reranker: Reranker | None = None,
        options: dict[str, Any] | None = None,
        **more_options: Any,
    ) -> None:
        # ``options`` as a dict is how to_dict() writes them, so from_dict() round-trips
        options = {**(options or {}), **more_options}
        model, built = adapter_reranker("MSearchRerank", model, backend, reranker, options)
        super().__init__(  # type: ignore[call-arg]  # pydantic fields declared above
            model=model,
            backend=backend,
            top_n=top_n,
            score_threshold=score_threshold,
            keep_retrieval_score=keep_retrieval_score,
            options=without_secrets(options),
        )
        self._reranker = built

    @classmethod
    def class_name(cls) -> str:
        return "MSearchRerank"

    @property
    def reranker(self) -> Reranker:
        return self._reranker

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        query, texts = self._inputs(nodes, query_bundle)
        with self.callback_manager.event(
            CBEventType.RERANKING, payload=self._event_payload(nodes, query)
        ) as event:
            ranked = self._reranker.rerank(query, texts, self.top_n)
            kept = self._select(nodes, ranked)
            event.on_end(payload={EventPayload.NODES: kept})
        return kept

    async def _apostprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        query, texts = self._inputs(nodes, query_bundle)
        with self.callback_manager.event(
            CBEventType.RERANKING, payload=self._event_payload(nodes, query)
        ) as event:
            ranked = await self._reranker.arerank(query, texts, self.top_n)
            kept = self._select(nodes, ranked)
            event.on_end(payload={EventPayload.NODES: kept})
        return kept

    def _inputs(
        self, nodes: Sequence[NodeWithScore], query_bundle: QueryBundle | None
    ) -> tuple[str, list[str]]:
        if query_bundle is None:
            raise InvalidInputError("MSearchRerank needs the query: pass query_str or query_bundle")
        # the text alone, as the LangChain compressor and retriever score it, so one
        # collection gets the same relevance from both frameworks
        texts = [item.node.get_content(metadata_mode=MetadataMode.NONE) for item in nodes]
        return query_bundle.query_str, texts

    def _event_payload(self, nodes: list[NodeWithScore], query: str) -> dict[str, Any]:
        return {
            EventPayload.NODES: nodes,
            EventPayload.MODEL_NAME: self.model,
            EventPayload.QUERY_STR: query,
            EventPayload.TOP_K: self.top_n,
        }

    def _select(
        self, nodes: Sequence[NodeWithScore], ranked: list[RerankResult]
    ) -> list[NodeWithScore]:
        return [
            NodeWithScore(node=self._scored_copy(nodes[result.index]), score=result.score)
            for result in ranked
            if self.score_threshold is None or result.score >= self.score_threshold
        ]

    def _scored_copy(self, item: NodeWithScore) -> Any:
        if not self.keep_retrieval_score:
            return item.node
        node = item.node
        hidden = [RETRIEVAL_SCORE_KEY]
        return node.model_copy(
            update={
                "metadata": {**node.metadata, RETRIEVAL_SCORE_KEY: item.score},
                "excluded_llm_metadata_keys": _with(node.excluded_llm_metadata_keys, hidden),
                "excluded_embed_metadata_keys": _with(node.excluded_embed_metadata_keys, hidden),
            }
        )


def _with(keys: list[str], extra: list[str]) -> list[str]:
    return [*keys, *(key for key in extra if key not in keys)]
