"""The values that cross msearch's layers: sparse vectors, rerank results, transcripts, and the
records that go into the store and the hits that come back.

A leaf module: it imports nothing of msearch's, so the backends, the store and the adapters
all import it, and none of them needs another for these types.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class SparseVector:
    """A sparse vector: token ids (``indices``, int64) and their weights (``values``, float32)."""

    indices: np.ndarray
    values: np.ndarray

    def as_dict(self) -> dict[int, float]:
        return dict(zip(self.indices.tolist(), self.values.tolist(), strict=True))


@dataclass(frozen=True)
class RerankResult:
    """One reranked document: its position in the caller's list and its relevance score."""

    index: int
    score: float


@dataclass(frozen=True)
class Segment:
    """One stretch of speech: its text and where it lies in the media, in seconds."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Transcript:
    """What was said in one recording: its segments in time order, the spoken language and
    the recording's length in seconds."""

    source: str
    language: str
    duration: float
    segments: tuple[Segment, ...]

    @property
    def text(self) -> str:
        return " ".join(segment.text for segment in self.segments)


#: A vector as a record takes it: dense (an array or a list of floats) or sparse.
VectorInput = np.ndarray | Sequence[float] | SparseVector


@dataclass
class Record:
    """One point to write: the caller's id, its named vectors, content and metadata.

    ``metadata`` is the caller's and comes back unchanged; ``source``, ``modality``,
    ``doc_id``, ``chunk``, ``content_hash`` and the folder indexer's ``file_hash`` and
    ``last_chunk`` and ``parts`` are msearch's own fields beside it, never mixed into
    ``metadata`` (the store's payload: ``msearch.store.records.record_payload``).
    """

    id: str
    vectors: Mapping[str, VectorInput]
    content: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    source: str | None = None
    modality: str = "text"
    doc_id: str | None = None
    chunk: int | None = None
    content_hash: str | None = None
    file_hash: str | None = None
    last_chunk: bool | None = None
    parts: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Hit:
    """One point read back: the caller's id, score (``None`` for ``get``), content, metadata.

    ``payload`` holds every stored field (msearch's own included: ``source``, ``modality``
    and ``doc_id`` read from it, by the names ``msearch.store.schema`` gives them);
    ``vectors`` is filled only when asked for.
    """

    id: str
    score: float | None
    content: str | None
    metadata: dict[str, Any]
    payload: dict[str, Any]
    point_id: str
    vectors: dict[str, Any] | None = None

    @property
    def source(self) -> str | None:
        return self.payload.get("source")

    @property
    def modality(self) -> str | None:
        return self.payload.get("modality")

    @property
    def doc_id(self) -> str | None:
        return self.payload.get("doc_id")


def sparse_from_weights(token_ids: Sequence[int], weights: Sequence[float]) -> SparseVector:
    """A sparse vector from per-token weights: each id once, with its largest weight.

    Ids with a weight <= 0 are dropped (they cannot contribute to a dot product match);
    indices come out sorted, so equal inputs give identical vectors.
    """
    best: dict[int, float] = {}
    for token_id, weight in zip(token_ids, weights, strict=True):
        if weight > 0 and weight > best.get(token_id, 0.0):
            best[token_id] = float(weight)
    indices = np.array(sorted(best), dtype=np.int64)
    values = np.array([best[i] for i in indices.tolist()], dtype=np.float32)
    return SparseVector(indices=indices, values=values)
