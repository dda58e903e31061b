"""msearch.store on qdrant-client's embedded in-memory mode, with explicit vectors.

These tests exercise the store itself (schema, ids, checks, filters, fusion), so they give it
vectors directly; the framework tests embed with the real MiniLM.
"""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from qdrant_client import QdrantClient, models

from msearch.datatypes import SparseVector
from msearch.errors import InvalidInputError, SchemaMismatchError
from msearch.store import Record, Schema, SparseSpec, Store, VectorSpec, point_id
from msearch.store.filters import own_fields
from msearch.store.records import checked_payload
from msearch.store.schema import METADATA_KEY

SCHEMA = Schema(
    vectors={"text": VectorSpec(3, model="toy-dense")},
    sparse={"text_sparse": SparseSpec(model="toy-sparse")},
)


def _record(i: int, **fields: object) -> Record:
    angle = i * 0.3
    defaults: dict[str, object] = {
        "id": f"doc-{i}",
        "vectors": {
            "text": np.array([np.cos(angle), np.sin(angle), 0.1 * i]),
            "text_sparse": SparseVector(np.array([i, 100 + i % 2]), np.array([1.0, 0.5])),
        },
        "content": f"content {i}",
        "metadata": {"i": i, "parity": "even" if i % 2 == 0 else "odd"},
        "source": f"file-{i % 3}.md",
        "chunk": i,
    }
    return Record(**{**defaults, **fields})  # type: ignore[arg-type]


@pytest.fixture
def store() -> Store:
    s = Store("unit", SCHEMA, location=":memory:")
    yield s
    s.close()


def test_point_ids_are_deterministic_uuids() -> None:
    assert point_id("a") == point_id("a") != point_id("b")
    assert uuid.UUID(point_id("a")).version == 5


def test_collection_records_models_and_sizes(store: Store) -> None:
    assert store.client is not None
    metadata = store.client.get_collection("unit").config.metadata
    recorded = metadata[METADATA_KEY]
    assert recorded["vectors"]["text"] == {"size": 3, "distance": "cosine", "model": "toy-dense"}
    assert recorded["sparse"]["text_sparse"]["model"] == "toy-sparse"


def test_upsert_get_keeps_ids_content_metadata(store: Store) -> None:
    ids = store.upsert([_record(i) for i in range(5)])
    assert ids == [f"doc-{i}" for i in range(5)]
    hits = store.get(["doc-3", "missing", "doc-1"])
    assert [h.id for h in hits] == ["doc-3", "doc-1"]
    assert hits[0].content == "content 3"
    assert hits[0].metadata == {"i": 3, "parity": "odd"}
    assert hits[0].source == "file-0.md" and hits[0].payload["chunk"] == 3
    assert store.count() == 5


def test_upsert_same_id_replaces(store: Store) -> None:
    store.upsert([_record(1)])
    replaced = _record(1)
    replaced.content = "new"
    store.upsert([replaced])
    assert store.count() == 1 and store.get(["doc-1"])[0].content == "new"


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(max_size=40), min_size=1, max_size=5, unique=True))
def test_ids_of_any_string_form_round_trip(ids: list[str]) -> None:
    with Store("ids", Schema({"text": VectorSpec(2)}), location=":memory:") as s:
        s.upsert([Record(id=i, vectors={"text": [1.0, float(n)]}) for n, i in enumerate(ids)])
        assert [h.id for h in s.get(ids)] == ids
        assert {h.id for h in s.query("text", [1.0, 0.0], k=len(ids))} == set(ids)


def test_wrong_dimension_names_both_sizes_and_writes_nothing(store: Store) -> None:
    bad = Record(id="bad", vectors={"text": np.ones(5)})
    with pytest.raises(SchemaMismatchError, match=r"5 dimensions.*3-dimensional"):
        store.upsert([_record(0), bad, _record(2)])
    assert store.count() == 0
    with pytest.raises(SchemaMismatchError, match="2 dimensions"):
        store.query("text", [1.0, 0.0], k=1)


