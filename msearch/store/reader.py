"""``StoreReader``: the reading half of ``Store``: get, count, scan and the vector queries.

``Store`` (store.py) opens the engine and writes; this base class knows the collection's
recorded schema, checks query vectors against it, and reads through the engine: nearest
points on one named vector, several named vectors fused inside Qdrant (cross-modal, and
hybrid dense + sparse), and MMR for diverse results.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from msearch.datatypes import Hit, SparseVector
from msearch.errors import InvalidInputError, SchemaMismatchError
from msearch.store import schema as s
from msearch.store.engine import Engine, Prefetch, StoredPoint
from msearch.store.filters import Filter, to_qdrant
from msearch.store.mmr import mmr_order
from msearch.store.records import dense_array, hit_from_point, sparse_vector

FUSIONS = ("rrf", "dbsf")


class StoreReader:
    """Reads one msearch collection; ``Store`` sets ``engine`` and ``collection`` and writes."""

    engine: Engine
    collection: str
    _schema: s.Schema | None

    # -- schema --------------------------------------------------------------------
    @property
    def schema(self) -> s.Schema | None:
        """The collection's recorded schema, or ``None`` while the collection does not exist."""
        if self._schema is None:
            self._load_schema()
        return self._schema

    def _load_schema(self) -> None:
        if not self.engine.collection_exists(self.collection):
            self._schema = None
            return
        record = self.engine.schema_record(self.collection)
        if record is None:
            raise SchemaMismatchError(
                f"collection {self.collection!r} was not created by msearch (its vectors: "
                f"{self.engine.vector_names(self.collection)}); collections made by the stock "
                "langchain-qdrant / llama-index classes keep their own format: read them with "
                "those classes, or give msearch another collection name"
            )
        self._schema = s.Schema.from_record(record)

    def _exists(self) -> bool:
        if self._schema is None:
            self._load_schema()
        return self._schema is not None

    def _require_schema(self) -> s.Schema:
        if self._schema is None:
            self._load_schema()
        if self._schema is None:
            raise SchemaMismatchError(
                f"collection {self.collection!r} does not exist yet: give a schema (or add "
                "through a vector store, which knows its embedding model) before writing"
            )
        return self._schema

    def _checked(self, schema: s.Schema, name: str, vector: Any, what: str) -> Any:
        if name in schema.sparse:
            return sparse_vector(vector, what)
        spec = schema.vectors.get(name)
        if spec is None:
            raise SchemaMismatchError(
                f"{what}: collection {self.collection!r} has no vector {name!r} "
                f"(it has {schema.names})"
            )
        array = dense_array(vector, what)
        if array.shape[0] != spec.size:
            raise SchemaMismatchError(
                f"{what} has {array.shape[0]} dimensions; collection {self.collection!r} "
                f"stores {spec.size}-dimensional {name!r} vectors"
                + (f" from {spec.model!r}" if spec.model else "")
            )
        return array.tolist()

    # -- reading -------------------------------------------------------------------
    def get(self, ids: Sequence[str], *, with_vectors: bool = False) -> list[Hit]:
        """The points of ``ids`` in the order asked; ids not stored are left out."""
        wanted = s.id_list(ids)
        if not wanted or not self._exists():
            return []
        point_ids = [s.point_id(caller_id) for caller_id in wanted]
        found = {
            p.point_id: p for p in self.engine.retrieve(self.collection, point_ids, with_vectors)
        }
        return [_hit(found[pid]) for pid in dict.fromkeys(point_ids) if pid in found]

    def count(self, filter: Filter | None = None) -> int:
        if not self._exists():
            return 0
        return self.engine.count(self.collection, to_qdrant(filter))

    def recorded_count(self) -> int | None:
        """The point count msearch recorded at its last write, which opening the collection
        checked against the points found (Qdrant Edge); None where no record is kept."""
        return self.engine.recorded_count(self.collection) if self._exists() else None

    def file_check(self) -> str | None:
        """How the collection's files were checked for damage when it opened (Qdrant Edge:
        checksums, or a test load in a child process); None where msearch checks none."""
        return self.engine.file_check(self.collection) if self._exists() else None

    def scan(self, filter: Filter | None = None, batch_size: int = 256) -> Iterator[Hit]:
        """Every point (matching ``filter``), without vectors, in storage order."""
        if not self._exists():
            return
        offset: str | None = None
        while True:
            points, offset = self.engine.scroll(
                self.collection, to_qdrant(filter), batch_size, offset
            )
            yield from (_hit(point) for point in points)
            if offset is None:
                return

    def query(
        self,
        vector_name: str,
        vector: Any,
        k: int = 4,
        filter: Filter | None = None,
        *,
        with_vectors: bool = False,
        score_threshold: float | None = None,
    ) -> list[Hit]:
        """The ``k`` nearest points on one named vector (dense or sparse), best first.

        ``score_threshold`` keeps hits at least that similar (cosine, dot, sparse) or at most
        that far (euclid, manhattan), as Qdrant's own option does.
        """
        _check_k(k)
        if not self._exists():
            return []
        schema = self._require_schema()
        checked = self._checked(schema, vector_name, vector, "the query vector")
        points = self.engine.search(
            self.collection, vector_name, checked, k, to_qdrant(filter), with_vectors
        )
        spec = schema.vectors.get(vector_name)
        distance = spec.distance if spec is not None else s.Distance.DOT
        return _above(_ranked(points, distance), score_threshold, distance)

    def fused_query(
        self,
        vectors: Mapping[str, Any],
        k: int = 4,
        filter: Filter | None = None,
        *,
        fusion: str = "rrf",
        prefetch_k: int | None = None,
        score_threshold: float | None = None,
    ) -> list[Hit]:
        """Search several named vectors and fuse the lists inside Qdrant (RRF or DBSF).

        Scores are the fusion's, not similarities: RRF sums ``1 / (rank + 2)`` over the lists;
        ``score_threshold`` applies to that fused score.
        """
        _check_k(k)
        if fusion not in FUSIONS:
            raise InvalidInputError(f"fusion must be one of {FUSIONS}, got {fusion!r}")
        if not vectors:
            raise InvalidInputError("a fused query needs at least one named vector")
        limit = prefetch_k if prefetch_k is not None else max(4 * k, 20)
        _check_k(limit, "prefetch_k")
        if not self._exists():
            return []
        schema = self._require_schema()
        prefetch = [
            Prefetch(name, self._checked(schema, name, vector, f"the {name!r} query"), limit)
            for name, vector in vectors.items()
        ]
        points = self.engine.fuse(self.collection, prefetch, fusion, k, to_qdrant(filter))
        return _above(_ranked(points, s.Distance.DOT), score_threshold, s.Distance.DOT)

    def hybrid_query(
        self,
        dense: Any,
        sparse: SparseVector | Mapping[int, float],
        k: int = 4,
        filter: Filter | None = None,
        *,
        dense_name: str = s.TEXT,
        sparse_name: str = s.TEXT_SPARSE,
        fusion: str = "rrf",
        prefetch_k: int | None = None,
        score_threshold: float | None = None,
        alpha: float | None = None,
    ) -> list[Hit]:
        """Dense and sparse search on the same text, fused inside Qdrant (prefetch + RRF).

        ``alpha`` (0..1, LlamaIndex's hybrid weight) asks for weighted fusion instead: each
        list's scores are min-max normalized and combined as ``alpha * dense + (1 - alpha) *
        sparse`` (the stock LlamaIndex Qdrant store's relative score fusion); ``alpha=1`` is
        dense only, ``0`` sparse only.
        """
        if alpha is not None:
            if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 <= alpha <= 1:
                raise InvalidInputError(f"alpha must be a number within 0..1, got {alpha!r}")
            limit = prefetch_k if prefetch_k is not None else max(4 * k, 20)
            lists = [
                self.query(dense_name, dense, limit, filter),
                self.query(sparse_name, sparse, limit, filter),
            ]
            fused = weighted_fusion(lists, [float(alpha), 1.0 - float(alpha)], k)
            return _above(fused, score_threshold, s.Distance.DOT)
        return self.fused_query(
            {dense_name: dense, sparse_name: sparse},
            k,
            filter,
            fusion=fusion,
            prefetch_k=prefetch_k,
            score_threshold=score_threshold,
        )

    def mmr_query(
        self,
        vector_name: str,
        vector: Any,
        k: int = 4,
        filter: Filter | None = None,
        *,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
    ) -> list[Hit]:
        """``k`` diverse results among the ``fetch_k`` nearest (maximal marginal relevance)."""
        _check_k(k)
        _check_k(fetch_k, "fetch_k")
        if not 0.0 <= lambda_mult <= 1.0:
            raise InvalidInputError(f"lambda_mult must be within 0..1, got {lambda_mult}")
        hits = self.query(vector_name, vector, max(fetch_k, k), filter, with_vectors=True)
        if not hits:
            return []
        matrix = np.asarray([(hit.vectors or {})[vector_name] for hit in hits], dtype=np.float32)
        query = dense_array(vector, "the query vector")
        return [hits[i] for i in mmr_order(query, matrix, k, lambda_mult)]


