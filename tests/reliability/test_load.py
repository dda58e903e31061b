"""Load: many concurrent async calls mixing embed, search and rerank on in-process engines.

Every concurrent answer is compared with the same call made alone, sequentially, before; an
overall timeout turns a deadlock into a failure; the process's resident memory after a
second identical round must stay close to what it was after the first. Latencies (p50/p99)
are printed for docs/benchmarks.md; nothing asserts on them.
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

import numpy as np
import psutil
import pytest

from msearch.store import Record, Schema, Store, VectorSpec
from tests.reliability._mode import cases

CALLS = cases(1000, 10_000)
ROUND_TIMEOUT_S = 600.0
#: What a second identical round may add to the resident set (allocator noise, caches).
RSS_SLACK_MB = 64

TOPICS = ["cats", "dogs", "the sea", "music", "python code", "paris", "apples", "the moon"]
QUERIES = [f"what about {topic} number {n}" for n in range(6) for topic in TOPICS]
DOCUMENTS = [f"a note on {topic}, item {n}" for n in range(25) for topic in TOPICS]


@pytest.fixture(scope="module")
def setup(infinity_minilm: Any, infinity_tiny_reranker: Any) -> Any:
    store = Store("load", Schema({"text": VectorSpec(384, model="minilm")}), location=":memory:")
    vectors = infinity_minilm.embed_documents(DOCUMENTS)
    store.upsert(
        [
            Record(id=f"d{n}", vectors={"text": v}, content=d)
            for n, (d, v) in enumerate(zip(DOCUMENTS, vectors, strict=True))
        ]
    )
    yield store, infinity_minilm, infinity_tiny_reranker
    store.close()


def _plan() -> list[tuple[str, int]]:
    """The mixed workload: (kind, item) for each call, in a fixed interleaved order."""
    kinds = ("embed", "search", "rerank")
    return [(kinds[n % 3], n % len(QUERIES)) for n in range(CALLS)]


async def _one(
    kind: str, item: int, store: Store, embedder: Any, ranker: Any, vectors: np.ndarray
) -> Any:
    if kind == "embed":
        return await embedder.aembed_query(QUERIES[item])
    if kind == "search":
        return [hit.id for hit in await store.aquery("text", vectors[item], 5)]
    documents = DOCUMENTS[item : item + 8]
    return [(r.index, r.score) for r in await ranker.arerank(QUERIES[item], documents)]


async def _round(setup: Any, vectors: np.ndarray) -> tuple[list[Any], list[float]]:
    store, embedder, ranker = setup
    latencies: list[float] = []

    async def timed(kind: str, item: int) -> Any:
        started = time.perf_counter()
        result = await _one(kind, item, store, embedder, ranker, vectors)
        latencies.append(time.perf_counter() - started)
        return result

    calls = [timed(kind, item) for kind, item in _plan()]
    results = await asyncio.wait_for(asyncio.gather(*calls), ROUND_TIMEOUT_S)
    return results, latencies


def _same(kind: str, got: Any, expected: Any) -> bool:
    if kind == "embed":
        return bool(np.allclose(got, expected, atol=1e-5))
    if kind == "search":
        return bool(got == expected)
    return [i for i, _ in got] == [i for i, _ in expected] and np.allclose(
        [s for _, s in got], [s for _, s in expected], atol=1e-5
    )


@pytest.mark.legacy_stack("infinity_emb")
async def test_concurrent_mixed_calls_are_correct_without_deadlock_or_growth(setup: Any) -> None:
    store, embedder, ranker = setup
    vectors = embedder.embed_documents(QUERIES)
    # The reference: each distinct call made alone, one after another.
    expected = {
        (kind, item): await _one(kind, item, store, embedder, ranker, vectors)
        for kind, item in set(_plan())
    }
    process = psutil.Process()
    rss = []
    for _ in range(2):
        results, latencies = await _round(setup, vectors)
        wrong = [
            (kind, item)
            for (kind, item), got in zip(_plan(), results, strict=True)
            if not _same(kind, got, expected[(kind, item)])
        ]
        assert not wrong, f"{len(wrong)} of {CALLS} concurrent answers differ, first {wrong[:5]}"
        gc.collect()
        rss.append(process.memory_info().rss / 2**20)
        p50, p99 = np.percentile(np.asarray(latencies) * 1000, [50, 99])
        print(
            f"\n{CALLS} concurrent calls: p50 {p50:.1f} ms, p99 {p99:.1f} ms, RSS {rss[-1]:.0f} MB"
        )
    assert rss[1] - rss[0] < RSS_SLACK_MB, f"resident memory grew {rss[1] - rss[0]:.0f} MB"
