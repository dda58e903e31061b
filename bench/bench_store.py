"""Embedded stores at 100,000 x 384: qdrant-client's local mode, Qdrant Edge, a NumPy floor.

All three run in one process on the same vectors, through msearch's ``Store`` (what users get):
- ``qdrant-client embedded``: ``Store(path=..., engine="qdrant-client")``, pure Python; its
  folder commits (and fsyncs) one SQLite transaction per point, so its upsert rate is measured
  for ``--client-upsert-seconds`` and its queries run on its in-memory mode (the same scan);
- ``Qdrant Edge``: ``Store(path=..., engine="edge")``, upsert, then ``store.optimize()``
  builds HNSW (m=16, ef_construct=100), plus a payload index on the filtered key;
- ``numpy brute force``: one float32 matrix-vector product and ``argpartition`` per query,
  which is also the exact answer that recall@10 is measured against.

Vectors: 200 Gaussian clusters in 384 dimensions, unit-normalised (uniform random vectors
have no neighbourhood structure and flatter HNSW unfairly), cached under
``$MSEARCH_BENCH_CACHE/store``; queries are perturbed corpus vectors. The filtered query keeps
one of 10 groups (10% of the points). The run stops measuring a contender that would overrun
its budget and says so.

Run: ``python -m bench.bench_store`` (``--n 20000`` for a quick run, ``--budget`` in seconds).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import CACHE, header, machine_report, percentile_ms, table
from msearch.store import Record, Schema, Store, VectorSpec

DIM = 384
GROUPS = 10
K = 10


def vectors(n: int, seed: int = 7) -> np.ndarray:
    """``n`` clustered unit vectors, cached on disk between runs."""
    path = CACHE / "store" / f"clustered-{n}x{DIM}-{seed}.npy"
    if path.exists():
        return np.load(path)
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(200, DIM)).astype(np.float32)
    data = centers[rng.integers(0, 200, n)] + 0.6 * rng.normal(size=(n, DIM)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, data)
    return data


def queries(data: np.ndarray, count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    picked = data[rng.integers(0, len(data), count)]
    noisy = picked + 0.15 * rng.normal(size=picked.shape).astype(np.float32)
    return noisy / np.linalg.norm(noisy, axis=1, keepdims=True)


def exact_top(data: np.ndarray, query: np.ndarray, rows: np.ndarray | None = None) -> list[int]:
    """The NumPy floor: exact top-k by cosine (rows: the filtered subset's indices)."""
    scores = data @ query if rows is None else data[rows] @ query
    top = np.argpartition(-scores, K)[:K]
    top = top[np.argsort(-scores[top])]
    return (top if rows is None else rows[top]).tolist()


Query = tuple[np.ndarray, int]  # a query vector and the group its filtered form keeps


def timed(
    fn: Callable[[Query], list[int]], qs: list[Query], deadline: float = float("inf")
) -> tuple[list[float], list]:
    """Per-query seconds and results; past ``deadline`` it stops, after 20 queries at least."""
    seconds: list[float] = []
    results: list[list[int]] = []
    for q in qs:
        if len(seconds) >= 20 and time.perf_counter() > deadline:
            break
        start = time.perf_counter()
        results.append(fn(q))
        seconds.append(time.perf_counter() - start)
    return seconds, results


def recall(found: list[list[int]], truth: list[list[int]]) -> float:
    return float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth, strict=True)]))