def _check_k(k: Any, name: str = "k") -> None:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k <= 0:
        raise InvalidInputError(f"{name} must be a positive integer, got {k!r}")


def weighted_fusion(lists: Sequence[list[Hit]], weights: Sequence[float], k: int) -> list[Hit]:
    """Hits of several ranked lists, scored by the weighted sum of min-max normalized scores."""
    total: dict[str, float] = {}
    first: dict[str, Hit] = {}
    for hits, weight in zip(lists, weights, strict=True):
        scores = [float(hit.score or 0.0) for hit in hits]
        if not scores:
            continue
        low, high = min(scores), max(scores)
        for hit, score in zip(hits, scores, strict=True):
            normalized = (score - low) / (high - low) if high > low else 1.0
            total[hit.point_id] = total.get(hit.point_id, 0.0) + weight * normalized
            first.setdefault(hit.point_id, hit)
    order = sorted(total, key=lambda point: (-total[point], point))[:k]
    return [dataclasses.replace(first[point], score=total[point]) for point in order]


#: Scores that are distances (smaller is nearer); the others are similarities.
_DISTANCES = (s.Distance.EUCLID, s.Distance.MANHATTAN)


def _ranked(points: Sequence[StoredPoint], distance: s.Distance) -> list[Hit]:
    """Hits best first, equal scores in point-id order: engines break ties differently
    (and not always the same way twice), so every surface gets one order."""
    sign = 1.0 if distance in _DISTANCES else -1.0
    hits = [_hit(point) for point in points]
    return sorted(hits, key=lambda hit: (sign * float(hit.score or 0.0), hit.point_id))


def _above(hits: list[Hit], threshold: float | None, distance: s.Distance) -> list[Hit]:
    if threshold is None:
        return hits
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise InvalidInputError(f"score_threshold must be a number, got {threshold!r}")
    if distance in _DISTANCES:
        return [hit for hit in hits if hit.score is not None and hit.score <= threshold]
    return [hit for hit in hits if hit.score is not None and hit.score >= threshold]


def _hit(point: StoredPoint) -> Hit:
    return hit_from_point(point.point_id, point.payload, point.score, point.vectors)
