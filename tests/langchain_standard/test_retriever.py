"""langchain-tests' standard retriever suite on MSearchRetriever, over the real MiniLM.

The retriever searches an embedded in-memory collection filled with a few sentences, in
each of its modes' default (dense) and with ``k`` set by constructor and by call.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from langchain_tests.integration_tests import RetrieversIntegrationTests

from langchain_msearch import MSearchEmbeddings, MSearchRetriever, MSearchVectorStore
from tests.support.minilm import minilm_path

SENTENCES = [
    "Qdrant stores vectors and payloads in collections.",
    "Cats sleep most of the day.",
    "A hybrid search fuses dense and sparse results.",
    "The Rhine flows through Basel.",
    "Reciprocal rank fusion combines ranked lists.",
]


@cache
def _store() -> MSearchVectorStore:
    store = MSearchVectorStore(
        embedding=MSearchEmbeddings(model=minilm_path()),
        collection_name="retriever_standard",
        location=":memory:",
    )
    store.add_texts(SENTENCES, [{"n": n} for n in range(len(SENTENCES))])
    return store


class TestMSearchRetriever(RetrieversIntegrationTests):
    @property
    def retriever_constructor(self) -> type[MSearchRetriever]:
        return MSearchRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"vectorstore": _store(), "k": 2}

    @property
    def retriever_query_example(self) -> str:
        return "how are ranked lists combined?"
