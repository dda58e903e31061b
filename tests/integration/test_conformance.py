"""One scenario through every surface: the core Store, LangChain, LlamaIndex and the command.

A collection is written once (through LangChain, with dense MiniLM and sparse tiny-BGE-M3
vectors), then read back through each surface: dense, dense with a filter, hybrid, MMR,
reranked, get, and delete by ids and by filter. Every surface must give the same ids in the
same order, the same scores (to 1e-6) and the same metadata. The command runs in its own
process, so the collection is also reopened from disk. A future surface joins by adding its
column to each test's table.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.schema import QueryBundle
from llama_index.core.vector_stores.types import (
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)

from langchain_msearch import MSearchEmbeddings, MSearchRetriever, MSearchSparseEmbeddings
from langchain_msearch import MSearchVectorStore as LangChainStore
from llamaindex_msearch import MSearchEmbedding, MSearchSparseEmbedding
from llamaindex_msearch import MSearchRetriever as LlamaRetriever
from llamaindex_msearch import MSearchVectorStore as LlamaStore
from msearch import text_embedder
from msearch.rerank import reranker
from msearch.sparse import sparse_embedder
from msearch.store import Store
from tests.support.tiny_bge_m3 import tiny_bge_m3_path

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
COLLECTION = "conformance"
DOCS = {
    "eiffel": ("The Eiffel Tower stands in Paris.", {"topic": "travel", "year": 1889}),
    "cats": ("Cats often sleep most of the day.", {"topic": "pets", "year": 2020}),
    "qdrant": ("Qdrant is a vector database for search.", {"topic": "tech", "year": 2021}),
    "rhine": ("The Rhine flows through Basel.", {"topic": "travel", "year": 1500}),
    "dogs": ("Dogs love long walks in the park.", {"topic": "pets", "year": 2019}),
    "faiss": ("FAISS searches dense vectors quickly.", {"topic": "tech", "year": 2017}),
}
QUERY = "Which database searches vectors?"
K = 3

Result = list[tuple[str, float, dict[str, Any]]]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The collection, written once through LangChain and closed."""
    path = tmp_path_factory.mktemp("conformance") / "store"
    store = LangChainStore(
        MSearchEmbeddings(model=MINILM),
        COLLECTION,
        path=path,
        sparse_embedding=MSearchSparseEmbeddings(model=tiny_bge_m3_path(), backend="transformers"),
    )
    texts = [text for text, _ in DOCS.values()]
    store.add_texts(texts, [meta for _, meta in DOCS.values()], ids=list(DOCS))
    store.close()
    return path


