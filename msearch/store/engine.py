"""The engine under the store: the few storage operations msearch needs.

``Engine`` is msearch's internal seam: ``Store`` holds all the logic (schema, ids, checks,
fusion choice, MMR) and an engine only moves points. ``ClientEngine`` (client_engine.py) runs
on qdrant-client (embedded or a server); ``EdgeEngine`` (edge.py) on Qdrant Edge. This module
imports neither library, so a process that serves a store on Edge never loads qdrant-client.
Filters arrive as ``qdrant_client.models.Filter``; vectors as ``list[float]`` or msearch's
``SparseVector``; point ids are UUID strings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from msearch.datatypes import SparseVector
from msearch.errors import InvalidInputError

if TYPE_CHECKING:
    from qdrant_client import models

    from msearch.store import schema as s

QueryVector = list[float] | SparseVector


@dataclass(frozen=True)
class Point:
    point_id: str
    vectors: dict[str, QueryVector]
    payload: dict[str, Any]


@dataclass(frozen=True)
class StoredPoint:
    point_id: str
    payload: dict[str, Any]
    score: float | None = None
    vectors: dict[str, Any] | None = None


@dataclass(frozen=True)
class Prefetch:
    """One list to fuse: the top ``limit`` points of ``vector`` on the named vector ``using``."""

    using: str
    vector: QueryVector
    limit: int


@dataclass(frozen=True)
class CreateOptions:
    """Collection settings that matter on a Qdrant server or cluster (embedded ignores them)."""

    shard_number: int | None = None
    replication_factor: int | None = None
    write_consistency_factor: int | None = None
    on_disk_payload: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchWidth:
    """How exhaustively a query searches: ``hnsw_ef`` candidates kept while walking the HNSW
    graph (``None``: Qdrant's default; higher is slower and closer to exact), or ``exact`` to
    scan every vector. Applies to every query of a store, on both engines."""

    hnsw_ef: int | None = None
    exact: bool = False

    def __post_init__(self) -> None:
        ef = self.hnsw_ef
        if ef is not None and (isinstance(ef, bool) or not isinstance(ef, int) or ef < 1):
            raise InvalidInputError(f"hnsw_ef must be a positive int, got {ef!r}")
        if not isinstance(self.exact, bool):
            raise InvalidInputError(f"exact must be true or false, got {self.exact!r}")

    @property
    def default(self) -> bool:
        return self.hnsw_ef is None and not self.exact



#: The payload index kinds both engines build.
PAYLOAD_INDEX_TYPES = ("keyword", "integer", "float", "bool", "datetime", "uuid", "text", "geo")


def check_payload_index_kind(kind: str) -> None:
    if kind not in PAYLOAD_INDEX_TYPES:
        raise InvalidInputError(f"payload index kind must be one of {PAYLOAD_INDEX_TYPES}")


class Engine(Protocol):
    def collection_exists(self, name: str) -> bool: ...

    def create_collection(self, name: str, schema: s.Schema, options: CreateOptions) -> None: ...

    def schema_record(self, name: str) -> dict[str, Any] | None:
        """msearch's record in the collection's metadata; ``None`` for a foreign collection."""

    def vector_names(self, name: str) -> list[str]: ...

    def delete_collection(self, name: str) -> None: ...

    def recorded_count(self, name: str) -> int | None:
        """The point count msearch recorded at its last write (None: it keeps no record)."""
        ...

    def file_check(self, name: str) -> str | None:
        """How the collection's files were checked for damage when it opened (None: not)."""
        ...

    def upsert(self, name: str, points: Sequence[Point]) -> None: ...

    def delete_points(self, name: str, point_ids: Sequence[str]) -> None: ...

    def delete_where(self, name: str, filter: models.Filter) -> None: ...

    def retrieve(
        self, name: str, point_ids: Sequence[str], with_vectors: bool
    ) -> list[StoredPoint]: ...

    def search(
        self,
        name: str,
        using: str,
        vector: QueryVector,
        limit: int,
        filter: models.Filter | None,
        with_vectors: bool,
    ) -> list[StoredPoint]: ...

    def fuse(
        self,
        name: str,
        prefetch: Sequence[Prefetch],
        fusion: str,
        limit: int,
        filter: models.Filter | None,
    ) -> list[StoredPoint]: ...

    def count(self, name: str, filter: models.Filter | None) -> int: ...

    def scroll(
        self, name: str, filter: models.Filter | None, limit: int, offset: str | None
    ) -> tuple[list[StoredPoint], str | None]: ...

    def optimize(self, name: str) -> bool:
        """Build the search indexes now; True if anything changed (False: it indexes itself)."""
        ...

    def flush(self, name: str) -> None:
        """Persist pending writes now (a no-op where every write is persisted already)."""
        ...

    def create_payload_index(self, name: str, field: str, kind: str) -> None:
        """Index a payload field (a path as stored, e.g. ``metadata.lang``) for fast filters."""
        ...

    def close(self) -> None: ...


def native_vector(vector: QueryVector, sparse_type: Callable[..., Any]) -> Any:
    """``vector`` as an engine takes it: a dense list as it is, a sparse one as ``sparse_type``."""
    if isinstance(vector, SparseVector):
        return sparse_type(indices=vector.indices.tolist(), values=vector.values.tolist())
    return vector


def stored_point(point: Any, vectors: dict[str, Any] | None) -> StoredPoint:
    """An engine's record or scored point (``id``, ``payload``, maybe ``score``) and its
    ``vectors`` as msearch's ``StoredPoint``."""
    score = getattr(point, "score", None)
    return StoredPoint(
        point_id=str(point.id),
        payload=dict(point.payload or {}),
        score=None if score is None else float(score),
        vectors=vectors,
    )
