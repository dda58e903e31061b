"""How widely a query searches (``hnsw_ef``, ``exact``): set on the Store, in msearch.toml and
on the command, and honoured by Qdrant Edge's HNSW index."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from msearch.config import load_config
from msearch.errors import InvalidInputError
from msearch.store import EdgeOptions, Record, Schema, Store, VectorSpec
from msearch.store.engine import SearchWidth

DIM = 32
COUNT = 3000
K = 10


def _vectors(seed: int, count: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((count, DIM)).astype(np.float32)


def _edge_store(folder: Path, **options: object) -> Store:
    # a tiny full-scan threshold and graph, so that the HNSW index is really used
    edge = EdgeOptions(full_scan_threshold_kb=1, indexing_threshold_kb=1, m=4, ef_construct=8)
    store = Store("width", Schema({"v": VectorSpec(DIM)}), path=folder, edge_options=edge)
    store.upsert([Record(id=str(i), vectors={"v": v}) for i, v in enumerate(_vectors(0, COUNT))])
    store.optimize()
    store.close()
    return Store("width", path=folder, **options)  # type: ignore[arg-type]


def _recall(store: Store, queries: np.ndarray, truth: list[set[str]]) -> float:
    found = [{hit.id for hit in store.query("v", q, K)} for q in queries]
    return float(np.mean([len(f & t) / K for f, t in zip(found, truth, strict=True)]))


def test_exact_search_finds_the_true_neighbours_and_a_narrow_graph_search_does_not(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "edge"
    data, queries = _vectors(0, COUNT), _vectors(1, 40)
    unit = data / np.linalg.norm(data, axis=1, keepdims=True)
    truth = [{str(i) for i in np.argsort(-(unit @ q))[:K]} for q in queries]
    _edge_store(folder).close()
    with Store("width", path=folder, exact=True) as exact:
        assert _recall(exact, queries, truth) == 1.0
    with Store("width", path=folder, hnsw_ef=1) as narrow:
        narrow_recall = _recall(narrow, queries, truth)
    with Store("width", path=folder, hnsw_ef=512) as wide:
        wide_recall = _recall(wide, queries, truth)
    assert narrow_recall < wide_recall <= 1.0  # the setting reaches the index


def test_the_client_engine_sends_the_width_to_a_server_only() -> None:
    from qdrant_client import QdrantClient

    from msearch.store.client_engine import ClientEngine

    width = SearchWidth(hnsw_ef=64)
    client = QdrantClient(url="http://127.0.0.1:9", check_compatibility=False)
    remote = ClientEngine(client, search=width)
    assert remote.search_params is not None and remote.search_params.hnsw_ef == 64
    # qdrant-client's local mode is exact already; it gets no parameters (and so no warning)
    with Store("w", Schema({"v": VectorSpec(2)}), location=":memory:", hnsw_ef=64) as store:
        assert store.engine.search_params is None  # type: ignore[attr-defined]
        store.upsert([Record(id="a", vectors={"v": [1.0, 0.0]})])
        assert [hit.id for hit in store.query("v", [1.0, 0.1], 1)] == ["a"]


def test_bad_or_contradicting_widths_are_refused(tmp_path: Path) -> None:
    for bad in (0, -3, 1.5, True):
        with pytest.raises(InvalidInputError, match="hnsw_ef"):
            SearchWidth(hnsw_ef=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="give them once"):
        Store(
            "w", path=tmp_path / "e", engine="edge", hnsw_ef=64, edge_options=EdgeOptions(hnsw_ef=8)
        )


def test_msearch_toml_and_the_command_set_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from msearch.cli import open_store

    toml = tmp_path / "msearch.toml"
    toml.write_text(f'[store]\npath = "{tmp_path / "s"}"\n[search]\nhnsw_ef = 200\n')
    with open_store(load_config(toml)) as store:
        options = store.engine.options  # type: ignore[attr-defined]
        assert (options.hnsw_ef, options.exact) == (200, False)
    with open_store(load_config(toml, hnsw_ef=0)) as store:  # the command's --hnsw-ef 0
        options = store.engine.options  # type: ignore[attr-defined]
        assert (options.hnsw_ef, options.exact) == (None, True)
    monkeypatch.setenv("MSEARCH_HNSW_EF", "64")
    with open_store(load_config(None, store_path=str(tmp_path / "s"))) as store:
        assert store.engine.options.hnsw_ef == 64  # type: ignore[attr-defined]
    monkeypatch.delenv("MSEARCH_HNSW_EF")
    with open_store(load_config(None, store_path=str(tmp_path / "s"))) as store:
        assert store.engine.options.exact is True  # type: ignore[attr-defined]  # the default
    with pytest.raises(InvalidInputError, match="hnsw_ef"):
        load_config(toml, hnsw_ef="wide")
    with pytest.raises(InvalidInputError, match="hnsw_ef"):
        open_store(load_config(toml, hnsw_ef=-1))


def test_the_framework_stores_pass_it_on(minilm: str, tmp_path: Path) -> None:
    from langchain_msearch import MSearchEmbeddings
    from langchain_msearch import MSearchVectorStore as LangChainStore
    from llamaindex_msearch import MSearchVectorStore as LlamaStore

    chain = LangChainStore(MSearchEmbeddings(model=minilm), path=tmp_path / "lc", hnsw_ef=96)
    assert chain.store.engine.options.hnsw_ef == 96  # type: ignore[attr-defined]
    llama = LlamaStore("li", path=str(tmp_path / "li"), exact=True)
    assert llama.store.engine.options.exact is True  # type: ignore[attr-defined]
    with pytest.raises(InvalidInputError, match="hnsw_ef"):
        LangChainStore(MSearchEmbeddings(model=minilm), location=":memory:", hnsw_ef=0)