def _cli(folder: Path, *argv: str, **env: str) -> Result:
    """``msearch search --json`` in a new process, as a user runs it."""
    environment = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "MSEARCH_SPARSE_MODEL": tiny_bge_m3_path(),
        "MSEARCH_SPARSE_BACKEND": "transformers",
        # float32, as the frameworks run: the scores must agree to 1e-6. The command's own
        # default ("auto": bf16 where the CPU runs it natively) is held to the ranking below.
        "MSEARCH_PRECISION": "float32",
        **env,
    }
    command = [sys.executable, "-m", "msearch.cli", "search", QUERY, "--json", "-k", str(K)]
    done = subprocess.run(
        [*command, "--store", str(folder), "--collection", COLLECTION, *argv],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [(hit["id"], hit["score"], hit["metadata"]) for hit in json.loads(done.stdout)]


def _same(results: dict[str, Result]) -> None:
    """Every surface's result equals the first one's: ids, order, scores, metadata."""
    (first_name, first), *others = results.items()
    assert first, f"{first_name} found nothing"
    for name, result in others:
        assert [r[0] for r in result] == [r[0] for r in first], (name, result, first)
        for (_, score, meta), (_, want, want_meta) in zip(result, first, strict=True):
            assert score == pytest.approx(want, abs=1e-6), (name, score, want)
            assert meta == want_meta, (name, meta, want_meta)


@pytest.fixture(scope="module")
def cli_results(folder: Path, tiny_cross_encoder: str) -> dict[str, Result]:
    """The command's answers, first, while no other process holds the folder."""
    return {
        "dense": _cli(folder, "--mode", "dense"),
        "filtered": _cli(folder, "--mode", "dense", "--filter", "topic=travel"),
        "hybrid": _cli(folder, "--mode", "hybrid"),
        # auto: hybrid, since the collection has sparse vectors (its recorded model)
        "auto": _cli(folder, MSEARCH_SPARSE_MODEL=""),
        "default precision": _cli(folder, "--mode", "dense", MSEARCH_PRECISION=""),
        "reranked": _cli(
            folder, "--mode", "dense", "--rerank", MSEARCH_RERANK_MODEL=tiny_cross_encoder
        ),
    }


@pytest.fixture(scope="module")
def surfaces(folder: Path, cli_results: dict[str, Result]) -> dict[str, Any]:
    core = Store(COLLECTION, path=folder)
    langchain = LangChainStore(
        MSearchEmbeddings(model=MINILM),
        store=core,
        sparse_embedding=MSearchSparseEmbeddings(model=tiny_bge_m3_path(), backend="transformers"),
    )
    llama_embed = MSearchEmbedding(model=MINILM)
    llama = LlamaStore(
        store=core,
        embed_model=llama_embed,
        sparse_embedding=MSearchSparseEmbedding(model=tiny_bge_m3_path(), backend="transformers"),
    )
    yield {"core": core, "langchain": langchain, "llama": llama, "llama_embed": llama_embed}
    core.close()


def _core_vectors() -> tuple[Any, Any]:
    return (
        text_embedder(MINILM).embed_query(QUERY),
        sparse_embedder(tiny_bge_m3_path(), "transformers").embed_query_sparse(QUERY),
    )


def _from_hits(hits: list[Any]) -> Result:
    return [(h.id, float(h.score), dict(h.metadata)) for h in hits]


def _from_docs(docs: list[tuple[Any, float]]) -> Result:
    return [(d.id, float(score), dict(d.metadata)) for d, score in docs]


def _from_llama(result: Any) -> Result:
    return [
        (node.node_id, float(score), dict(node.metadata))
        for node, score in zip(result.nodes, result.similarities, strict=True)
    ]


def _llama_query(surfaces: dict[str, Any], **fields: Any) -> Result:
    embedding = surfaces["llama_embed"].get_query_embedding(QUERY)
    query = VectorStoreQuery(
        query_embedding=embedding, query_str=QUERY, similarity_top_k=K, **fields
    )
    return _from_llama(surfaces["llama"].query(query))


def test_the_commands_default_precision_ranks_the_same(cli_results: dict[str, Result]) -> None:
    exact, default = cli_results["dense"], cli_results["default precision"]
    assert [r[0] for r in default] == [r[0] for r in exact]
    for (_, score, _), (_, want, _) in zip(default, exact, strict=True):
        assert score == pytest.approx(want, abs=1e-3)


def test_dense(surfaces: dict[str, Any], cli_results: dict[str, Result]) -> None:
    dense, _ = _core_vectors()
    _same(
        {
            "core": _from_hits(surfaces["core"].query("text", dense, K)),
            "langchain": _from_docs(surfaces["langchain"].similarity_search_with_score(QUERY, K)),
            "llamaindex": _llama_query(surfaces),
            "command": cli_results["dense"],
        }
    )


def test_dense_with_a_filter(surfaces: dict[str, Any], cli_results: dict[str, Result]) -> None:
    dense, _ = _core_vectors()
    travel = MetadataFilters(filters=[MetadataFilter(key="topic", value="travel")])
    results = {
        "core": _from_hits(surfaces["core"].query("text", dense, K, {"topic": "travel"})),
        "langchain": _from_docs(
            surfaces["langchain"].similarity_search_with_score(QUERY, K, {"topic": "travel"})
        ),
        "llamaindex": _llama_query(surfaces, filters=travel),
        "command": cli_results["filtered"],
    }
    _same(results)
    assert {meta["topic"] for _, _, meta in results["core"]} == {"travel"}


def test_hybrid(surfaces: dict[str, Any], cli_results: dict[str, Result]) -> None:
    dense, sparse = _core_vectors()
    _same(
        {
            "core": _from_hits(surfaces["core"].hybrid_query(dense, sparse, K)),
            "langchain": _from_docs(
                surfaces["langchain"].similarity_search_with_score(QUERY, K, mode="hybrid")
            ),
            "llamaindex": _llama_query(surfaces, mode=VectorStoreQueryMode.HYBRID),
            "command": cli_results["hybrid"],
            "command, auto mode, recorded sparse model": cli_results["auto"],
        }
    )


def test_mmr(surfaces: dict[str, Any]) -> None:
    dense, _ = _core_vectors()
    core = surfaces["core"].mmr_query("text", dense, K, fetch_k=6, lambda_mult=0.5)
    langchain = surfaces["langchain"].max_marginal_relevance_search_with_score_by_vector(
        list(map(float, dense)), K, fetch_k=6, lambda_mult=0.5
    )
    assert [h.id for h in core] == [d.id for d, _ in langchain]
    llama = _llama_query(surfaces, mode=VectorStoreQueryMode.MMR, mmr_threshold=0.5)
    assert [h.id for h in core][:1] == [r[0] for r in llama][:1]  # LlamaIndex fetches its own k


def test_reranked(
    surfaces: dict[str, Any], cli_results: dict[str, Result], tiny_cross_encoder: str
) -> None:
    model = reranker(tiny_cross_encoder)
    langchain = MSearchRetriever(
        vectorstore=surfaces["langchain"], k=K, reranker=model, fetch_k=4 * K
    ).invoke(QUERY)
    llama = LlamaRetriever(
        surfaces["llama"], surfaces["llama_embed"], k=K, reranker=model, fetch_k=4 * K
    ).retrieve(QueryBundle(QUERY))
    command = cli_results["reranked"]

    def shown(meta: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in meta.items() if k not in ("score", "relevance_score")}

    ids = [d.id for d in langchain]
    assert ids == [n.node.node_id for n in llama] == [hit[0] for hit in command]
    for doc, node, (_, score, _) in zip(langchain, llama, command, strict=True):
        assert doc.metadata["relevance_score"] == pytest.approx(score, abs=1e-6)
        assert node.score == pytest.approx(score, abs=1e-6)
        assert doc.metadata["score"] == pytest.approx(node.node.metadata["score"], abs=1e-6)
        assert shown(doc.metadata) == shown(node.node.metadata)


def test_get_and_delete(surfaces: dict[str, Any]) -> None:
    ids = ["cats", "qdrant"]
    core = [(h.id, h.content, h.metadata) for h in surfaces["core"].get(ids)]
    langchain = [(d.id, d.page_content, d.metadata) for d in surfaces["langchain"].get_by_ids(ids)]
    llama = [
        (n.node_id, n.get_content(), n.metadata) for n in surfaces["llama"].get_nodes(node_ids=ids)
    ]
    assert core == langchain == llama
    assert [c[2] for c in core] == [DOCS[i][1] for i in ids]


def test_delete_by_ids_and_filter_agrees(surfaces: dict[str, Any], folder: Path) -> None:
    pets = MetadataFilters(filters=[MetadataFilter(key="topic", value="pets")])
    surfaces["llama"].delete_nodes(["cats", "eiffel"], filters=pets)  # only cats is both
    left = sorted(h.id for h in surfaces["core"].scan())
    assert left == sorted(set(DOCS) - {"cats"})
    surfaces["langchain"].delete(["dogs", "rhine"], filter={"topic": "pets"})  # only dogs
    assert sorted(h.id for h in surfaces["core"].scan()) == sorted(set(DOCS) - {"cats", "dogs"})
    assert surfaces["langchain"].get_by_ids(["cats", "dogs"]) == []
    assert surfaces["llama"].get_nodes(node_ids=["cats", "dogs"]) == []
