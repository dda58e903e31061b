"""The ``"onnx"`` backend beside the torch path: speed and fidelity in one process, cold start
and indexing in child processes.

1. Text embedding (MiniLM): raw ``SentenceTransformer.encode`` float32, msearch on torch bf16,
   and the onnx backend on OpenVINO (float32, ``auto``, which is bf16 where the CPU runs it
   natively), on ONNX Runtime (float32) and int8, interleaved over the same passages. Tokens/s,
   the ratio to raw float32, and each passage's cosine to raw float32.
2. Reranking: a MiniLM-sized cross-encoder (MiniLM's encoder with a seeded random head, built
   here: no real cross-encoder ships in a registry package), ``CrossEncoder.predict`` float32
   against the onnx backend; pairs/s and the largest logit difference.
3. Cold start: ``msearch search`` from a new process on the embedded store of
   ``examples/``, with ``text_backend`` ``sentence-transformers`` and ``auto``, alternated;
   wall time and peak resident memory of each process.
4. ``msearch index`` on a generated folder of 200-token chunks with both text backends.

Run: ``python -m bench.bench_onnx [--passages N] [--rounds N] [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import (
    Contender,
    corpus,
    cosine_rows,
    header,
    interleaved,
    machine_report,
    minilm,
    table,
    token_counts,
)

REPO = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024


def embedding_rows(texts: list[str], rounds: int, batch: int) -> list[dict[str, Any]]:
    from sentence_transformers import SentenceTransformer

    from msearch.embeddings import text_embedder

    path = minilm()
    raw = SentenceTransformer(path, device="cpu")
    contenders = [
        Contender(
            "raw ST float32",
            lambda t: raw.encode(
                t, batch_size=batch, normalize_embeddings=True, show_progress_bar=False
            ),
        )
    ]
    setups: list[tuple[str, str, dict[str, Any]]] = [
        ("msearch torch bf16", "sentence-transformers", {"precision": "bfloat16"}),
        ("onnx openvino float32", "onnx", {"runtime": "openvino", "precision": "float32"}),
        ("onnx openvino auto", "onnx", {"runtime": "openvino"}),
        ("onnx onnxruntime float32", "onnx", {"runtime": "onnxruntime", "precision": "float32"}),
        ("onnx int8-onnx", "onnx", {"precision": "int8-onnx"}),
    ]
    plans = {}
    for name, backend, options in setups:
        embedder = text_embedder(path, backend, batch_size=batch, show_progress=False, **options)
        embedder.embed_documents(texts[:64])  # load, export once, warm up
        plans[name] = getattr(embedder, "plan", None)
        contenders.append(Contender(name, embedder.embed_documents))
    raw.encode(texts[:64], batch_size=batch, show_progress_bar=False)
    interleaved(contenders, texts, rounds)
    tokens = int(token_counts(path, texts).sum())
    reference = np.concatenate(contenders[0].outputs)
    base = tokens / contenders[0].seconds
    rows = []
    for contender in contenders:
        sims = cosine_rows(np.concatenate(contender.outputs), reference)
        plan = plans.get(contender.name)
        rows.append(
            {
                "path": contender.name,
                "runs as": plan.precision if plan is not None else "float32",
                "tokens/s": round(tokens / contender.seconds),
                "x raw ST": round(tokens / contender.seconds / base, 2),
                "cosine min": f"{sims.min():.6f}",
                "cosine mean": f"{sims.mean():.6f}",
            }
        )
    return rows


def build_cross_encoder(folder: Path) -> str:
    """MiniLM's encoder under a seeded one-logit head: real size, so real speed."""
    import torch
    from transformers import AutoModel, AutoTokenizer, BertForSequenceClassification

    encoder = AutoModel.from_pretrained(minilm())
    config = encoder.config
    config.num_labels = 1
    config.architectures = ["BertForSequenceClassification"]
    torch.manual_seed(0)
    model = BertForSequenceClassification(config)
    model.bert.load_state_dict(encoder.state_dict(), strict=False)
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(minilm()).save_pretrained(folder)
    return str(folder)


