"""Both adapters honour every search option or refuse it by name, and agree with each other.

Real MiniLM, the tiny cross-encoder, embedded Qdrant; the hybrid cases reuse the hand-built
corpus of test_vectorstore_hybrid.py (whose rankings are known from its vectors).
"""

from __future__ import annotations

import asyncio
import time
import warnings
from collections.abc import Iterator

import numpy as np
import pytest
from langchain_core.documents import Document
from llama_index.core import Settings
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from llama_index.core.vector_stores.types import VectorStoreQuery, VectorStoreQueryMode
from qdrant_client import QdrantClient

from langchain_msearch import MSearchEmbeddings, MSearchReranker, MSearchRetriever
from langchain_msearch import MSearchVectorStore as LangChainStore
from llamaindex_msearch import MSearchEmbedding, MSearchRerank
from llamaindex_msearch import MSearchVectorStore as LlamaStore
from msearch.adapters.text import text_schema
from msearch.errors import InvalidInputError, SchemaMismatchError
from msearch.store import Record, Store
from tests.integration.test_vectorstore_hybrid import CORPUS, QUERY, HandDense, HandSparse

TEXTS = [
    "Qdrant is a vector database.",
    "Cats often sleep most of the day.",
    "The Eiffel Tower stands in Paris.",
    "The Rhine flows through Basel.",
]


@pytest.fixture(scope="module")
def embeddings(minilm: str) -> MSearchEmbeddings:
    return MSearchEmbeddings(model=minilm)


@pytest.fixture
def lc_store(embeddings: MSearchEmbeddings) -> Iterator[LangChainStore]:
    store = LangChainStore(embeddings, "contract", location=":memory:")
    store.add_texts(TEXTS, [{"n": i, "topic": "t"} for i in range(4)], ids=["a", "b", "c", "d"])
    yield store
    store.close()


# -- LangChain search options ------------------------------------------------------------------


def test_score_threshold_is_honoured_everywhere(lc_store: LangChainStore) -> None:
    scored = lc_store.similarity_search_with_score("Which database stores vectors?", k=4)
    cut = (scored[0][1] + scored[1][1]) / 2
    assert [
        d.id
        for d in lc_store.similarity_search(
            "Which database stores vectors?", k=4, score_threshold=cut
        )
    ] == ["a"]
    vector = lc_store.embeddings.embed_query("Which database stores vectors?")
    assert len(lc_store.similarity_search_by_vector(vector, k=4, score_threshold=cut)) == 1
    retriever = lc_store.as_retriever(search_kwargs={"k": 4, "score_threshold": cut})
    assert [d.id for d in retriever.invoke("Which database stores vectors?")] == ["a"]
    ours = MSearchRetriever(vectorstore=lc_store, k=4, search_kwargs={"score_threshold": cut})
    assert [d.id for d in ours.invoke("Which database stores vectors?")] == ["a"]


def test_unknown_search_options_are_refused_by_name(lc_store: LangChainStore) -> None:
    with pytest.raises(InvalidInputError, match="filtre"):
        lc_store.similarity_search("x", k=1, filtre={"n": 1})
    with pytest.raises(InvalidInputError, match="filtre"):
        lc_store.similarity_search_by_vector([0.0] * 384, k=1, filtre={"n": 1})
    with pytest.raises(InvalidInputError, match="bogus"):
        lc_store.max_marginal_relevance_search("x", k=1, bogus=1)
    with pytest.raises(InvalidInputError, match="bogus"):
        lc_store.add_texts(["x"], bogus=True)
    with pytest.raises(InvalidInputError, match="bogus"):
        lc_store.delete(["a"], bogus=True)
    with pytest.raises(InvalidInputError, match="filtre"):
        MSearchRetriever(vectorstore=lc_store, search_kwargs={"filtre": {"n": 1}})
    with pytest.raises(InvalidInputError, match="filtre"):
        MSearchRetriever(vectorstore=lc_store).invoke("x", filtre={"n": 1})


def test_retriever_search_kwargs_are_read(lc_store: LangChainStore) -> None:
    retriever = MSearchRetriever(vectorstore=lc_store, search_kwargs={"k": 1, "filter": {"n": 3}})
    assert [d.id for d in retriever.invoke("a database")] == ["d"]
    assert [d.id for d in retriever.invoke("a database", filter={"n": 2})] == ["c"]


