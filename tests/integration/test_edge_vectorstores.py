"""The LangChain and LlamaIndex vector stores on Qdrant Edge, with the real MiniLM.

The frameworks' own integration tests (test_vectorstore.py, test_vectorstore_llamaindex.py)
are imported and run again here with their ``store`` fixtures on an Edge folder; the last test
shares one Edge folder between both frameworks, as the CLI and a notebook would.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from llama_index.core.vector_stores.types import VectorStoreQuery

import llamaindex_msearch as li
from langchain_msearch import MSearchVectorStore
from msearch.store import EdgeEngine, Store
from tests.integration import test_vectorstore as lc_tests
from tests.integration import test_vectorstore_llamaindex as li_tests

# LangChain: every test that works through the `store` fixture (the others open their own).
test_lc_search = lc_tests.test_search_returns_the_callers_ids_and_metadata
test_lc_schema = lc_tests.test_collection_records_the_model_and_dimension
test_lc_filters_mmr_delete = lc_tests.test_filters_mmr_and_delete_by_source
test_lc_bad_k = lc_tests.test_bad_k_is_a_clear_error
test_lc_retriever = lc_tests.test_retriever_adds_score_and_source
embeddings = lc_tests.embeddings


@pytest.fixture
def store(embeddings: lc_tests.MSearchEmbeddings, tmp_path: Path) -> Iterator[MSearchVectorStore]:
    vs = MSearchVectorStore.from_texts(
        lc_tests.TEXTS,
        embeddings,
        lc_tests.METADATAS,
        ids=lc_tests.IDS,
        collection_name="lc",
        path=tmp_path / "edge",
        engine="edge",
    )
    assert isinstance(vs.store.engine, EdgeEngine)
    yield vs
    vs.close()


# LlamaIndex: the same tests, each given an Edge store through `li_store`.
embed_model = li_tests.embed_model


@pytest.fixture
def li_store(embed_model: li.MSearchEmbedding, tmp_path: Path) -> Iterator[li.MSearchVectorStore]:
    vs = li.MSearchVectorStore("li", path=tmp_path / "edge-li", embed_model=embed_model)
    assert isinstance(vs.store.engine, EdgeEngine)  # "auto" makes new folders on Edge
    yield vs
    vs.close()


def test_li_add_query_with_filters_and_delete(
    li_store: li.MSearchVectorStore, embed_model: li.MSearchEmbedding
) -> None:
    li_tests.test_add_query_with_filters_and_delete(li_store, embed_model)


def test_li_query_engine(li_store: li.MSearchVectorStore, embed_model: li.MSearchEmbedding) -> None:
    li_tests.test_query_engine_answers_from_the_documents(li_store, embed_model)


def test_li_retriever(li_store: li.MSearchVectorStore, embed_model: li.MSearchEmbedding) -> None:
    li_tests.test_retriever_modes_and_errors(li_store, embed_model)


async def test_li_async(li_store: li.MSearchVectorStore, embed_model: li.MSearchEmbedding) -> None:
    await li_tests.test_async_add_query_delete(li_store, embed_model)


def test_one_edge_folder_serves_both_frameworks(
    embeddings: lc_tests.MSearchEmbeddings, embed_model: li.MSearchEmbedding, tmp_path: Path
) -> None:
    folder = tmp_path / "shared"
    lc = MSearchVectorStore.from_texts(
        lc_tests.TEXTS, embeddings, lc_tests.METADATAS, ids=lc_tests.IDS, path=folder
    )
    lc.store.optimize()
    llama = li.MSearchVectorStore(path=folder, embed_model=embed_model)
    query = VectorStoreQuery(
        query_embedding=embed_model.get_query_embedding("Which database searches vectors?"),
        similarity_top_k=1,
    )
    result = llama.query(query)
    assert result.nodes[0].get_content() == lc_tests.TEXTS[2]
    assert result.ids == ["qdrant"]
    lc.close()
    llama.close()
    with Store(path=folder) as reopened:
        assert isinstance(reopened.engine, EdgeEngine) and reopened.count() == len(lc_tests.IDS)