@pytest.mark.parametrize("k", [0, -1, True, 1.5])
def test_bad_k_is_refused(store: Store, k: object) -> None:
    store.upsert([_record(0)])
    with pytest.raises(InvalidInputError, match="k must be a positive integer"):
        store.query("text", [1.0, 0.0, 0.0], k=k)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="k must be a positive integer"):
        store.hybrid_query([1.0, 0.0, 0.0], {1: 1.0}, k=k)  # type: ignore[arg-type]


def test_another_models_vectors_are_refused(store: Store) -> None:
    other = Schema({"text": VectorSpec(3, model="other-model")})
    with pytest.raises(SchemaMismatchError, match=r"'toy-dense'.*'other-model'"):
        Store("unit", other, client=store.client)
    with pytest.raises(SchemaMismatchError, match=r"3-dimensional.*4-dimensional"):
        Store("unit", Schema({"text": VectorSpec(4, model="toy-dense")}), client=store.client)
    with pytest.raises(SchemaMismatchError, match="no dense vector 'image'"):
        Store("unit", Schema({"image": VectorSpec(3)}), client=store.client)


def test_collection_of_a_stock_class_is_not_taken_for_msearch() -> None:
    client = QdrantClient(":memory:")
    client.create_collection("stock", {"": models.VectorParams(size=3, distance="Cosine")})
    with pytest.raises(SchemaMismatchError, match="not created by msearch"):
        Store("stock", client=client)


def test_reserved_vector_names_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="langchain-sparse"):
        Schema(sparse={"langchain-sparse": SparseSpec()})


def test_dense_sparse_and_fused_queries(store: Store) -> None:
    store.upsert([_record(i) for i in range(6)])
    dense = store.query("text", [1.0, 0.0, 0.0], k=2)
    assert dense[0].id == "doc-0" and dense[0].score is not None
    sparse = store.query("text_sparse", SparseVector(np.array([4]), np.array([1.0])), k=1)
    assert [h.id for h in sparse] == ["doc-4"]
    fused = store.hybrid_query([1.0, 0.0, 0.0], {4: 1.0}, k=2)
    assert {h.id for h in fused} == {"doc-0", "doc-4"}
    dbsf = store.hybrid_query([1.0, 0.0, 0.0], {4: 1.0}, k=2, fusion="dbsf")
    assert {h.id for h in dbsf} == {"doc-0", "doc-4"}
    with pytest.raises(InvalidInputError, match="fusion"):
        store.hybrid_query([1.0, 0.0, 0.0], {4: 1.0}, fusion="max")


def test_filters_on_metadata_and_own_fields(store: Store) -> None:
    store.upsert([_record(i) for i in range(6)])
    hits = store.query("text", [1.0, 0.0, 0.0], k=6, filter={"parity": "odd"})
    assert {h.id for h in hits} == {"doc-1", "doc-3", "doc-5"}
    assert store.count({"i": [0, 5]}) == 2
    # msearch's own fields are reached with own_fields() (or a raw Filter), never by a dict key
    assert store.count(own_fields(source="file-1.md")) == 2
    assert store.count({"source": "file-1.md"}) == 0
    raw = models.Filter(must=[models.FieldCondition(key="metadata.i", range=models.Range(gte=4))])
    assert {h.id for h in store.scan(raw)} == {"doc-4", "doc-5"}
    with pytest.raises(InvalidInputError, match="filter 'i'"):
        store.count({"i": {"gte": 3}})


def test_metadata_keys_named_like_own_fields_are_the_callers(store: Store) -> None:
    own_named = {"source": 7, "modality": "x", "doc_id": "m", "id": "mine", "chunk": "c"}
    store.upsert([_record(0, metadata=own_named), _record(1)])
    for key, value in own_named.items():
        assert [h.id for h in store.scan({key: value})] == ["doc-0"], key
    assert store.get(["doc-0"])[0].metadata == own_named