def test_fusion_is_passed_on(embeddings: MSearchEmbeddings) -> None:
    store = LangChainStore(
        HandDense(), "fusion", location=":memory:", sparse_embedding=HandSparse()
    )
    store.add_texts(list(CORPUS), ids=list(CORPUS))
    rrf = store.similarity_search_with_score(QUERY, k=2, mode="hybrid")
    dbsf = store.similarity_search_with_score(QUERY, k=2, mode="hybrid", fusion="dbsf")
    assert [s for _, s in rrf] != [s for _, s in dbsf]
    with pytest.raises(InvalidInputError, match="fusion"):
        store.similarity_search(QUERY, k=2, mode="hybrid", fusion="max")


def test_stock_surface_with_scores_by_vector(lc_store: LangChainStore) -> None:
    vector = lc_store.embeddings.embed_query("Which database stores vectors?")
    scored = lc_store.similarity_search_with_score_by_vector(vector, k=2)
    assert scored[0][0].id == "a" and scored[0][1] > scored[1][1]
    mmr = lc_store.max_marginal_relevance_search_with_score_by_vector(vector, k=2, fetch_k=4)
    assert mmr[0][0].id == "a" and mmr[0][1] == pytest.approx(scored[0][1], abs=1e-5)


# -- constructor options ----------------------------------------------------------------------


def test_constructors_refuse_what_they_cannot_apply(embeddings: MSearchEmbeddings) -> None:
    with pytest.raises(InvalidInputError, match="bogus_option"):
        LangChainStore(embeddings, location=":memory:", bogus_option=1)
    with pytest.raises(InvalidInputError, match="bogus_option"):
        LlamaStore("x", location=":memory:", bogus_option=1)
    with Store("mine", location=":memory:") as store:
        with pytest.raises(InvalidInputError, match="path"):
            LangChainStore(embeddings, store=store, path="/tmp/elsewhere")
        with pytest.raises(InvalidInputError, match="collection_name"):
            LlamaStore("other", store=store)
    with pytest.raises(InvalidInputError, match="path"):
        Store("x", client=QdrantClient(":memory:"), path="/tmp/elsewhere")


def test_distance_contradicting_the_collection_is_refused(lc_store: LangChainStore) -> None:
    with pytest.raises(InvalidInputError, match="distance"):
        LangChainStore(lc_store.embeddings, store=lc_store.store, distance="euclid")


# -- LlamaIndex --------------------------------------------------------------------------------


def test_llamaindex_alpha_weighs_dense_against_sparse() -> None:
    store = LlamaStore(
        "alpha", location=":memory:", embed_model=HandDense(), sparse_embedding=HandSparse()
    )
    nodes = [TextNode(id_=t, text=t, embedding=HandDense().embed_query(t)) for t in CORPUS]
    store.add(nodes)

    def top(alpha: float) -> list[str]:
        query = VectorStoreQuery(
            query_embedding=HandDense().embed_query(QUERY),
            query_str=QUERY,
            similarity_top_k=2,
            mode=VectorStoreQueryMode.HYBRID,
            alpha=alpha,
        )
        return list(store.query(query).ids or [])

    assert set(top(1.0)) == {"big cats run fast", "leopards sprint quickly"}  # dense only
    assert set(top(0.0)) == {"the jaguar car's top speed", "jaguar logo history"}  # sparse only
    assert top(1.0) != top(0.0)


def test_llamaindex_store_records_the_model(minilm: str) -> None:
    embed = MSearchEmbedding(model=minilm)
    node = TextNode(id_="n", text="cats", embedding=embed.get_text_embedding("cats"))
    previous = Settings._embed_model
    try:
        Settings.embed_model = embed
        store = LlamaStore("settings", location=":memory:")
        store.add([node])
        assert store.store.schema is not None
        assert store.store.schema.vectors["text"].model == minilm
        Settings._embed_model = None
        unknown = LlamaStore("unknown", location=":memory:")
        with pytest.warns(UserWarning, match="records no model"):
            unknown.add([node])
    finally:
        Settings._embed_model = previous


def test_intruding_model_is_refused_after_settings_recorded(minilm: str) -> None:
    embed = MSearchEmbedding(model=minilm)
    previous = Settings._embed_model
    try:
        Settings.embed_model = embed
        store = LlamaStore("guarded", location=":memory:")
        store.add([TextNode(id_="n", text="cats", embedding=embed.get_text_embedding("cats"))])
    finally:
        Settings._embed_model = previous
    other = LlamaStore(store=store.store, embed_model=HandDense())
    with pytest.raises(SchemaMismatchError):
        other.add([TextNode(id_="m", text="x", embedding=[0.0] * 384)])