def run_store(
    label: str,
    engine: str,
    data: np.ndarray,
    groups: np.ndarray,
    qs: dict[str, list[Query]],
    truth: dict[str, list[list[int]]],
    folder: Path | None,
    deadline: float,
) -> dict[str, Any]:
    """Upsert everything, build the index, reopen, query; stop at ``deadline``.

    ``folder=None`` runs in memory. Past the deadline during upserts, only the upsert rate
    over the points written so far is reported.
    """
    row: dict[str, Any] = {"engine": label}
    schema = Schema({"text": VectorSpec(DIM, model="bench")})
    where: dict[str, Any] = {"location": ":memory:"} if folder is None else {"path": folder}
    store = Store("bench", schema, engine=engine, batch_size=1000, **where)
    start = time.perf_counter()
    chunk = 1000
    for begin in range(0, len(data), chunk):
        store.upsert(
            [
                Record(id=str(i), vectors={"text": data[i]}, metadata={"group": int(groups[i])})
                for i in range(begin, min(begin + chunk, len(data)))
            ]
        )
        if time.perf_counter() > deadline:
            done = begin + chunk
            row["upsert points/s"] = done / (time.perf_counter() - start)
            row["note"] = f"upsert rate over the first {done:,} points; budget spent"
            store.close()
            return row
    row["upsert points/s"] = len(data) / (time.perf_counter() - start)
    start = time.perf_counter()
    if engine == "edge":
        store.index_payload("group", "integer")
        store.optimize()
    store.flush()
    row["index build s"] = time.perf_counter() - start
    if folder is not None:
        store.close()
        start = time.perf_counter()
        store = Store("bench", path=folder, engine=engine)
        store.count()
        row["reopen s"] = time.perf_counter() - start

    def plain(q: Query) -> list[int]:
        return [int(h.id) for h in store.query("text", q[0], k=K)]

    def filtered(q: Query) -> list[int]:
        return [int(h.id) for h in store.query("text", q[0], k=K, filter={"group": q[1]})]

    for label, fn in (("plain", plain), ("filtered", filtered)):
        seconds, found = timed(fn, qs[label], deadline)
        if len(found) < len(qs[label]):
            row["note"] = f"budget spent: {len(found)} {label} queries measured"
        row[f"{label} p50 ms"] = percentile_ms(seconds, 50)
        row[f"{label} p95 ms"] = percentile_ms(seconds, 95)
        row[f"{label} recall@10"] = recall(found, truth[label][: len(found)])
    store.close()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200, help="per query kind, Edge and NumPy")
    parser.add_argument("--client-queries", type=int, default=30, help="qdrant-client's count")
    parser.add_argument("--budget", type=float, default=600.0, help="seconds for the whole run")
    parser.add_argument("--client-upsert-seconds", type=float, default=40.0)
    args = parser.parse_args()
    began = time.perf_counter()

    header(f"Embedded stores: {args.n:,} x {DIM} clustered vectors")
    for key, value in machine_report().items():
        print(f"- {key}: {value}")
    data = vectors(args.n)
    groups = np.arange(args.n) % GROUPS
    rows_of = {g: np.flatnonzero(groups == g) for g in range(GROUPS)}
    # A filtered query keeps the group of its own nearest point, so it has real neighbours.
    qs = {
        label: [(q, int(groups[exact_top(data, q)[0]])) for q in queries(data, args.queries, seed)]
        for label, seed in (("plain", 11), ("filtered", 12))
    }

    def numpy_plain(q: Query) -> list[int]:
        return exact_top(data, q[0])

    def numpy_filtered(q: Query) -> list[int]:
        return exact_top(data, q[0], rows_of[q[1]])

    floor: dict[str, Any] = {
        "engine": "NumPy brute force",
        "upsert points/s": "-",
        "index build s": "-",
        "reopen s": "-",
        "note": "exact: the recall reference",
    }
    truth = {}
    for label, fn in (("plain", numpy_plain), ("filtered", numpy_filtered)):
        seconds, truth[label] = timed(fn, qs[label])
        floor[f"{label} p50 ms"] = percentile_ms(seconds, 50)
        floor[f"{label} p95 ms"] = percentile_ms(seconds, 95)
        floor[f"{label} recall@10"] = 1.0

    rows = [floor]
    work = Path(tempfile.mkdtemp(prefix="bench-store-", dir=CACHE))
    try:
        edge_deadline = began + args.budget * 0.7
        rows.append(
            run_store(
                "Qdrant Edge (folder)",
                "edge",
                data,
                groups,
                qs,
                truth,
                work / "edge",
                edge_deadline,
            )
        )
        # qdrant-client's folder commits one SQLite transaction per point: measure its upsert
        # rate for a while, then answer queries from its in-memory mode (the same Python scan).
        few = {label: q[: args.client_queries] for label, q in qs.items()}
        client_deadline = time.perf_counter() + args.client_upsert_seconds
        rows.append(
            run_store(
                "qdrant-client (folder)",
                "qdrant-client",
                data,
                groups,
                few,
                truth,
                work / "qc",
                client_deadline,
            )
        )
        rows.append(
            run_store(
                "qdrant-client (:memory:)",
                "qdrant-client",
                data,
                groups,
                few,
                truth,
                None,
                began + args.budget,
            )
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    table(rows)
    print(
        f"total {time.perf_counter() - began:.0f} s; command: python -m bench.bench_store", end=""
    )
    print(f" --n {args.n} --queries {args.queries} --client-queries {args.client_queries}", end="")
    print(f" --client-upsert-seconds {args.client_upsert_seconds:g} --budget {args.budget:g}")


if __name__ == "__main__":
    main()