def rerank_rows(texts: list[str], rounds: int, folder: Path) -> list[dict[str, Any]]:
    from sentence_transformers import CrossEncoder

    from msearch.rerank import reranker

    path = build_cross_encoder(folder / "minilm-cross-encoder")
    query = "how long do cats sleep during the day"
    raw = CrossEncoder(path, device="cpu")  # its limit: the tokenizer's, as msearch's
    import torch

    identity = torch.nn.Identity()

    def raw_scores(docs: list[str]) -> np.ndarray:
        return raw.predict(
            [(query, d) for d in docs],
            batch_size=16,
            activation_fct=identity,
            show_progress_bar=False,
        ).reshape(-1)

    contenders = [Contender("raw CrossEncoder float32", raw_scores)]
    for name, options in (
        ("onnx openvino float32", {"runtime": "openvino", "precision": "float32"}),
        ("onnx openvino auto", {"runtime": "openvino"}),
        ("onnx onnxruntime float32", {"runtime": "onnxruntime", "precision": "float32"}),
    ):
        ranker = reranker(path, "onnx", raw_scores=True, show_progress=False, **options)

        def scores(docs: list[str], ranker: Any = ranker) -> np.ndarray:
            ranked = ranker.rerank(query, docs)
            out = np.empty(len(docs))
            for result in ranked:
                out[result.index] = result.score
            return out

        scores(texts[:16])
        contenders.append(Contender(name, scores))
    raw_scores(texts[:16])
    interleaved(contenders, texts, rounds)
    reference = np.concatenate(contenders[0].outputs)
    base = len(texts) / contenders[0].seconds
    rows = []
    for c in contenders:
        error = np.abs(np.concatenate(c.outputs) - reference).max()
        rows.append(
            {
                "path": c.name,
                "pairs/s": round(len(texts) / c.seconds, 1),
                "x raw": round(len(texts) / c.seconds / base, 2),
                "largest logit difference": f"{error:.2e}",
            }
        )
    return rows


def child(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak resident MiB of ``python -m msearch.cli ARGS`` in a new process."""
    with tempfile.NamedTemporaryFile() as peak:
        command = [sys.executable, "-m", "bench.peak_rss", peak.name, "msearch.cli", *args]
        start = time.perf_counter()
        subprocess.run(command, env=env, cwd=cwd, check=True, capture_output=True)
        wall = time.perf_counter() - start
        return wall, int(Path(peak.name).read_text()) / MIB


def cli_env(backend: str, store: Path, cache: Path) -> dict[str, str]:
    env = {**os.environ, "MSEARCH_TEXT_BACKEND": backend, "MSEARCH_ONNX_CACHE": str(cache)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.pop("MSEARCH_CONFIG", None)
    return env


def cold_start_rows(folder: Path, rounds: int) -> list[dict[str, Any]]:
    cache = folder / "exports"
    rows = []
    runs: dict[str, list[tuple[float, float]]] = {}
    stores = {}
    for backend in ("sentence-transformers", "auto"):
        store = folder / f"store-{backend}"
        env = cli_env(backend, store, cache)
        child(["index", str(REPO / "examples"), "--store", str(store), "--quiet"], env, REPO)
        stores[backend] = (store, env)
        runs[backend] = []
    search = ["search", "how long do cats sleep", "-k", "5"]
    for number in range(rounds):
        order = list(stores) if number % 2 == 0 else list(reversed(stores))
        for backend in order:
            store, env = stores[backend]
            runs[backend].append(child([*search, "--store", str(store)], env, REPO))
    for backend, samples in runs.items():
        walls, peaks = zip(*samples, strict=True)
        rows.append(
            {
                "text_backend": backend,
                "wall s, median": round(float(np.median(walls)), 2),
                "wall s, min": round(min(walls), 2),
                "peak MiB, median": round(float(np.median(peaks))),
            }
        )
    return rows


def index_rows(folder: Path, files: int) -> list[dict[str, Any]]:
    from bench.bench_cli import make_folder

    data = folder / "corpus"
    make_folder(data, files, files * 50, 200, 40)
    cache = folder / "exports"
    rows = []
    for backend in ("sentence-transformers", "auto"):
        store = folder / f"index-{backend}"
        env = {**cli_env(backend, store, cache), "MSEARCH_TEXT_MODEL": minilm()}
        env.update(MSEARCH_CHUNK_TOKENS="200", MSEARCH_CHUNK_OVERLAP="40")
        wall, peak = child(["index", str(data), "--store", str(store), "--quiet"], env, REPO)
        from msearch.store import Store

        with Store("msearch", path=store) as written:
            chunks = written.count()
        rows.append(
            {
                "text_backend": backend,
                "chunks": chunks,
                "wall s": round(wall, 1),
                "chunks/s": round(chunks / wall, 1),
                "peak MiB": round(peak),
            }
        )
    rows[1]["x sentence-transformers"] = round(rows[1]["chunks/s"] / rows[0]["chunks/s"], 2)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--passages", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--files", type=int, default=40, help="files in the indexing folder")
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.passages, args.rounds, args.files = 64, 2, 4
    header("machine")
    table([{"what": key, "value": value} for key, value in machine_report().items()])
    texts = corpus(args.passages)
    folder = Path(tempfile.mkdtemp(prefix="bench-onnx-"))
    os.environ["MSEARCH_ONNX_CACHE"] = str(folder / "exports")
    try:
        header(f"text embedding, MiniLM, {len(texts)} passages, batch {args.batch}")
        table(embedding_rows(texts, args.rounds, args.batch))
        header(f"reranking, a MiniLM-sized cross-encoder, {len(texts) // 2} passages")
        table(rerank_rows(texts[: len(texts) // 2], args.rounds, folder))
        header("msearch search from a new process (examples/, embedded Edge store)")
        table(cold_start_rows(folder, max(args.rounds, 3)))
        header(f"msearch index, {args.files} generated files of 200-token chunks")
        table(index_rows(folder, args.files))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