# -- the two adapters agree ---------------------------------------------------------------------


def test_rerankers_score_the_same_text_in_both_frameworks(tiny_cross_encoder: str) -> None:
    text, metadata = "Cats purr when they are content.", {"topic": "pets", "year": 2020}
    langchain = MSearchReranker(model=tiny_cross_encoder, top_n=None)
    llama = MSearchRerank(model=tiny_cross_encoder, top_n=None)
    doc = langchain.compress_documents([Document(page_content=text, metadata=metadata)], "cats")
    node = llama.postprocess_nodes(
        [NodeWithScore(node=TextNode(text=text, metadata=metadata), score=0.1)],
        query_bundle=QueryBundle("cats"),
    )
    assert doc[0].metadata["relevance_score"] == pytest.approx(node[0].score, abs=1e-6)


def test_retriever_scores_are_msearchs_not_the_callers(
    embeddings: MSearchEmbeddings, tiny_cross_encoder: str
) -> None:
    store = LangChainStore(embeddings, "scores", location=":memory:")
    store.add_texts(TEXTS, [{"score": "mine"}] * 4, ids=["a", "b", "c", "d"])
    plain = MSearchRetriever(vectorstore=store, k=2).invoke("a database")
    assert isinstance(plain[0].metadata["score"], float)
    reranked = MSearchRetriever(
        vectorstore=store, k=2, reranker=MSearchReranker(model=tiny_cross_encoder)
    ).invoke("a database")
    assert {"score", "relevance_score"} <= set(reranked[0].metadata)
    assert 0.0 <= reranked[0].metadata["relevance_score"] <= 1.0
    assert store.get_by_ids(["a"])[0].metadata == {"score": "mine"}  # stored metadata untouched


# -- async: the store's query never runs on the caller's loop -------------------------------------


async def _max_stall(work: object) -> float:
    """The longest gap between heartbeats of a task ticking every millisecond during ``work``."""
    gaps: list[float] = []
    done = asyncio.Event()

    async def heartbeat() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(heartbeat())
    await asyncio.sleep(0.01)
    try:
        await work  # type: ignore[misc]
    finally:
        done.set()
        await task
    return max(gaps)


class WideDense(HandDense):
    """A fixed 384-dimensional query vector (MiniLM's size); async without a thread."""

    spec = HandDense.spec.with_overrides(name="wide-dense", dim=384)
    dim = 384

    def embed_query(self, text: str) -> list[float]:
        return [1.0] + [0.0] * 383

    async def aembed_query(self, text: str) -> list[float]:
        return self.embed_query(text)


async def test_async_searches_do_not_stall_the_event_loop() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(20_000, 384)).astype(np.float32)
    store = Store("big", location=":memory:", engine="qdrant-client")
    lc = LangChainStore(WideDense(), store=store)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # qdrant-client warns past 20,000 local points
        store.ensure_schema(text_schema(384, lc.embedding, None))
        store.upsert(
            [Record(id=str(i), vectors={"text": v}, content=str(i)) for i, v in enumerate(vectors)]
        )
    started = time.perf_counter()
    lc.similarity_search(QUERY, k=4)
    blocking = time.perf_counter() - started
    assert blocking > 0.02  # so the checks below can fail: one query blocks this long
    stall = await _max_stall(lc.asimilarity_search(QUERY, k=4))
    assert stall < blocking / 2, (stall, blocking)
    llama = LlamaStore(store=store, embed_model=WideDense())
    query = VectorStoreQuery(query_embedding=WideDense().embed_query(QUERY), similarity_top_k=4)
    stall = await _max_stall(llama.aquery(query))
    assert stall < blocking / 2, (stall, blocking)


# -- LlamaIndex filters that LlamaIndex accepts --------------------------------------------------

FILTERED = {
    "a": {"x": 1.5, "tag": "red", "day": "2026-01-05"},
    "b": {"x": 2.5, "tag": "blue", "day": "2026-03-01"},
    "c": {"x": None, "tag": "red", "day": "2025-12-31"},
    "d": {"x": 3, "tag": "green", "day": "2026-02-10"},
}


