"""msearch.store on both embedded engines: qdrant-client's local mode and Qdrant Edge.

The store's own tests (tests/unit/test_store.py, written against qdrant-client) are imported
and run again here on a Qdrant Edge store; the tests below are parametrized over both engines,
and the last ones cover what only Edge has (folders, optimize, search parameters, indexes).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from qdrant_client import models

from msearch.errors import InvalidInputError, SchemaMismatchError, StoreError
from msearch.store import EdgeEngine, EdgeOptions, Hit, Record, Schema, Store, VectorSpec, point_id
from msearch.store.client import Connection, connect
from msearch.store.client_engine import ClientEngine
from tests.unit.test_store import (
    SCHEMA,
    _record,
    test_async_twins,
    test_bad_k_is_refused,
    test_delete_by_ids_source_and_doc_id,
    test_delete_takes_the_intersection_of_ids_and_conditions,
    test_dense_sparse_and_fused_queries,
    test_filters_on_metadata_and_own_fields,
    test_metadata_keys_named_like_own_fields_are_the_callers,
    test_upsert_get_keeps_ids_content_metadata,
    test_upsert_same_id_replaces,
    test_wrong_dimension_names_both_sizes_and_writes_nothing,
)

__all__ = [  # the imported store tests, collected again here on the Edge `store` fixture
    "test_async_twins",
    "test_bad_k_is_refused",
    "test_delete_by_ids_source_and_doc_id",
    "test_delete_takes_the_intersection_of_ids_and_conditions",
    "test_dense_sparse_and_fused_queries",
    "test_filters_on_metadata_and_own_fields",
    "test_metadata_keys_named_like_own_fields_are_the_callers",
    "test_upsert_get_keeps_ids_content_metadata",
    "test_upsert_same_id_replaces",
    "test_wrong_dimension_names_both_sizes_and_writes_nothing",
]

ENGINES = ["qdrant-client", "edge"]


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store("unit", SCHEMA, location=":memory:", engine="edge")
    yield s
    s.close()


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@settings(max_examples=6, deadline=None)
@given(st.lists(st.text(max_size=40), min_size=1, max_size=5, unique=True))
def test_ids_of_any_string_form_round_trip_on_edge(ids: list[str]) -> None:
    with Store("ids", Schema({"text": VectorSpec(2)}), location=":memory:", engine="edge") as s:
        s.upsert([Record(id=i, vectors={"text": [1.0, float(n)]}) for n, i in enumerate(ids)])
        assert [h.id for h in s.get(ids)] == ids
        assert {h.id for h in s.query("text", [1.0, 0.0], k=len(ids))} == set(ids)


def test_mmr_prefers_diverse_results(engine: str) -> None:
    with Store("mmr", Schema({"text": VectorSpec(2)}), location=":memory:", engine=engine) as s:
        s.upsert(
            [
                Record(id="a", vectors={"text": [1.0, 0.0]}),
                Record(id="a-twin", vectors={"text": [0.999, 0.01]}),
                Record(id="b", vectors={"text": [0.7, 0.7]}),
            ]
        )
        assert [h.id for h in s.query("text", [1.0, 0.0], k=2)] == ["a", "a-twin"]
        assert [h.id for h in s.mmr_query("text", [1.0, 0.0], k=2, lambda_mult=0.3)] == ["a", "b"]


def test_empty_and_missing_collection(engine: str) -> None:
    with Store("nothing", location=":memory:", engine=engine) as s:
        assert s.schema is None
        assert s.query("text", [1.0], k=3) == [] and s.get(["x"]) == [] and s.count() == 0
        assert s.upsert([]) == [] and s.optimize() is False
        with pytest.raises(SchemaMismatchError, match="does not exist yet"):
            s.upsert([Record(id="x", vectors={"text": [1.0]})])


def test_payload_indexes_and_persisting_on_both_engines(engine: str) -> None:
    """index_payload, optimize and flush go through the engine (its lock and its errors) on
    both engines, and a kind neither builds is refused by name."""
    with Store("indexed", Schema({"text": VectorSpec(2)}), location=":memory:", engine=engine) as s:
        s.upsert(
            [
                Record(id="a", vectors={"text": [1.0, 0.0]}, metadata={"lang": "en"}),
                Record(id="b", vectors={"text": [0.9, 0.1]}, metadata={"lang": "fr"}),
            ]
        )
        s.index_payload("lang")
        s.index_payload("source")
        hits = s.query("text", [1.0, 0.0], k=2, filter={"lang": "fr"})
        assert [h.id for h in hits] == ["b"]
        with pytest.raises(InvalidInputError, match="payload index kind must be one of"):
            s.index_payload("lang", "colour")
        if engine == "edge":
            indexed = s.engine.payload_indexes("indexed")  # type: ignore[attr-defined]
            assert {"metadata.lang", "source"} <= set(indexed)
        assert s.optimize() is False  # two points: nothing to build on either engine
        s.flush()
        assert s.count() == 2


def test_both_engines_answer_alike(tmp_path: Path) -> None:
    """Same points, same queries: the same ids, scores and fused scores on both engines."""
    stores = [Store("same", SCHEMA, path=tmp_path / name, engine=name) for name in ENGINES]
    for s in stores:
        s.upsert([_record(i, doc_id=f"d{i % 3}") for i in range(12)])
    queries = [
        lambda s: s.query("text", [1.0, 0.2, 0.0], k=5),
        lambda s: s.query("text_sparse", {3: 1.0, 6: 0.5, 9: 0.2}, k=3),
        lambda s: s.hybrid_query([1.0, 0.2, 0.0], {3: 1.0}, k=5),
        lambda s: s.hybrid_query([0.0, 1.0, 0.0], {7: 1.0}, k=5, fusion="dbsf"),
        lambda s: s.query("text", [1.0, 0.0, 0.0], k=12, filter={"parity": "odd"}),
    ]
    for query in queries:
        client_hits, edge_hits = (query(s) for s in stores)
        assert np.allclose([h.score for h in client_hits], [h.score for h in edge_hits], atol=1e-5)
        assert _ranked(client_hits) == _ranked(edge_hits)
    for s in stores:
        s.close()


def _ranked(hits: list[Hit]) -> list[tuple[float, str]]:
    """Hits by score, ties in id order: engines may order equal scores differently."""
    return sorted((-round(h.score or 0.0, 4), h.id) for h in hits)


FILTERS = [
    models.Filter(must=[models.FieldCondition(key="metadata.i", range=models.Range(gte=3, lt=9))]),
    models.Filter(
        should=[
            models.FieldCondition(key="metadata.parity", match=models.MatchValue(value="odd")),
            models.FieldCondition(key="chunk", match=models.MatchAny(any=[0, 2])),
        ],
        must_not=[models.FieldCondition(key="source", match=models.MatchValue(value="file-1.md"))],
    ),
    models.Filter(
        must=[
            models.FieldCondition(
                key="source", match=models.MatchExcept(**{"except": ["file-0.md"]})
            )
        ]
    ),
    models.Filter(must=[models.IsEmptyCondition(is_empty=models.PayloadField(key="doc_id"))]),
    models.Filter(must=[models.IsNullCondition(is_null=models.PayloadField(key="metadata.note"))]),
    models.Filter(must=[models.HasIdCondition(has_id=[point_id("doc-4"), point_id("doc-7")])]),
    models.Filter(
        min_should=models.MinShould(
            conditions=[
                models.FieldCondition(key="metadata.i", range=models.Range(gt=5)),
                models.FieldCondition(key="metadata.parity", match=models.MatchValue(value="even")),
                models.FieldCondition(key="source", match=models.MatchValue(value="file-2.md")),
            ],
            min_count=2,
        )
    ),
    models.Filter(
        must=[models.FieldCondition(key="metadata.tags", values_count=models.ValuesCount(gte=2))]
    ),
    models.Filter(
        must=[
            models.NestedCondition(
                nested=models.Nested(
                    key="metadata.parts",
                    filter=models.Filter(
                        must=[models.FieldCondition(key="n", match=models.MatchValue(value=1))]
                    ),
                )
            )
        ]
    ),
]


def test_qdrant_filters_select_the_same_points_on_both_engines(tmp_path: Path) -> None:
    stores = [Store("f", SCHEMA, path=tmp_path / name, engine=name) for name in ENGINES]
    records = [_record(i, doc_id="d" if i % 4 else None) for i in range(10)]
    for i, record in enumerate(records):
        record.metadata = {**record.metadata, "tags": list(range(i % 3)), "parts": [{"n": i % 2}]}
        record.metadata["note"] = None if i == 5 else "x"
    for s in stores:
        s.upsert(records)
    for number, condition in enumerate(FILTERS):
        client_ids, edge_ids = ({h.id for h in s.scan(condition)} for s in stores)
        assert client_ids == edge_ids, f"filter {number}"
        assert 0 < len(edge_ids) < 10, f"filter {number} must select some points, not all"
    for s in stores:
        s.close()


def test_auto_chooses_by_folder_contents(tmp_path: Path) -> None:
    with Store("a", Schema({"text": VectorSpec(2)}), path=tmp_path / "new") as fresh:
        assert isinstance(fresh.engine, EdgeEngine)
    with Store("a", Schema({"text": VectorSpec(2)}), path=tmp_path / "qc", engine="qdrant-client"):
        pass
    with Store("a", path=tmp_path / "qc") as old:
        assert isinstance(old.engine, ClientEngine) and old.schema is not None
    with Store("m", location=":memory:") as memory:
        assert isinstance(memory.engine, ClientEngine)


def test_a_folder_opened_with_the_other_engine_names_what_it_found(tmp_path: Path) -> None:
    Store("a", Schema({"text": VectorSpec(2)}), path=tmp_path / "edge", engine="edge").close()
    with pytest.raises(StoreError, match=r"Qdrant Edge store \(msearch-edge.json"):
        Store("a", path=tmp_path / "edge", engine="qdrant-client")
    with pytest.raises(StoreError, match="Qdrant Edge store"):
        connect(Connection(path=tmp_path / "edge"))  # the stock classes' way in
    Store(
        "a", Schema({"text": VectorSpec(2)}), path=tmp_path / "qc", engine="qdrant-client"
    ).close()
    with pytest.raises(StoreError, match=r"qdrant-client embedded store \(meta.json"):
        Store("a", path=tmp_path / "qc", engine="edge")


def test_reopening_with_another_schema_names_the_recorded_one(tmp_path: Path) -> None:
    Store("c", Schema({"text": VectorSpec(3, model="minilm")}), path=tmp_path).close()
    with pytest.raises(SchemaMismatchError, match=r"'minilm'.*'other'"):
        Store("c", Schema({"text": VectorSpec(3, model="other")}), path=tmp_path)
    with pytest.raises(SchemaMismatchError, match=r"3-dimensional.*4-dimensional"):
        Store("c", Schema({"text": VectorSpec(4)}), path=tmp_path)


def test_bad_engine_choices_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="engine must be one of"):
        Store("a", path=tmp_path, engine="lucene")
    with pytest.raises(InvalidInputError, match="embedded engine"):
        Store("a", url="http://localhost:6333", engine="edge")
    with pytest.raises(InvalidInputError, match="edge_options"):
        Store("a", location=":memory:", edge_options=EdgeOptions(hnsw_ef=64))
    with pytest.raises(InvalidInputError, match="cannot name a folder"):
        Store("a/b", path=tmp_path, engine="edge")
    with pytest.raises(InvalidInputError, match="positive int"):
        EdgeOptions(hnsw_ef=0)


def test_edge_folder_persists_and_is_shared_within_a_process(tmp_path: Path) -> None:
    first = Store("p", SCHEMA, path=tmp_path)
    second = Store("p", path=tmp_path)
    first.upsert([_record(i) for i in range(4)])
    first.close()
    assert second.count() == 4  # the other user keeps the shard open
    second.close()
    with Store("p", path=tmp_path) as reopened:
        assert reopened.schema == SCHEMA
        assert reopened.get(["doc-2"])[0].content == "content 2"
        assert reopened.query("text", [1.0, 0.0, 0.0], k=1)[0].id == "doc-0"
    with pytest.raises(StoreError, match="closed"):
        reopened.count()


def test_memory_edge_store_leaves_no_folder() -> None:
    s = Store("t", Schema({"text": VectorSpec(2)}), location=":memory:", engine="edge")
    root = s.engine.root  # type: ignore[attr-defined]
    assert root.is_dir()
    s.close()
    assert not root.exists()


def _clustered(n: int, dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(20, dim))
    vectors = centers[rng.integers(0, 20, n)] + 0.5 * rng.normal(size=(n, dim))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def test_optimize_builds_the_index_after_a_bulk_load(tmp_path: Path) -> None:
    vectors = _clustered(1500, 16)
    options = EdgeOptions(indexing_threshold_kb=10, full_scan_threshold_kb=1, m=8, ef_construct=32)
    schema = Schema({"text": VectorSpec(16)})
    with Store("bulk", schema, path=tmp_path, edge_options=options, batch_size=500) as s:
        s.upsert([Record(id=str(i), vectors={"text": v}) for i, v in enumerate(vectors)])
        shard = s.engine._shard("bulk")  # type: ignore[attr-defined]
        assert shard.info().indexed_vectors_count == 0  # plain segment: exact search
        assert s.optimize() is True
        assert shard.info().indexed_vectors_count > 0
        queries = vectors[:20] + 0.05
        exact = np.argsort(-(vectors @ queries.T), axis=0)[:10].T
        found = [[int(h.id) for h in s.query("text", q, k=10)] for q in queries]
        recall = np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact, strict=True)])
        assert recall >= 0.9
        s.engine.options = EdgeOptions(exact=True)  # type: ignore[attr-defined]
        found = [[int(h.id) for h in s.query("text", q, k=10)] for q in queries]
        assert found == exact.tolist()


def test_payload_indexes(tmp_path: Path) -> None:
    with Store("idx", SCHEMA, path=tmp_path, engine="edge") as s:
        s.upsert([_record(i) for i in range(6)])
        s.index_payload("parity")
        s.index_payload("i", "integer")
        indexes = s.engine.payload_indexes("idx")  # type: ignore[attr-defined]
        assert {"source", "modality", "doc_id", "metadata.parity", "metadata.i"} <= set(indexes)
        assert indexes["metadata.i"] == 6
        assert s.count({"parity": "odd"}) == 3
        with pytest.raises(InvalidInputError, match="payload index kind"):
            s.index_payload("i", "vector")


def test_sparse_vectors_come_back_alike(engine: str) -> None:
    with Store("sv", SCHEMA, location=":memory:", engine=engine) as s:
        s.upsert([_record(1)])
        vectors = s.get(["doc-1"], with_vectors=True)[0].vectors or {}
        sparse = vectors["text_sparse"]
        assert isinstance(sparse, models.SparseVector)
        assert (sparse.indices, sparse.values) == ([1, 101], [1.0, 0.5])
