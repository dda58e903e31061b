"""``msearch index`` on a generated folder: throughput and peak memory beside the raw pipeline.

One deterministic folder of text files (by default 200 files that chunk into about 10,000
passages) is indexed three ways, each in its own child process of the same interpreter so that
each one's peak resident memory (its own high-water mark, see ``bench.peak_rss``) is its own:

1. ``python -m msearch.cli index FOLDER --store STORE --quiet``: the command, with MiniLM as
   its text model (``MSEARCH_TEXT_MODEL``) and the chunk settings given here.
2. The raw pipeline on exactly the chunks the command wrote (read back from its store): the
   same embedder and ``Store.upsert`` in the same per-file batches, then ``optimize()``. The
   ratio of 1 to 2 is the command's own cost: walking, hashing, chunking, incremental checks.
3. A baseline that starts like the command (text embedder, tokenizer for chunking, store),
   embeds and upserts one batch (the first file's chunks, the command's batch) and exits:
   "the loaded models plus one batch", against which the command's peak is compared.

Run: ``python -m bench.bench_cli`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.common import corpus, header, minilm, table, token_counts

REPO = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024


def make_folder(root: Path, files: int, chunks: int, size: int, overlap: int) -> tuple[int, int]:
    """Write ``files`` text files (in 10 subfolders) that chunk into about ``chunks`` passages.

    Each file gets generated passages until MiniLM counts enough tokens for its share of the
    chunks; returns (files, bytes).
    """
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(minilm())
    per_file = max(1, chunks // files)
    wanted = per_file * (size - overlap) + overlap
    total = 0
    for number in range(files):
        passages = corpus(400, seed=50_000 + number, mean_words=3.3)
        counts = [len(ids) for ids in tokenizer(passages, add_special_tokens=False)["input_ids"]]
        kept, tokens = [], 0
        for passage, count in zip(passages, counts, strict=True):
            if tokens >= wanted:
                break
            kept.append(passage)
            tokens += count + 1
        folder = root / f"part{number % 10:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        text = "\n\n".join(kept) + "\n"
        (folder / f"doc{number:04d}.txt").write_text(text)
        total += len(text.encode())
    return files, total


def run_child(
    module: str, args: list[str], env: dict[str, str], cwd: Path, log: Path
) -> dict[str, Any]:
    """Run ``python -m module args``; its wall time, its own peak RSS and its stdout."""
    peak_file = log.with_suffix(".peak")
    command = [sys.executable, "-m", "bench.peak_rss", str(peak_file), module, *args]
    start = time.perf_counter()
    with log.open("w") as out:
        done = subprocess.run(command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - start
    text = log.read_text()
    if done.returncode != 0:
        raise RuntimeError(f"{module} {' '.join(args)} exited {done.returncode}:\n{text[-3000:]}")
    return {"seconds": seconds, "peak": int(peak_file.read_text()), "stdout": text}


def read_chunks(store_path: Path) -> list[dict[str, Any]]:
    """Every text chunk the command stored, in file then chunk order."""
    from msearch.store import Store

    with Store("msearch", path=store_path) as store:
        rows = [
            {"source": hit.source, "chunk": hit.payload["chunk"], "text": hit.content}
            for hit in store.scan()
        ]
    return sorted(rows, key=lambda row: (row["source"], row["chunk"]))


def by_file(chunks_file: Path) -> Iterator[tuple[str, list[str]]]:
    """(source, its chunk texts) per file, streamed from the JSON-lines file."""
    source: str | None = None
    texts: list[str] = []
    with chunks_file.open() as lines:
        for line in lines:
            row = json.loads(line)
            if row["source"] != source and texts:
                yield str(source), texts
                texts = []
            source = row["source"]
            texts.append(row["text"])
    if texts:
        yield str(source), texts


def write_file_batch(store: Any, embedder: Any, source: str, texts: list[str]) -> None:
    from msearch.store import TEXT, Record, chunk_id

    vectors = embedder.embed_documents(texts)
    store.upsert(
        [
            Record(
                id=chunk_id(source, n),
                vectors={TEXT: vectors[n]},
                content=text,
                source=source,
                modality=TEXT,
                doc_id=source,
                chunk=n,
            )
            for n, text in enumerate(texts)
        ]
    )


def raw_child(chunks_file: Path, store_path: Path, batch_size: int) -> dict[str, Any]:
    """The raw pipeline: embedder + Store.upsert over the given chunks, one file per batch."""
    from msearch.embeddings import text_embedder
    from msearch.store import TEXT, Distance, Schema, Store, VectorSpec

    start = time.perf_counter()
    embedder = text_embedder(minilm(), batch_size=batch_size, show_progress=False)
    embedder.embed_query("load the model")
    schema = Schema({TEXT: VectorSpec(embedder.dim, Distance.COSINE, model="minilm")})
    with Store("raw", schema, path=store_path) as store:
        loaded = time.perf_counter()
        for source, texts in by_file(chunks_file):
            write_file_batch(store, embedder, source, texts)
        store.optimize()
        count = store.count()
    done = time.perf_counter()
    return {"load_s": loaded - start, "index_s": done - loaded, "points": count}


def baseline_child(chunks_file: Path, store_path: Path) -> dict[str, Any]:
    """Start as the command does (its config, embedder, token counter, store); one batch."""
    from msearch.chunking import model_token_counter
    from msearch.cli import build_text, open_store
    from msearch.config import load_config
    from msearch.indexing import FolderIndexer

    config = load_config(store_path=str(store_path))
    start = time.perf_counter()
    embedder = build_text(config)
    counter = model_token_counter(config.text_model, config.text_backend)
    counter(["load", "the", "tokenizer"])
    with open_store(config) as store:
        store.ensure_schema(FolderIndexer(store, embedder).schema())
        source, texts = next(by_file(chunks_file))
        write_file_batch(store, embedder, source, texts)
    return {"seconds": time.perf_counter() - start, "batch": len(texts)}


def cli_section(
    files: int, chunks: int, size: int, overlap: int, batch_size: int
) -> dict[str, Any]:
    header(
        f"msearch index: {files} generated text files -> ~{chunks:,} chunks of {size} tokens "
        f"(overlap {overlap}), MiniLM float32, embedded Edge store; each run a child process"
    )
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        files, size_bytes = make_folder(tmp / "docs", files, chunks, size, overlap)
        env = {
            **os.environ,
            "MSEARCH_TEXT_MODEL": minilm(),
            "MSEARCH_CHUNK_TOKENS": str(size),
            "MSEARCH_CHUNK_OVERLAP": str(overlap),
            "MSEARCH_BATCH_SIZE": str(batch_size),
            "PYTHONPATH": str(REPO),
        }
        env.pop("MSEARCH_CONFIG", None)
        cli_args = ["index", str(tmp / "docs"), "--store", str(tmp / "cli-store"), "--quiet"]
        print("command: msearch", " ".join(cli_args), flush=True)
        # cwd=tmp for every child: no msearch.toml of the checkout is picked up
        cli = run_child("msearch.cli", cli_args, env, tmp, tmp / "cli.log")
        chunk_rows = read_chunks(tmp / "cli-store")
        chunks_file = tmp / "chunks.jsonl"
        chunks_file.write_text("".join(json.dumps(row) + "\n" for row in chunk_rows))
        tokens = int(token_counts(minilm(), [row["text"] for row in chunk_rows]).sum())
        me = ["--chunks-file", str(chunks_file)]
        raw_args = ["--child", "raw", "--store", str(tmp / "raw-store")]
        raw_args += ["--batch-size", str(batch_size)]
        raw_run = run_child("bench.bench_cli", me + raw_args, env, tmp, tmp / "raw.log")
        raw = json.loads(raw_run["stdout"].strip().splitlines()[-1])
        base_args = ["--child", "baseline", "--store", str(tmp / "base-store")]
        base_run = run_child("bench.bench_cli", me + base_args, env, tmp, tmp / "base.log")
        base = json.loads(base_run["stdout"].strip().splitlines()[-1])
    count = len(chunk_rows)
    if raw["points"] != count:
        raise RuntimeError(f"raw pipeline stored {raw['points']} points, the command {count}")
    fixed = raw_run["seconds"] - raw["index_s"]  # interpreter, imports, model load
    rows = []
    for name, seconds in (
        ("msearch index (whole command)", cli["seconds"]),
        ("raw pipeline (whole child)", raw_run["seconds"]),
        ("msearch index minus raw start-up (est.)", cli["seconds"] - fixed),
        ("raw pipeline, indexing only", raw["index_s"]),
    ):
        rows.append(
            {
                "run": name,
                "seconds": seconds,
                "files/s": files / seconds,
                "chunks/s": count / seconds,
                "tokens/s": tokens / seconds,
            }
        )
    for row in rows:
        row["x raw"] = (
            rows[1]["seconds"] / row["seconds"]
            if row is rows[0] or row is rows[1]
            else rows[3]["seconds"] / row["seconds"]
        )
    print(
        f"{files} files, {size_bytes / MIB:.1f} MiB, {count:,} chunks, {tokens:,} MiniLM tokens "
        f"(special tokens included); command said: {cli['stdout'].strip().splitlines()[-1]}"
    )
    table(rows)
    memory = {
        "peak RSS msearch index MiB": cli["peak"] / MIB,
        f"baseline: models + one batch ({base['batch']} chunks) MiB": base_run["peak"] / MIB,
        "ratio": cli["peak"] / base_run["peak"],
        "raw pipeline peak MiB": raw_run["peak"] / MIB,
    }
    table([memory])
    verdict = "met" if memory["ratio"] <= 1.5 else "NOT met"
    print(f"target peak <= 1.5 x (loaded models + one batch): {verdict}\n", flush=True)
    return {"throughput": rows, "memory": memory, "chunks": count, "tokens": tokens}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--chunks", type=int, default=10_000, help="about this many in total")
    parser.add_argument("--chunk-tokens", type=int, default=16)
    parser.add_argument("--chunk-overlap", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=32, help="embedder batch size")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", choices=("raw", "baseline"), help=argparse.SUPPRESS)
    parser.add_argument("--chunks-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "raw":
        print(json.dumps(raw_child(args.chunks_file, args.store, args.batch_size)))
        return {}
    if args.child == "baseline":
        print(json.dumps(baseline_child(args.chunks_file, args.store)))
        return {}
    if args.quick:
        args.files, args.chunks = 20, 400
    return cli_section(
        args.files, args.chunks, args.chunk_tokens, args.chunk_overlap, args.batch_size
    )


if __name__ == "__main__":
    main()
