"""The store: upsert points/s and query p50/p95, msearch beside the engine it wraps.

``msearch.store.Store`` on an embedded folder against the raw engine under it, on the same
points (384-d, MiniLM's size; deterministic random unit vectors with a generated passage as
payload, written with the payload msearch writes), taking turns batch by batch and query by
query: Qdrant Edge (the default for new folders) at 20,000 points, with its index build
(``optimize()``, once per store, not interleaved) reported beside the writes; qdrant-client's
local folder (one SQLite commit per point, a store for small data) at 2,000. Peak memory while
indexing is measured on ``msearch index`` itself, in ``bench_cli``.

Run: ``python -m bench.bench_index`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import Contender, corpus, header, interleaved, percentile_ms, table

DIM = 384
UPSERT_BATCH = 256


def unit_vectors(count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((count, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


class MsearchWriter:
    """msearch's ``Store`` on an embedded folder of the given engine."""

    def __init__(self, folder: Path, engine: str, vectors: np.ndarray, texts: list[str]) -> None:
        from msearch.store import Schema, Store, VectorSpec

        self.name = f"msearch Store ({engine})"
        self.vectors, self.texts, self.engine = vectors, texts, engine
        self.store = Store(
            "bench",
            Schema({"text": VectorSpec(DIM, model="bench-random")}),
            path=folder,
            engine=engine,
            batch_size=UPSERT_BATCH,
        )

    def upsert(self, firsts: list[int]) -> None:
        from msearch.store import Record

        for first in firsts:
            self.store.upsert(
                [
                    Record(
                        id=f"p{i}",
                        vectors={"text": self.vectors[i]},
                        content=self.texts[i],
                        source="bench",
                    )
                    for i in _batch(first, len(self.vectors))
                ]
            )

    def finish(self) -> None:
        if self.engine == "edge":
            self.store.optimize()  # Edge builds its HNSW index after a bulk load: a write cost

    def query(self, vector: np.ndarray) -> int:
        return len(self.store.query("text", vector, k=10))

    def close(self) -> None:
        self.store.close()


class RawClientWriter:
    """qdrant-client on its own local folder, writing the payload msearch writes."""

    name = "raw qdrant-client (local folder)"

    def __init__(self, folder: Path, vectors: np.ndarray, texts: list[str]) -> None:
        from qdrant_client import QdrantClient, models

        self.vectors, self.texts = vectors, texts
        self.client = QdrantClient(path=str(folder))
        self.client.create_collection(
            "bench",
            vectors_config={"text": models.VectorParams(size=DIM, distance=models.Distance.COSINE)},
        )

    def upsert(self, firsts: list[int]) -> None:
        from qdrant_client import models

        for first in firsts:
            points = [
                models.PointStruct(
                    id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"p{i}")),
                    vector={"text": self.vectors[i].tolist()},
                    payload=_payload(i, self.texts[i]),
                )
                for i in _batch(first, len(self.vectors))
            ]
            self.client.upsert("bench", points)

    def finish(self) -> None:
        pass

    def query(self, vector: np.ndarray) -> int:
        hits = self.client.query_points(
            "bench", query=vector.tolist(), using="text", limit=10, with_payload=True
        ).points
        return len(hits)

    def close(self) -> None:
        self.client.close()


