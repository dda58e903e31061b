"""Maximal marginal relevance: pick results that are relevant and unlike each other."""

from __future__ import annotations

import numpy as np


def mmr_order(query: np.ndarray, candidates: np.ndarray, k: int, lambda_mult: float) -> list[int]:
    """Positions in ``candidates`` (rows) chosen by MMR, best first, at most ``k``.

    ``lambda_mult`` = 1 ranks by relevance alone, 0 by diversity alone. Similarity is cosine.
    """
    if candidates.shape[0] == 0 or k <= 0:
        return []
    unit = candidates / np.maximum(np.linalg.norm(candidates, axis=1, keepdims=True), 1e-12)
    q = query / max(float(np.linalg.norm(query)), 1e-12)
    relevance = unit @ q
    similarity = unit @ unit.T
    chosen = [int(np.argmax(relevance))]
    while len(chosen) < min(k, len(unit)):
        redundancy = similarity[:, chosen].max(axis=1)
        score = lambda_mult * relevance - (1.0 - lambda_mult) * redundancy
        score[chosen] = -np.inf
        chosen.append(int(np.argmax(score)))
    return chosen
