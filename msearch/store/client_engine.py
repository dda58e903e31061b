"""``ClientEngine``: the store's engine on qdrant-client, embedded (local mode) or a server."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from grpc import RpcError
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ApiException

from msearch.errors import StoreError
from msearch.store import schema as s
from msearch.store.engine import (
    CreateOptions,
    Point,
    Prefetch,
    QueryVector,
    SearchWidth,
    StoredPoint,
    check_payload_index_kind,
    native_vector,
    stored_point,
)

T = TypeVar("T")


class ClientEngine:
    """The engine on a ``QdrantClient``: embedded (local mode) or remote.

    qdrant-client's local mode is plain Python with no locking of its own, so calls into an
    embedded client are serialized; a remote client is left to run calls in parallel.
    """

    def __init__(
        self,
        client: QdrantClient,
        on_close: Callable[[], None] | None = None,
        search: SearchWidth | None = None,
    ) -> None:
        self.client = client
        self.embedded = _is_local(client)
        # qdrant-client's local mode always searches exactly (and warns at search_params)
        self.search_params = None if search is None or self.embedded else _search_params(search)
        self._lock: threading.RLock | None = threading.RLock() if self.embedded else None
        self._on_close = on_close

    def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self._lock is None:
            try:
                return fn(*args, **kwargs)
            except (ApiException, RpcError) as err:  # unreachable, HTTP/gRPC errors, bad answers
                what = getattr(fn, "__name__", "a call")
                details = getattr(err, "details", None)  # a gRPC error's own message
                detail = details() if callable(details) else err
                raise StoreError(f"the Qdrant server failed during {what}: {detail}") from err
        with self._lock:
            return fn(*args, **kwargs)

    def recorded_count(self, name: str) -> int | None:
        return None  # Qdrant keeps its own counts; msearch records none here

    def file_check(self, name: str) -> str | None:
        return None  # qdrant-client's files are its own

    def collection_exists(self, name: str) -> bool:
        return self._call(self.client.collection_exists, name)

    def create_collection(self, name: str, schema: s.Schema, options: CreateOptions) -> None:
        self._call(
            self.client.create_collection,
            collection_name=name,
            vectors_config={
                vector: models.VectorParams(size=spec.size, distance=_DISTANCES[spec.distance])
                for vector, spec in schema.vectors.items()
            },
            sparse_vectors_config={
                vector: models.SparseVectorParams(
                    modifier=models.Modifier.IDF if spec.idf else None
                )
                for vector, spec in schema.sparse.items()
            },
            shard_number=options.shard_number,
            replication_factor=options.replication_factor,
            write_consistency_factor=options.write_consistency_factor,
            on_disk_payload=options.on_disk_payload,
            metadata={s.METADATA_KEY: schema.as_record()},
            **options.extra,
        )
        # Local mode has no payload indexes (it scans); a server needs them for fast filters.
        if not self.embedded:
            for key in s.INDEXED_KEYS:
                self._call(
                    self.client.create_payload_index,
                    collection_name=name,
                    field_name=key,
                    field_schema=models.PayloadSchemaType.KEYWORD,
                )

    def _config(self, name: str) -> models.CollectionConfig:
        return self._call(self.client.get_collection, name).config

    def schema_record(self, name: str) -> dict[str, Any] | None:
        metadata = self._config(name).metadata or {}
        record = metadata.get(s.METADATA_KEY)
        return dict(record) if isinstance(record, dict) else None

    def vector_names(self, name: str) -> list[str]:
        params = self._config(name).params
        dense = params.vectors
        names = list(dense) if isinstance(dense, dict) else ([""] if dense is not None else [])
        return names + list(params.sparse_vectors or {})

    def delete_collection(self, name: str) -> None:
        self._call(self.client.delete_collection, name)

    def upsert(self, name: str, points: Sequence[Point]) -> None:
        structs = [
            models.PointStruct(
                id=point.point_id,
                vector={key: _to_qdrant(vector) for key, vector in point.vectors.items()},
                payload=point.payload,
            )
            for point in points
        ]
        self._call(self.client.upsert, collection_name=name, points=structs, wait=True)

    def delete_points(self, name: str, point_ids: Sequence[str]) -> None:
        selector = models.PointIdsList(points=list(point_ids))
        self._call(self.client.delete, collection_name=name, points_selector=selector, wait=True)

    def delete_where(self, name: str, filter: models.Filter) -> None:
        selector = models.FilterSelector(filter=filter)
        self._call(self.client.delete, collection_name=name, points_selector=selector, wait=True)

    def retrieve(
        self, name: str, point_ids: Sequence[str], with_vectors: bool
    ) -> list[StoredPoint]:
        records = self._call(
            self.client.retrieve,
            collection_name=name,
            ids=list(point_ids),
            with_payload=True,
            with_vectors=with_vectors,
        )
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
        response = self._call(
            self.client.query_points,
            collection_name=name,
            query=_to_qdrant(vector),
            using=using,
            query_filter=filter,
            limit=limit,
            with_payload=True,
            with_vectors=with_vectors,
            search_params=self.search_params,
        )
        return [_stored(point) for point in response.points]

    def fuse(
        self,
        name: str,
        prefetch: Sequence[Prefetch],
        fusion: str,
        limit: int,
        filter: models.Filter | None,
    ) -> list[StoredPoint]:
        response = self._call(
            self.client.query_points,
            collection_name=name,
            prefetch=[
                models.Prefetch(
                    query=_to_qdrant(item.vector),
                    using=item.using,
                    limit=item.limit,
                    filter=filter,
                    params=self.search_params,
                )
                for item in prefetch
            ],
            query=models.FusionQuery(fusion=models.Fusion(fusion)),
            query_filter=filter,
            limit=limit,
            with_payload=True,
        )
        return [_stored(point) for point in response.points]

    def count(self, name: str, filter: models.Filter | None) -> int:
        result = self._call(
            self.client.count, collection_name=name, count_filter=filter, exact=True
        )
        return int(result.count)

    def scroll(
        self, name: str, filter: models.Filter | None, limit: int, offset: str | None
    ) -> tuple[list[StoredPoint], str | None]:
        records, next_offset = self._call(
            self.client.scroll,
            collection_name=name,
            scroll_filter=filter,
            limit=limit,
            offset=offset,
            with_payload=True,
        )
        return [_stored(record) for record in records], (
            None if next_offset is None else str(next_offset)
        )

    def optimize(self, name: str) -> bool:
        return False  # a server indexes on its own; qdrant-client's local mode searches exactly

    def flush(self, name: str) -> None:
        pass  # a server persists on its own; the local mode writes through

    def create_payload_index(self, name: str, field: str, kind: str) -> None:
        check_payload_index_kind(kind)
        self._call(
            self.client.create_payload_index, name, field, models.PayloadSchemaType(kind)
        )

    def close(self) -> None:
        if self._on_close is not None:
            self._on_close()
            self._on_close = None


def _search_params(width: SearchWidth) -> models.SearchParams | None:
    return None if width.default else models.SearchParams(hnsw_ef=width.hnsw_ef, exact=width.exact)


_DISTANCES = {
    s.Distance.COSINE: models.Distance.COSINE,
    s.Distance.DOT: models.Distance.DOT,
    s.Distance.EUCLID: models.Distance.EUCLID,
    s.Distance.MANHATTAN: models.Distance.MANHATTAN,
}


def _is_local(client: QdrantClient) -> bool:
    from qdrant_client.local.qdrant_local import QdrantLocal

    return isinstance(getattr(client, "_client", None), QdrantLocal)


def _to_qdrant(vector: QueryVector) -> Any:
    return native_vector(vector, models.SparseVector)


def _stored(point: models.ScoredPoint | models.Record) -> StoredPoint:
    return stored_point(point, point.vector if isinstance(point.vector, dict) else None)
