"""``EdgeEngine``: the store's engine on Qdrant Edge, Qdrant's own engine run in-process.

One embedded folder holds many collections, one Edge shard each::

    folder/msearch-edge.json                  marker: which engine owns the folder
    folder/collections/<name>/msearch.json    msearch's schema record for the collection
    folder/collections/<name>/shard/          the Edge shard (WAL, segments, HNSW graphs)

Writes land in the shard's write-ahead log before ``upsert`` returns, so a killed process
loses nothing it was told was written; ``flush`` also persists the segments (reopening is
then faster). New points go into a plain segment that is searched exactly; ``optimize``
builds the HNSW index after a bulk load. Within one process every store on a folder shares
the open shards; another process opening the same collection gets ``StoreLockedError``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from msearch._deps import require
from msearch.datatypes import SparseVector
from msearch.errors import InvalidInputError, StoreError
from msearch.store import schema as s
from msearch.store.edge_filters import to_edge
from msearch.store.edge_folder import (
    REBUILD,
    RECORD,
    SHARD,
    EdgeFolder,
    acquire,
    call,
    check_space,
    read_json,
    release,
)
from msearch.store.engine import (
    CreateOptions,
    Point,
    Prefetch,
    QueryVector,
    StoredPoint,
    check_payload_index_kind,
    native_vector,
    stored_point,
)

if TYPE_CHECKING:
    from qdrant_client import models
else:
    from msearch.store import qdrant_models as models



@dataclass(frozen=True)
class EdgeOptions:
    """Qdrant Edge settings: search parameters, and how new collections build their index.

    ``hnsw_ef`` (candidates kept while searching the graph: higher is slower and more exact)
    and ``exact`` (scan every vector, no index) apply to every query. ``m``,
    ``ef_construct``, ``full_scan_threshold_kb`` and ``indexing_threshold_kb`` are fixed
    when a collection is created; ``None`` keeps Qdrant's defaults.

    >>> EdgeOptions(hnsw_ef=128).exact
    False
    """

    hnsw_ef: int | None = None
    exact: bool = False
    m: int | None = None
    ef_construct: int | None = None
    full_scan_threshold_kb: int | None = None
    indexing_threshold_kb: int | None = None
    max_indexing_threads: int = 0
    max_search_threads: int | None = None

    def __post_init__(self) -> None:
        for name in ("hnsw_ef", "m", "ef_construct", "full_scan_threshold_kb"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise InvalidInputError(f"EdgeOptions.{name} must be a positive int, got {value!r}")


class EdgeEngine:
    """The store's engine on Qdrant Edge (``pip install "msearch[edge]"``).

    ``folder=None`` keeps the data in a temporary folder removed at ``close`` (what
    ``Store(location=":memory:", engine="edge")`` uses).

    >>> from msearch.store import Record, Schema, Store, VectorSpec
    >>> store = Store("demo", Schema({"text": VectorSpec(2)}), location=":memory:", engine="edge")
    >>> store.upsert([Record(id="a", vectors={"text": [1.0, 0.0]})])
    ['a']
    >>> [hit.id for hit in store.query("text", [0.9, 0.1], k=1)]
    ['a']
    >>> store.close()
    """

    def __init__(
        self, folder: str | os.PathLike[str] | None = None, options: EdgeOptions | None = None
    ) -> None:
        self.qe = require("qdrant_edge", "edge")
        self.options = options or EdgeOptions()
        self._folder: EdgeFolder | None = acquire(self.qe, folder)
        self.root = self._open().root

    # -- collections -----------------------------------------------------------------
    def collection_exists(self, name: str) -> bool:
        return self._open().exists(name)

    def create_collection(self, name: str, schema: s.Schema, options: CreateOptions) -> None:
        self._open().create(name, schema, self._config(schema))

    def schema_record(self, name: str) -> dict[str, Any] | None:
        path = self._open().directory(name) / RECORD
        if not path.is_file():
            return None
        data = read_json(path)
        if not isinstance(data, dict):
            raise StoreError(f"{path} is not an msearch collection record: {REBUILD}")
        record = data.get(s.METADATA_KEY)
        return dict(record) if isinstance(record, dict) else None

    def vector_names(self, name: str) -> list[str]:
        config_path = self._open().directory(name) / SHARD / "edge_config.json"
        config = read_json(config_path)
        if not isinstance(config, dict):
            raise StoreError(f"{config_path} is not an Edge shard config: {REBUILD}")
        return [*config.get("vectors", {}), *config.get("sparse_vectors", {})]

    def delete_collection(self, name: str) -> None:
        self._open().drop(name)

    def recorded_count(self, name: str) -> int | None:
        self._shard(name)  # opening the shard compares the record with the points found
        return self._open().recorded_count(name)

    def file_check(self, name: str) -> str | None:
        self._shard(name)  # opening the shard checks its files first
        return self._open().checks.get(name)

    # -- points ----------------------------------------------------------------------
    def upsert(self, name: str, points: Sequence[Point]) -> None:
        folder = self._open()
        if not folder.temporary:
            check_space(folder.root, sum(_size(point) for point in points))
        qe = self.qe
        edge_points = [
            qe.Point(
                point.point_id,
                {key: self._vector(vector) for key, vector in point.vectors.items()},
                point.payload,
            )
            for point in points
        ]
        self._update(name, qe.UpdateOperation.upsert_points(edge_points))

    def delete_points(self, name: str, point_ids: Sequence[str]) -> None:
        self._update(name, self.qe.UpdateOperation.delete_points(list(point_ids)), deletes=True)

    def delete_where(self, name: str, filter: models.Filter) -> None:
        operation = self.qe.UpdateOperation.delete_points_by_filter(to_edge(self.qe, filter))
        self._update(name, operation, deletes=True)

    def retrieve(
        self, name: str, point_ids: Sequence[str], with_vectors: bool
    ) -> list[StoredPoint]:
        shard = self._shard(name)
        records = call(shard.retrieve, list(point_ids), True, with_vectors)
        return [_stored(record) for record in records]

    def search(
        self,
        name: str,
        using: str,
        vector: QueryVector,
        limit: int,
        filter: models.Filter | None,
        with_vectors: bool,
    ) -> list[StoredPoint]:
        qe = self.qe
        request = qe.QueryRequest(
            limit=limit,
            query=qe.Query.Nearest(self._vector(vector), using=using),
            filter=to_edge(qe, filter),
            params=self._params(),
            with_payload=True,
            with_vector=with_vectors,
        )
        return [_stored(point) for point in call(self._shard(name).query, request)]

    def fuse(
        self,
        name: str,
        prefetch: Sequence[Prefetch],
        fusion: str,
        limit: int,
        filter: models.Filter | None,
    ) -> list[StoredPoint]:
        qe = self.qe
        edge_filter = to_edge(qe, filter)
        # k=2 is Qdrant's RRF constant on a server and in qdrant-client, so scores agree.
        method = qe.Fusion.Rrf(k=2) if fusion == "rrf" else qe.Fusion.Dbsf()
        request = qe.QueryRequest(
            limit=limit,
            prefetches=[
                qe.Prefetch(
                    limit=item.limit,
                    query=qe.Query.Nearest(self._vector(item.vector), using=item.using),
                    filter=edge_filter,
                    params=self._params(),
                )
                for item in prefetch
            ],
            query=method,
            filter=edge_filter,
            with_payload=True,
        )
        return [_stored(point) for point in call(self._shard(name).query, request)]

    def count(self, name: str, filter: models.Filter | None) -> int:
        request = self.qe.CountRequest(exact=True, filter=to_edge(self.qe, filter))
        return int(call(self._shard(name).count, request))

    def scroll(
        self, name: str, filter: models.Filter | None, limit: int, offset: str | None
    ) -> tuple[list[StoredPoint], str | None]:
        request = self.qe.ScrollRequest(
            offset=offset,
            limit=limit,
            filter=to_edge(self.qe, filter),
            with_payload=True,
            with_vector=False,
        )
        records, next_offset = call(self._shard(name).scroll, request)
        return [_stored(r) for r in records], None if next_offset is None else str(next_offset)

    # -- Edge's own operations ---------------------------------------------------------
    def optimize(self, name: str) -> bool:
        """Build HNSW indexes (and merge segments) now; True if anything changed."""
        shard = self._shard(name)
        self._open().changing(name)
        return bool(call(shard.optimize))

    def flush(self, name: str) -> None:
        """Persist segments to disk now (the WAL already keeps every acknowledged write)."""
        shard = self._shard(name)
        self._open().changing(name)
        call(shard.flush)

    def create_payload_index(self, name: str, field: str, kind: str) -> None:
        check_payload_index_kind(kind)
        schema_type = getattr(self.qe.PayloadSchemaType, kind.capitalize())
        self._update(name, self.qe.UpdateOperation.create_field_index(field, schema_type))

    def payload_indexes(self, name: str) -> dict[str, int]:
        """Indexed payload fields and how many points each index holds."""
        info = call(self._shard(name).info)
        return {key: int(value.points) for key, value in info.payload_schema.items()}

    def close(self) -> None:
        if self._folder is not None:
            release(self._folder)
            self._folder = None

    # -- helpers -----------------------------------------------------------------------
    def _open(self) -> EdgeFolder:
        if self._folder is None:
            raise StoreError("this Qdrant Edge store is closed")
        return self._folder

    def _shard(self, name: str) -> Any:
        return self._open().shard(name)

    def _update(self, name: str, operation: Any, deletes: bool = False) -> None:
        """Apply ``operation`` and record the collection's new count. A delete first records
        the count as unknown, so that one interrupted half-way is not taken for damage."""
        folder, shard = self._open(), self._shard(name)
        folder.changing(name)
        if deletes:
            folder.record_count(name, None)
        call(shard.update, operation)
        if not folder.temporary:
            folder.record_count(name, self.count(name, None))

    def _params(self) -> Any:
        if self.options.hnsw_ef is None and not self.options.exact:
            return None
        return self.qe.SearchParams(hnsw_ef=self.options.hnsw_ef, exact=self.options.exact)

    def _vector(self, vector: QueryVector) -> Any:
        return native_vector(vector, self.qe.SparseVector)

    def _config(self, schema: s.Schema) -> Any:
        qe, o = self.qe, self.options
        hnsw = None
        if o.m is not None or o.ef_construct is not None or o.full_scan_threshold_kb is not None:
            hnsw = qe.HnswIndexConfig(
                m=o.m or 16,
                ef_construct=o.ef_construct or 100,
                full_scan_threshold=o.full_scan_threshold_kb or 10_000,
                max_indexing_threads=o.max_indexing_threads,
            )
        optimizers = None
        if o.indexing_threshold_kb is not None:
            optimizers = qe.EdgeOptimizersConfig(indexing_threshold=o.indexing_threshold_kb)
        return qe.EdgeConfig(
            vectors={
                name: qe.EdgeVectorParams(size=spec.size, distance=_DISTANCES[spec.distance](qe))
                for name, spec in schema.vectors.items()
            },
            sparse_vectors={
                name: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf if spec.idf else None)
                for name, spec in schema.sparse.items()
            },
            hnsw_config=hnsw,
            optimizers=optimizers,
            max_search_threads=o.max_search_threads,
        )


_DISTANCES = {
    s.Distance.COSINE: lambda qe: qe.Distance.Cosine,
    s.Distance.DOT: lambda qe: qe.Distance.Dot,
    s.Distance.EUCLID: lambda qe: qe.Distance.Euclid,
    s.Distance.MANHATTAN: lambda qe: qe.Distance.Manhattan,
}


def _stored(point: Any) -> StoredPoint:
    return stored_point(point, _vectors(point.vector))


def _vectors(vectors: Any) -> dict[str, Any] | None:
    """Edge's named vectors in qdrant-client's types, as ``ClientEngine`` returns them."""
    if not isinstance(vectors, dict):
        return None
    return {
        name: value
        if isinstance(value, list)
        else models.SparseVector(indices=list(value.indices), values=list(value.values))
        for name, value in vectors.items()
    }


def _size(point: Point) -> int:
    """About how many bytes ``point`` takes on disk: its vectors and its payload."""
    vectors = sum(
        4 * (len(v.indices) * 2 if isinstance(v, SparseVector) else len(v))
        for v in point.vectors.values()
    )
    return vectors + len(repr(point.payload))