@pytest.mark.parametrize("engine", ["qdrant-client", "edge"])
@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ([("x", 1.5, "==")], {"a"}),
        ([("x", 1.5, "!=")], {"b", "c", "d"}),
        ([("x", None, "==")], {"c"}),
        ([("x", [1.5, 3], "in")], {"a", "d"}),
        ([("x", [2.5], "nin")], {"a", "c", "d"}),
        ([("day", "2026-01-31", ">")], {"b", "d"}),
        ([("tag", ["red", "green"], "in")], {"a", "c", "d"}),
        ([], {"a", "b", "c", "d"}),
    ],
)
def test_llamaindex_filters_match_as_the_stock_store(
    engine: str, filters: list[tuple[str, object, str]], expected: set[str]
) -> None:
    from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters

    store = LlamaStore("filters", location=":memory:", embed_model=HandDense(), engine=engine)
    store.add(
        [
            TextNode(id_=name, text=name, metadata=meta, embedding=[1.0, 0.0, 0.0])
            for name, meta in FILTERED.items()
        ]
    )
    nested = MetadataFilters(filters=[])  # an empty nested group matches everything
    given = MetadataFilters(
        filters=[MetadataFilter(key=k, value=v, operator=op) for k, v, op in filters] + [nested]
    )
    assert {node.node_id for node in store.get_nodes(filters=given)} == expected


def test_llamaindex_filters_qdrant_cannot_match_are_refused_typed() -> None:
    from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters

    store = LlamaStore("refused", location=":memory:", embed_model=HandDense())
    bad = MetadataFilters(filters=[MetadataFilter(key="tag", value="m", operator=">")])
    with pytest.raises(InvalidInputError, match="ISO"):
        store.get_nodes(filters=bad)


# -- the stock classes' surface and serialization -------------------------------------------------


def test_langchain_embeddings_are_a_pydantic_model_with_fields(minilm: str) -> None:
    embeddings = MSearchEmbeddings(model_name=minilm, batch_size=4)
    assert embeddings.model_dump() == {
        "model": minilm,
        "backend": "sentence-transformers",
        "options": {"batch_size": 4},
    }
    assert embeddings.embedder.batch_size == 4  # type: ignore[attr-defined]
    again = MSearchEmbeddings(**embeddings.model_dump())
    np.testing.assert_allclose(again.embed_query("cats"), embeddings.embed_query("cats"), atol=1e-6)
    with pytest.raises(InvalidInputError, match="bogus_option"):
        MSearchEmbeddings(model=minilm, bogus_option=1)


def test_from_existing_collection(lc_store: LangChainStore, embeddings: MSearchEmbeddings) -> None:
    reopened = LangChainStore.from_existing_collection(embeddings, store=lc_store.store)
    assert reopened.similarity_search("a database", k=1)[0].id == "a"
    with pytest.raises(InvalidInputError, match="does not exist"):
        LangChainStore.from_existing_collection(embeddings, "nothing", location=":memory:")
    with pytest.raises(SchemaMismatchError):
        LangChainStore.from_existing_collection(HandDense(), store=lc_store.store)


def test_llamaindex_embedding_round_trips_and_takes_hf_names(minilm: str) -> None:
    embed = MSearchEmbedding(
        model=minilm, query_instruction="query: ", text_instruction="passage: ", max_length=64
    )
    back = MSearchEmbedding.from_dict(embed.to_dict())
    assert back.to_dict() == embed.to_dict()
    np.testing.assert_allclose(
        back.get_query_embedding("cats"), embed.get_query_embedding("cats"), atol=1e-6
    )
    plain = MSearchEmbedding(model=minilm)
    np.testing.assert_allclose(
        embed.get_query_embedding("cats"), plain.get_text_embedding("query: cats"), atol=1e-6
    )
    np.testing.assert_allclose(
        embed.get_text_embedding("cats"), plain.get_text_embedding("passage: cats"), atol=1e-6
    )
    raw = MSearchEmbedding(model=minilm, normalize=False).get_text_embedding("cats")
    assert abs(float(np.linalg.norm(raw)) - 1.0) > 1e-3


def test_llamaindex_rerank_round_trips(tiny_cross_encoder: str) -> None:
    rerank = MSearchRerank(model=tiny_cross_encoder, top_n=2, batch_size=4)
    back = MSearchRerank.from_dict(rerank.to_dict())
    assert back.to_dict() == rerank.to_dict() and back.top_n == 2


