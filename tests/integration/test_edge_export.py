"""Exporting an embedded collection to Qdrant through qdrant-client's API, point for point.

No Qdrant server runs here, so the target is qdrant-client's embedded folder, reached through
the same QdrantClient API a server answers; every point is compared after the copy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from qdrant_client import QdrantClient

from msearch.datatypes import SparseVector
from msearch.errors import InvalidInputError, StoreError
from msearch.store import Record, Schema, SparseSpec, Store, VectorSpec
from msearch.store.export import export_collection

SCHEMA = Schema(
    vectors={"text": VectorSpec(8, model="toy"), "image": VectorSpec(4, "dot", model="clip")},
    sparse={"text_sparse": SparseSpec(model="toy-sparse")},
)
N = 330  # several pages of 100, the last one short


def _records(n: int) -> list[Record]:
    rng = np.random.default_rng(7)
    records = []
    for i in range(n):
        vectors = {
            "text": rng.normal(size=8),
            "text_sparse": SparseVector(np.array([i % 50, 1000 + i]), np.array([0.5, 1.5])),
        }
        if i % 3 == 0:  # not every point has every vector
            vectors["image"] = rng.normal(size=4)
        records.append(
            Record(
                id=f"doc-{i}",
                vectors=vectors,
                content=f"passage {i}",
                metadata={"i": i, "tags": ["a", "b"][: i % 3], "nested": {"x": i / 7}},
                source=f"file-{i % 9}.md",
                chunk=i % 5,
                doc_id=f"file-{i % 9}.md",
            )
        )
    return records


@pytest.mark.parametrize("engine", ["edge", "qdrant-client"])
def test_export_copies_every_point(tmp_path: Path, engine: str) -> None:
    source = Store("notes", SCHEMA, path=tmp_path / "source", engine=engine)
    source.upsert(_records(N))
    target_client = QdrantClient(path=str(tmp_path / "target"))
    copied = export_collection(
        source, client=target_client, collection_name="moved", batch_size=100, progress=False
    )
    assert copied == N
    target = Store("moved", client=target_client)
    assert target.schema == SCHEMA and target.count() == N

    ids = [f"doc-{i}" for i in range(N)]
    before = {hit.id: hit for hit in source.get(ids, with_vectors=True)}
    after = {hit.id: hit for hit in target.get(ids, with_vectors=True)}
    assert before.keys() == after.keys() == set(ids)
    for caller_id, old in before.items():
        new = after[caller_id]
        assert new.point_id == old.point_id and new.payload == old.payload
        old_vectors, new_vectors = old.vectors or {}, new.vectors or {}
        assert old_vectors.keys() == new_vectors.keys()
        for name, vector in old_vectors.items():
            if name == "text_sparse":
                assert (new_vectors[name].indices, new_vectors[name].values) == (
                    vector.indices,
                    vector.values,
                )
            else:
                assert np.allclose(new_vectors[name], vector, atol=1e-6)

    query = np.random.default_rng(1).normal(size=8)
    assert [h.id for h in source.query("text", query, k=10)] == [
        h.id for h in target.query("text", query, k=10)
    ]
    # Re-running the export (an interrupted one, say) overwrites: no duplicates.
    assert export_collection(source, client=target_client, collection_name="moved") == N
    assert target.count() == N
    target.close()
    target_client.close()
    source.close()


def test_export_refuses_what_it_cannot_do(tmp_path: Path) -> None:
    with Store("empty", path=tmp_path / "e", engine="edge") as empty:
        with pytest.raises(StoreError, match="nothing to export"):
            export_collection(empty, client=QdrantClient(":memory:"))
        with pytest.raises(InvalidInputError, match="exactly one of url"):
            export_collection(empty)
    target = QdrantClient(":memory:")
    Store("c", Schema({"text": VectorSpec(8, model="other")}), client=target).close()
    with Store("c", SCHEMA, path=tmp_path / "s", engine="edge") as source:
        source.upsert(_records(3))
        with pytest.raises(Exception, match="'other'"):
            export_collection(source, client=target)
        assert export_collection(source, client=target, recreate=True) == 3