def test_delete_takes_the_intersection_of_ids_and_conditions(store: Store) -> None:
    topics = {"a": "y", "b": "y", "c": "z"}
    store.upsert(
        [_record(i, id=name, metadata={"topic": t}) for i, (name, t) in enumerate(topics.items())]
    )
    store.delete(["a"], filter={"topic": "y"})
    assert sorted(h.id for h in store.scan()) == ["b", "c"]
    store.delete(["b", "c"], filter={"topic": "z"})
    assert [h.id for h in store.scan()] == ["b"]
    store.delete(["b"], source="elsewhere.md")
    assert [h.id for h in store.scan()] == ["b"]
    store.delete([], filter={"topic": "y"})  # no ids: nothing matches both
    assert [h.id for h in store.scan()] == ["b"]


def test_delete_by_ids_source_and_doc_id(store: Store) -> None:
    store.upsert([_record(i, doc_id=f"d{i % 2}") for i in range(6)])
    store.delete(["doc-0"])
    assert store.count() == 5
    store.delete(source="file-1.md")
    assert {h.id for h in store.scan()} == {"doc-2", "doc-3", "doc-5"}
    store.delete(doc_id="d1")
    assert [h.id for h in store.scan()] == ["doc-2"]
    with pytest.raises(InvalidInputError):
        store.delete()


def test_mmr_prefers_diverse_results() -> None:
    with Store("mmr", Schema({"text": VectorSpec(2)}), location=":memory:") as s:
        s.upsert(
            [
                Record(id="a", vectors={"text": [1.0, 0.0]}),
                Record(id="a-twin", vectors={"text": [0.999, 0.01]}),
                Record(id="b", vectors={"text": [0.7, 0.7]}),
            ]
        )
        assert [h.id for h in s.query("text", [1.0, 0.0], k=2)] == ["a", "a-twin"]
        assert [h.id for h in s.mmr_query("text", [1.0, 0.0], k=2, lambda_mult=0.3)] == ["a", "b"]


def test_empty_and_missing_collection() -> None:
    with Store("nothing", location=":memory:") as s:
        assert s.schema is None
        assert s.query("text", [1.0], k=3) == [] and s.get(["x"]) == [] and s.count() == 0
        assert s.upsert([]) == []
        with pytest.raises(SchemaMismatchError, match="does not exist yet"):
            s.upsert([Record(id="x", vectors={"text": [1.0]})])


async def test_async_twins(store: Store) -> None:
    await store.aupsert([_record(i) for i in range(3)])
    assert await store.acount() == 3
    hits = await store.aquery("text", [1.0, 0.0, 0.0], 1)
    assert hits[0].id == "doc-0"
    await store.adelete(["doc-0"])
    assert [h.id for h in await store.aget(["doc-0", "doc-1"])] == ["doc-1"]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"m": {"x": [1, {"y": float("inf")}]}}, "r['m']['x'][1]['y'] is inf; JSON has no NaN"),
        ({"m": {"k\udc00": 1}}, "r['m'] has a key that is not valid Unicode"),
        ({"m": {1: "one"}}, "r['m'] has the key 1 (int); keys must be strings"),
        ({"m": [b"raw"]}, "r['m'][0] is bytes; stored values must be"),
        ({"n": 2**70}, f"r['n'] is {2**70}, outside the 64-bit range"),
    ],
)
def test_refused_payload_values_are_named_by_where_they_are(payload, message) -> None:
    with pytest.raises(InvalidInputError) as refused:
        checked_payload(payload, "r")
    assert str(refused.value).startswith(message)


def test_a_hit_reads_msearchs_own_fields_by_the_schemas_names() -> None:
    from msearch.store import schema
    from msearch.store.records import hit_from_point

    payload = {schema.SOURCE: "a.md", schema.MODALITY: "speech", schema.DOC_ID: "d", schema.ID: "x"}
    hit = hit_from_point("p", payload, 0.5)
    assert (hit.id, hit.source, hit.modality, hit.doc_id) == ("x", "a.md", "speech", "d")
