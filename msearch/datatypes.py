"""The values that cross msearch's layers: sparse vectors, rerank results and transcripts.

A leaf module: it imports nothing of msearch's, so the backends, the store and the adapters
all import it, and none of them needs another for these types.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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
