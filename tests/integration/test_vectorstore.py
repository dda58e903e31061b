"""LangChain MSearchVectorStore and MSearchRetriever on the real MiniLM, embedded Qdrant."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from langchain_msearch import MSearchEmbeddings, MSearchRetriever, MSearchVectorStore
from msearch.errors import InvalidInputError, SchemaMismatchError
from msearch.rerank import reranker

TEXTS = [
    "The Eiffel Tower stands in Paris.",
    "Cats often sleep for most of the day.",
    "Qdrant is a database for vector search.",
    "The Rhine river flows through Basel and Cologne.",
    "Bread is baked from flour, water and yeast.",
]
METADATAS = [
    {"topic": "travel", "n": 0, "source": "paris.md"},
    {"topic": "pets", "n": 1},
    {"topic": "tech", "n": 2, "nested": {"a": [1, 2]}},
    {"topic": "travel", "n": 3},
    {"topic": "food", "n": 4},
]
IDS = ["paris", "cats", "qdrant", "rhine", "bread"]


@pytest.fixture(scope="module")
def embeddings(minilm: str) -> MSearchEmbeddings:
    return MSearchEmbeddings(model=minilm)


@pytest.fixture
def store(embeddings: MSearchEmbeddings) -> Iterator[MSearchVectorStore]:
    vs = MSearchVectorStore.from_texts(
        TEXTS, embeddings, METADATAS, ids=IDS, collection_name="lc", location=":memory:"
    )
    yield vs
    vs.close()


def test_search_returns_the_callers_ids_and_metadata(store: MSearchVectorStore) -> None:
    docs = store.similarity_search("Which database searches vectors?", k=2)
    assert docs[0].id == "qdrant"
    assert docs[0].page_content == TEXTS[2]
    assert docs[0].metadata == METADATAS[2]
    scored = store.similarity_search_with_relevance_scores("tower in Paris", k=1)
    assert scored[0][0].id == "paris" and 0.3 < scored[0][1] <= 1.0


def test_collection_records_the_model_and_dimension(store: MSearchVectorStore, minilm: str) -> None:
    spec = store.store.schema.vectors["text"]  # type: ignore[union-attr]
    assert (spec.model, spec.size) == (minilm, 384)


def test_filters_mmr_and_delete_by_source(store: MSearchVectorStore) -> None:
    travel = store.similarity_search("a city", k=5, filter={"topic": "travel"})
    assert {d.id for d in travel} == {"paris", "rhine"}
    diverse = store.max_marginal_relevance_search("rivers and towers", k=3, fetch_k=5)
    assert len(diverse) == 3 and len({d.id for d in diverse}) == 3
    store.delete(source="paris.md")
    assert store.get_by_ids(["paris", "cats"])[0].id == "cats"


def test_foreign_embeddings_are_recorded_and_refused_elsewhere(
    store: MSearchVectorStore,
) -> None:
    fake = DeterministicFakeEmbedding(size=384)
    intruder = MSearchVectorStore(fake, collection_name="lc", client=store.store.client)
    with pytest.raises(SchemaMismatchError, match="DeterministicFakeEmbedding"):
        intruder.add_texts(["not MiniLM"])
    with pytest.raises(SchemaMismatchError, match="DeterministicFakeEmbedding"):
        intruder.similarity_search("anything")
    assert store.store.count() == len(TEXTS)
    own = MSearchVectorStore(
        DeterministicFakeEmbedding(size=8), collection_name="fake", client=store.store.client
    )
    own.add_texts(["x"])
    spec = own.store.schema.vectors["text"]  # type: ignore[union-attr]
    assert (spec.model, spec.size) == ("DeterministicFakeEmbedding", 8)


def test_bad_k_is_a_clear_error(store: MSearchVectorStore) -> None:
    with pytest.raises(InvalidInputError, match="k must be a positive integer"):
        store.similarity_search("x", k=0)
    with pytest.raises(ValueError, match="k must be a positive integer"):  # pydantic wraps it
        MSearchRetriever(vectorstore=store, k=0)


def test_retriever_adds_score_and_source(store: MSearchVectorStore) -> None:
    docs = MSearchRetriever(vectorstore=store, k=2).invoke("vector database")
    assert docs[0].id == "qdrant" and 0.0 < docs[0].metadata["score"] <= 1.0
    assert docs[0].metadata["modality"] == "text"
    assert MSearchRetriever(vectorstore=store, k=1).invoke("Paris")[0].metadata["source"] == (
        "paris.md"
    )
    with pytest.raises(InvalidInputError, match="sparse embedding"):
        MSearchRetriever(vectorstore=store, mode="hybrid").invoke("x")


def test_retriever_with_reranker_keeps_the_rerankers_order(
    store: MSearchVectorStore, tiny_cross_encoder: str
) -> None:
    model = reranker(tiny_cross_encoder)
    query = "vector database"
    docs = MSearchRetriever(vectorstore=store, k=2, reranker=model, fetch_k=5).invoke(query)
    candidates = store.similarity_search(query, k=5)
    expected = model.rerank(query, [d.page_content for d in candidates], top_n=2)
    assert [d.id for d in docs] == [candidates[r.index].id for r in expected]
    assert [d.metadata["relevance_score"] for d in docs] == pytest.approx(
        [r.score for r in expected]
    )


async def test_async_paths(embeddings: MSearchEmbeddings) -> None:
    vs = await MSearchVectorStore.afrom_texts(
        TEXTS, embeddings, METADATAS, ids=IDS, collection_name="lc_async", location=":memory:"
    )
    assert (await vs.asimilarity_search("vector database", k=1))[0].id == "qdrant"
    docs = await MSearchRetriever(vectorstore=vs, k=3).ainvoke("river")
    assert docs[0].id == "rhine" and len(docs) == 3
    mmr = await vs.amax_marginal_relevance_search("river", k=2, fetch_k=4)
    assert mmr[0].id == "rhine"
    await vs.adelete(["rhine"])
    assert await vs.aget_by_ids(["rhine"]) == []
    vs.close()