def test_llamaindex_vector_store_round_trips_its_location(tmp_path: object) -> None:
    folder = str(tmp_path)
    store = LlamaStore("kept", path=folder, embed_model=HandDense())
    store.add([TextNode(id_="n", text="n", embedding=[1.0, 0.0, 0.0])])
    data = store.to_dict()
    store.close()
    back = LlamaStore.from_dict(data)
    assert [node.node_id for node in back.get_nodes()] == ["n"]
    back.close()
    with (
        Store("x", location=":memory:") as shared,
        pytest.raises(InvalidInputError, match="to_dict"),
    ):
        LlamaStore(store=shared).to_dict()


# -- the stock-class factories ---------------------------------------------------------------------


async def test_stock_llamaindex_store_works_async_and_owns_its_client(tmp_path: object) -> None:
    from llamaindex_msearch.qdrant import qdrant_vector_store

    folder = f"{tmp_path}/stock"
    stock = qdrant_vector_store("stock", path=folder)
    await stock.async_add(
        [TextNode(id_="a" * 8 + "-0000-0000-0000-" + "0" * 12, text="x", embedding=[1.0, 0.0, 0.0])]
    )
    query = VectorStoreQuery(query_embedding=[1.0, 0.0, 0.0], similarity_top_k=1)
    assert len((await stock.aquery(query)).nodes) == 1
    stock.client.close()
    # the folder is free again for another client: nothing of msearch's kept it open
    again = qdrant_vector_store("stock", path=folder)
    assert len(again.query(query).nodes) == 1
    again.client.close()


def test_stock_langchain_store_owns_its_client(tmp_path: object) -> None:
    from langchain_msearch.qdrant import qdrant_vectorstore

    folder = f"{tmp_path}/stock-lc"
    stock = qdrant_vectorstore(HandDense(), "stock", path=folder)
    stock.add_texts(["big cats run fast"])
    stock.client.close()
    with Store("msearch", path=folder) as store:  # a later msearch store gets a live client
        assert store.schema is None
    reopened = qdrant_vectorstore(HandDense(), "stock", path=folder)
    assert [d.page_content for d in reopened.similarity_search("big cats run fast", k=1)] == [
        "big cats run fast"
    ]
    reopened.client.close()


def test_hybrid_without_a_sparse_model_fails_at_construction_in_both(
    lc_store: LangChainStore,
) -> None:
    from llamaindex_msearch import MSearchRetriever as LlamaRetriever

    with pytest.raises(InvalidInputError, match="sparse"):
        MSearchRetriever(vectorstore=lc_store, mode="hybrid")
    with pytest.raises(InvalidInputError, match="sparse"):
        LlamaRetriever(LlamaStore(store=lc_store.store), HandDense(), mode="hybrid")


def test_a_source_filter_finds_indexed_files_in_both_frameworks(
    minilm: str, embeddings: MSearchEmbeddings, tmp_path: object
) -> None:
    from pathlib import Path

    from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters

    from msearch import text_embedder
    from msearch.indexing import FolderIndexer, IndexOptions

    folder = Path(f"{tmp_path}/docs")
    folder.mkdir()
    (folder / "cats.txt").write_text("Cats sleep most of the day.")
    (folder / "rhine.txt").write_text("The Rhine flows through Basel.")
    with Store("files", location=":memory:") as store:
        indexer = FolderIndexer(
            store,
            text_embedder("sentence-transformers/all-MiniLM-L6-v2"),
            options=IndexOptions(show_progress=False),
        )
        indexer.index(folder)
        cats = str(folder / "cats.txt")
        lc = LangChainStore(
            MSearchEmbeddings(model="sentence-transformers/all-MiniLM-L6-v2"), store=store
        )
        docs = lc.similarity_search("a river", k=2, filter={"source": cats})
        assert [d.metadata for d in docs] == [{"source": cats, "chunk": 0}]
        llama = LlamaStore(store=store)
        by_source = MetadataFilters(filters=[MetadataFilter(key="source", value=cats)])
        nodes = llama.get_nodes(filters=by_source)
        assert [n.metadata for n in nodes] == [{"source": cats, "chunk": 0}]
        assert nodes[0].ref_doc_id == cats


def test_retrievers_refuse_unknown_constructor_options(lc_store: LangChainStore) -> None:
    from llamaindex_msearch import MSearchRetriever as LlamaRetriever

    with pytest.raises(InvalidInputError, match="bogus"):
        MSearchRetriever(vectorstore=lc_store, bogus=1)
    with pytest.raises(InvalidInputError, match="bogus"):
        LlamaRetriever(LlamaStore(store=lc_store.store), HandDense(), bogus=1)