class RawEdgeWriter:
    """qdrant-edge-py's ``EdgeShard`` on its own folder, with msearch's payload indexes."""

    name = "raw Qdrant Edge shard (folder)"

    def __init__(self, folder: Path, vectors: np.ndarray, texts: list[str]) -> None:
        import qdrant_edge as qe

        self.qe, self.vectors, self.texts = qe, vectors, texts
        config = qe.EdgeConfig(
            vectors={"text": qe.EdgeVectorParams(size=DIM, distance=qe.Distance.Cosine)}
        )
        self.shard = qe.EdgeShard.create(str(folder), config)
        from msearch.store.schema import INDEXED_KEYS

        for key in INDEXED_KEYS:
            self.shard.update(
                qe.UpdateOperation.create_field_index(key, qe.PayloadSchemaType.Keyword)
            )

    def upsert(self, firsts: list[int]) -> None:
        qe = self.qe
        for first in firsts:
            points = [
                qe.Point(
                    str(uuid.uuid5(uuid.NAMESPACE_URL, f"p{i}")),
                    {"text": self.vectors[i].tolist()},
                    _payload(i, self.texts[i]),
                )
                for i in _batch(first, len(self.vectors))
            ]
            self.shard.update(qe.UpdateOperation.upsert_points(points))

    def finish(self) -> None:
        self.shard.optimize()

    def query(self, vector: np.ndarray) -> int:
        qe = self.qe
        request = qe.QueryRequest(
            limit=10, query=qe.Query.Nearest(vector.tolist(), using="text"), with_payload=True
        )
        # read what a caller reads (Edge converts a hit's fields when they are accessed)
        return len([(hit.id, hit.score, hit.payload) for hit in self.shard.query(request)])

    def close(self) -> None:
        self.shard.close()


def _batch(first: int, count: int) -> range:
    """The point numbers of the upsert batch starting at ``first``."""
    return range(first, min(first + UPSERT_BATCH, count))


def _payload(i: int, text: str) -> dict[str, Any]:
    """What msearch's ``Record.payload`` holds for the benchmark's records."""
    return {"id": f"p{i}", "content": text, "metadata": {}, "modality": "text", "source": "bench"}


Writer = MsearchWriter | RawClientWriter | RawEdgeWriter


def side_by_side(writers: list[Writer], points: int, queries: np.ndarray) -> list[dict[str, Any]]:
    """Upsert ``points`` in batches and run ``queries``, the writers taking turns per batch
    and per query (rotating who goes first), so that load from elsewhere hits all alike."""
    firsts = list(range(0, points, UPSERT_BATCH))
    contenders = [Contender(writer.name, writer.upsert) for writer in writers]
    interleaved(contenders, firsts, len(firsts))
    latencies: dict[str, list[float]] = {writer.name: [] for writer in writers}
    build: dict[str, float] = {}
    for writer in writers:  # one index build each: not interleaved, and noisy (threads)
        start = time.perf_counter()
        writer.finish()
        build[writer.name] = time.perf_counter() - start
    for number, vector in enumerate(queries):
        for writer in writers[number % len(writers) :] + writers[: number % len(writers)]:
            start = time.perf_counter()
            hits = writer.query(vector)
            latencies[writer.name].append(time.perf_counter() - start)
            if hits != 10:
                raise RuntimeError(f"{writer.name}: a query returned {hits} hits, expected 10")
    for writer in writers:
        writer.close()
    return [_row(c.name, points, c.seconds, build[c.name], latencies[c.name]) for c in contenders]


def _row(
    name: str, points: int, writes: float, build: float, latencies: list[float]
) -> dict[str, Any]:
    return {
        "store": name,
        "write s": writes,
        "write points/s": points / writes,
        "index build s": build,
        "load points/s": points / (writes + build),
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
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        edge = side_by_side(
            [
                RawEdgeWriter(tmp / "raw-edge", vectors, texts),
                MsearchWriter(tmp / "edge", "edge", vectors, texts),
            ],
            points,
            probes,
        )
        client = side_by_side(
            [
                RawClientWriter(tmp / "raw-client", vectors[:small], texts),
                MsearchWriter(tmp / "client", "qdrant-client", vectors[:small], texts),
            ],
            small,
            probes,
        )
    for raw, ours in (edge, client):
        for key, ratio in (
            ("writes x raw", ours["write points/s"] / raw["write points/s"]),
            ("load x raw", ours["load points/s"] / raw["load points/s"]),
            ("p50 x raw", raw["query p50 ms"] / ours["query p50 ms"]),
        ):
            raw[key], ours[key] = 1.0, ratio
    rows = edge + client
    table(rows)
    return rows


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=20_000)
    parser.add_argument("--client-points", type=int, default=2_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.points, args.client_points, args.queries = 2000, 500, 50
    return store_section(args.points, args.client_points, args.queries)


if __name__ == "__main__":
    main()
