"""Hybrid search on a constructed corpus where dense alone and sparse alone each miss one of
the two relevant documents, and fusion inside Qdrant finds both.

The embedders here are hand-built on purpose: deterministic classes written in this test that
implement msearch's TextEmbedder / SparseEmbedder protocols with vectors chosen for the
corpus, so the ranking of every mode is known from the vectors themselves. They are a
constructed corpus, not a mocked backend; the real models' hybrid output is covered where
those models are tested. The store, the fusion and both frameworks' classes are real.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings
from llama_index.core.vector_stores.types import VectorStoreQuery, VectorStoreQueryMode
from qdrant_client import QdrantClient

from langchain_msearch import MSearchRetriever, MSearchVectorStore
from langchain_msearch.qdrant import qdrant_vectorstore
from llamaindex_msearch import MSearchRetriever as LlamaRetriever
from llamaindex_msearch import MSearchVectorStore as LlamaStore
from llamaindex_msearch.qdrant import qdrant_vector_store
from msearch.datatypes import SparseVector
from msearch.errors import SchemaMismatchError
from msearch.models import ModelSpec
from msearch.store import Store

QUERY = "jaguar speed"
# text: (dense vector, sparse {term id: weight}); the query is dense [1, 0, 0], terms {7, 8}.
CORPUS = {
    "big cats run fast": ([1.0, 0.0, 0.0], {8: 0.5}),  # relevant: dense 1st, sparse 3rd
    "leopards sprint quickly": ([0.95, 0.31, 0.0], {}),  # dense 2nd only
    "the jaguar car's top speed": ([0.6, 0.8, 0.0], {7: 2.0}),  # relevant: sparse 1st, dense 3rd
    "jaguar logo history": ([0.0, 0.0, 1.0], {7: 1.0}),  # sparse 2nd only
    "tea ceremonies": ([0.0, 1.0, 0.0], {}),
}
VECTORS = {**{t: v for t, (v, _) in CORPUS.items()}, QUERY: [1.0, 0.0, 0.0]}
TERMS = {**{t: w for t, (_, w) in CORPUS.items()}, QUERY: {7: 1.0, 8: 1.0}}
RELEVANT = {"big cats run fast", "the jaguar car's top speed"}


class HandDense(Embeddings):
    """TextEmbedder (and LangChain Embeddings) with the corpus's hand-built vectors."""

    spec = ModelSpec(name="hand-built-dense", dim=3)
    dim = 3

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        # langchain-qdrant embeds a probe text to learn the size: any unit vector will do.
        return VECTORS.get(text, [0.0, 0.0, 1.0])

    def get_query_embedding(self, text: str) -> list[float]:  # LlamaIndex's name
        return VECTORS[text]


class HandSparse:
    """SparseEmbedder with the corpus's hand-built term weights."""

    spec = ModelSpec(name="hand-built-sparse", sparse=True)

    def _vector(self, text: str) -> SparseVector:
        terms = TERMS[text]
        return SparseVector(
            np.array(list(terms), dtype=np.int64), np.array(list(terms.values()), np.float32)
        )

    def embed_documents_sparse(self, texts: Sequence[str]) -> list[SparseVector]:
        return [self._vector(t) for t in texts]

    def embed_query_sparse(self, text: str) -> SparseVector:
        return self._vector(text)

    async def aembed_documents_sparse(self, texts: Sequence[str]) -> list[SparseVector]:
        return self.embed_documents_sparse(texts)

    async def aembed_query_sparse(self, text: str) -> SparseVector:
        return self._vector(text)


@pytest.fixture
def client() -> QdrantClient:
    return QdrantClient(":memory:")


@pytest.fixture
def langchain_store(client: QdrantClient) -> MSearchVectorStore:
    store = MSearchVectorStore(HandDense(), "hybrid", client=client, sparse_embedding=HandSparse())
    store.add_texts(list(CORPUS), ids=list(CORPUS))
    return store


@pytest.mark.parametrize(
    ("mode", "found"),
    [
        ("dense", {"big cats run fast", "leopards sprint quickly"}),
        ("sparse", {"the jaguar car's top speed", "jaguar logo history"}),
        ("hybrid", RELEVANT),
    ],
)
def test_each_mode_on_both_frameworks(
    langchain_store: MSearchVectorStore, client: QdrantClient, mode: str, found: set[str]
) -> None:
    docs = MSearchRetriever(vectorstore=langchain_store, mode=mode, k=2).invoke(QUERY)
    assert {d.id for d in docs} == found
    llama = LlamaStore(
        "hybrid", client=client, embed_model=HandDense(), sparse_embedding=HandSparse()
    )
    nodes = LlamaRetriever(llama, mode=mode, k=2).retrieve(QUERY)
    assert {n.node.node_id for n in nodes} == found


def test_schema_records_both_models(langchain_store: MSearchVectorStore) -> None:
    schema = langchain_store.store.schema
    assert schema is not None
    assert schema.vectors["text"].model == "hand-built-dense"
    assert schema.sparse["text_sparse"].model == "hand-built-sparse"


def test_llamaindex_hybrid_query_mode(
    langchain_store: MSearchVectorStore, client: QdrantClient
) -> None:
    llama = LlamaStore("hybrid", client=client, sparse_embedding=HandSparse())
    result = llama.query(
        VectorStoreQuery(
            query_embedding=VECTORS[QUERY],
            query_str=QUERY,
            similarity_top_k=2,
            mode=VectorStoreQueryMode.HYBRID,
        )
    )
    assert set(result.ids or []) == RELEVANT


def test_langchain_qdrant_factory_is_hybrid_in_its_own_format(client: QdrantClient) -> None:
    stock = qdrant_vectorstore(
        HandDense(), "stock_lc", client=client, sparse_embedding=HandSparse()
    )
    assert stock.retrieval_mode.value == "hybrid"
    stock.add_texts(list(CORPUS))
    assert {d.page_content for d in stock.similarity_search(QUERY, k=2)} == RELEVANT
    vectors = client.get_collection("stock_lc").config.params
    assert set(vectors.vectors) == {""} and set(vectors.sparse_vectors or {}) == {
        "langchain-sparse"
    }
    payload = client.scroll("stock_lc", limit=1)[0][0].payload or {}
    assert "page_content" in payload
    with pytest.raises(SchemaMismatchError, match="not created by msearch"):
        Store("stock_lc", client=client)


def test_llamaindex_qdrant_factory_is_hybrid_in_its_own_format(client: QdrantClient) -> None:
    from llama_index.core.schema import TextNode

    stock = qdrant_vector_store("stock_li", client=client, sparse_embedding=HandSparse())
    nodes = [TextNode(text=t, embedding=VECTORS[t]) for t in CORPUS]
    stock.add(nodes)
    result = stock.query(
        VectorStoreQuery(
            query_embedding=VECTORS[QUERY],
            query_str=QUERY,
            similarity_top_k=2,
            sparse_top_k=2,
            hybrid_top_k=2,
            mode=VectorStoreQueryMode.HYBRID,
        )
    )
    assert {n.get_content() for n in result.nodes} == RELEVANT
    assert "_node_content" in (client.scroll("stock_li", limit=1)[0][0].payload or {})
