"""The store and the indexing pipeline: upsert points/s, query p50/p95, peak memory.

1. ``msearch.store.Store`` on an embedded folder at 20,000 points (384-d, MiniLM's size;
   deterministic random unit vectors with a passage as payload), beside raw qdrant-client
   writing the same points to the same kind of folder: upsert points/s and query latency.
2. Peak resident memory while a streaming pipeline (MiniLM embedder -> Store, one batch at
   a time) indexes 10,000 passages, measured in a child process so earlier benchmarks do not
   count, against the memory of the loaded model plus one batch.

Run: ``python -m bench.bench_index`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import (
    PeakRss,
    corpus,
    header,
    minilm,
    percentile_ms,
    rss_bytes,
    table,
)

DIM = 384
UPSERT_BATCH = 256


def unit_vectors(count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((count, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def bench_msearch_store(
    folder: Path, engine: str, vectors: np.ndarray, texts: list[str], queries: np.ndarray
) -> dict[str, Any]:
    from msearch.store import Record, Schema, Store, VectorSpec

    store = Store(
        "bench",
        Schema({"text": VectorSpec(DIM, model="bench-random")}),
        path=folder,
        engine=engine,
        batch_size=UPSERT_BATCH,
    )
    start = time.perf_counter()
    for first in range(0, len(vectors), UPSERT_BATCH):
        store.upsert(
            [
                Record(id=f"p{i}", vectors={"text": vectors[i]}, content=texts[i], source="bench")
                for i in range(first, min(first + UPSERT_BATCH, len(vectors)))
            ]
        )
    if engine == "edge":
        store.optimize()  # Edge builds its HNSW index after a bulk load: part of the write cost
    upsert = time.perf_counter() - start
    latencies = []
    for query in queries:
        start = time.perf_counter()
        hits = store.query("text", query, k=10)
        latencies.append(time.perf_counter() - start)
    store.close()
    return _row(f"msearch Store ({engine})", len(vectors), upsert, latencies, len(hits))


def bench_raw_client(
    folder: Path, vectors: np.ndarray, texts: list[str], queries: np.ndarray
) -> dict[str, Any]:
    from qdrant_client import QdrantClient, models

    client = QdrantClient(path=str(folder))
    client.create_collection(
        "bench",
        vectors_config={"text": models.VectorParams(size=DIM, distance=models.Distance.COSINE)},
    )
    start = time.perf_counter()
    for first in range(0, len(vectors), UPSERT_BATCH):
        points = [
            models.PointStruct(
                id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"p{i}")),
                vector={"text": vectors[i].tolist()},
                payload={"content": texts[i], "id": f"p{i}", "source": "bench", "metadata": {}},
            )
            for i in range(first, min(first + UPSERT_BATCH, len(vectors)))
        ]
        client.upsert("bench", points)
    upsert = time.perf_counter() - start
    latencies = []
    for query in queries:
        start = time.perf_counter()
        hits = client.query_points(
            "bench", query=query.tolist(), using="text", limit=10, with_payload=True
        ).points
        latencies.append(time.perf_counter() - start)
    client.close()
    return _row("raw qdrant-client (local folder)", len(vectors), upsert, latencies, len(hits))


def _row(
    name: str, points: int, upsert: float, latencies: list[float], hits: int
) -> dict[str, Any]:
    if hits != 10:
        raise RuntimeError(f"{name}: a query returned {hits} hits, expected 10")
    return {
        "store": name,
        "upsert s": upsert,
        "points/s": points / upsert,
        "query p50 ms": percentile_ms(latencies, 50),
        "query p95 ms": percentile_ms(latencies, 95),
    }


def store_section(points: int, client_points: int, queries: int) -> list[dict[str, Any]]:
    """Edge (the default engine for new folders) at ``points``; qdrant-client's local mode, a
    pure-Python store meant for small data, beside msearch on it at ``client_points``."""
    texts = corpus(points, seed=11, mean_words=3.0)
    vectors = unit_vectors(points, seed=1)
    probes = unit_vectors(queries, seed=2)
    small = min(points, client_points)
    header(
        f"Store: {DIM}-d points with passage payloads, {queries} queries, k=10 "
        f"(Edge at {points:,} points; qdrant-client local mode at {small:,})"
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(bench_msearch_store(Path(tmp) / "edge", "edge", vectors, texts, probes))
        rows[-1]["points"] = points
        raw = bench_raw_client(Path(tmp) / "raw", vectors[:small], texts, probes)
        ours = bench_msearch_store(
            Path(tmp) / "client", "qdrant-client", vectors[:small], texts, probes
        )
        raw["points"] = ours["points"] = small
        ours["x raw"] = ours["points/s"] / raw["points/s"]
        raw["x raw"] = 1.0
        rows.extend([raw, ours])
    rows[0]["x raw"] = ""
    table(rows)
    return rows


def memory_child(passages: int, precision: str) -> dict[str, Any]:
    """Index ``passages`` generated passages, streaming; report resident memory (bytes)."""
    from msearch.embeddings import text_embedder
    from msearch.store import Schema, Store, VectorSpec

    def stream() -> Any:  # generated lazily: the corpus itself is never a list in memory
        for first in range(0, passages, 1000):
            yield from corpus(min(1000, passages - first), seed=1000 + first, mean_words=3.3)

    before_model = rss_bytes()
    embedder = text_embedder(minilm(), batch_size=32, show_progress=False, precision=precision)
    embedder.embed_query("load the model")
    with tempfile.TemporaryDirectory() as tmp:
        store = Store("memory", Schema({"text": VectorSpec(DIM, model="minilm")}), path=tmp)
        model_loaded = rss_bytes()
        stream_iter = stream()
        first_batch = [next(stream_iter) for _ in range(UPSERT_BATCH)]
        store.upsert(_records(0, first_batch, embedder.embed_documents(first_batch)))
        one_batch = rss_bytes()
        start = time.perf_counter()
        count = len(first_batch)
        with PeakRss() as peak:
            for batch in batches_of(stream_iter, UPSERT_BATCH):
                store.upsert(_records(count, batch, embedder.embed_documents(batch)))
                count += len(batch)
        seconds = time.perf_counter() - start
        indexed = store.count()
        store.close()
    return {
        "passages": indexed,
        "before_model": before_model,
        "model_loaded": model_loaded,
        "one_batch": one_batch,
        "peak": peak.peak,
        "seconds": seconds,
        "passages_per_s": (count - len(first_batch)) / seconds,
    }


def batches_of(items: Any, size: int) -> Any:
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _records(offset: int, texts: list[str], vectors: np.ndarray) -> list[Any]:
    from msearch.store import Record

    return [
        Record(id=f"m{offset + i}", vectors={"text": vectors[i]}, content=text, source="gen")
        for i, text in enumerate(texts)
    ]


def memory_section(passages: int, precision: str) -> dict[str, Any]:
    header(
        f"Peak memory: streaming MiniLM ({precision}) -> Store (embedded folder), "
        f"{passages:,} passages, batches of {UPSERT_BATCH}, child process"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.bench_index",
            "--memory-child",
            str(passages),
            "--precision",
            precision,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    mib = 1024 * 1024
    model = result["model_loaded"] - result["before_model"]
    bound = result["one_batch"] * 1.5
    row = {
        "RSS before model MiB": result["before_model"] / mib,
        "model + store loaded MiB": result["model_loaded"] / mib,
        "after one batch MiB": result["one_batch"] / mib,
        "peak MiB": result["peak"] / mib,
        "peak / (loaded + one batch)": result["peak"] / result["one_batch"],
        "model alone MiB": model / mib,
        "passages/s": result["passages_per_s"],
    }
    table([row])
    verdict = "met" if result["peak"] <= bound else "NOT met"
    print(f"target peak <= 1.5 x (loaded model + one batch): {verdict}\n", flush=True)
    return row


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=20_000)
    parser.add_argument("--client-points", type=int, default=2_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--passages", type=int, default=10_000)
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--memory-child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child is not None:
        print(json.dumps(memory_child(args.memory_child, args.precision)))
        return {}
    if args.quick:
        args.points, args.client_points, args.queries, args.passages = 2000, 500, 50, 600
    return {
        "store": store_section(args.points, args.client_points, args.queries),
        "memory": memory_section(args.passages, args.precision),
    }


if __name__ == "__main__":
    main()
