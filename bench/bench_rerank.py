"""Reranking pairs/s: msearch's cross-encoder backends beside what they wrap, one process.

No real cross-encoder ships in any installed package, so this builds a MiniLM-sized one:
all-MiniLM-L6-v2's encoder weights under a seeded random one-logit head
(``BertForSequenceClassification``, the architecture of cross-encoder/ms-marco-MiniLM-L-6-v2).
Its speed is that of the real thing; its scores mean nothing, so fidelity is reported as the
agreement of the fast paths' logits with float32's, not as ranking quality.

Run: ``python -m bench.bench_rerank`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import (
    CACHE,
    Contender,
    cleanup,
    corpus,
    header,
    interleaved,
    minilm,
    raw_infinity_engine,
    table,
)

BATCH = 16
QUERIES = [
    "how do rivers shape a mountain valley",
    "latency and throughput of a vector database server",
    "evidence from the protein experiment",
    "history of the castle library",
    "measure the variance of a sample",
    "winter evening in the city market",
    "neural network memory and storage",
    "estimate the error of the method",
]


def minilm_cross_encoder(folder: Path = CACHE / "minilm-cross-encoder-random-head") -> str:
    """MiniLM's encoder with a seeded random relevance head, saved once."""
    if (folder / "config.json").exists():
        return str(folder)
    import torch
    from transformers import AutoTokenizer, BertForSequenceClassification

    torch.manual_seed(0)
    model = BertForSequenceClassification.from_pretrained(minilm(), num_labels=1)
    model.config.architectures = ["BertForSequenceClassification"]
    model.save_pretrained(str(folder), safe_serialization=True)
    AutoTokenizer.from_pretrained(minilm()).save_pretrained(str(folder))
    return str(folder)


Task = tuple[str, list[str]]


def raw_cross_encoder(path: str) -> Any:
    import torch
    from sentence_transformers import CrossEncoder

    model = CrossEncoder(path, device="cpu")  # truncates at the tokenizer's 512, as msearch
    identity = torch.nn.Identity()

    def run(tasks: list[Task]) -> list[np.ndarray]:
        return [
            model.predict(
                [(query, doc) for doc in docs],
                batch_size=BATCH,
                activation_fct=identity,
                show_progress_bar=False,
            )
            for query, docs in tasks
        ]

    return run


def raw_infinity(path: str) -> Any:
    engine, loop = raw_infinity_engine(path, BATCH)

    def run(tasks: list[Task]) -> list[np.ndarray]:
        out = []
        for query, docs in tasks:
            results, _ = loop.run_until_complete(
                engine.rerank(query=query, docs=docs, raw_scores=True)
            )
            scores = np.empty(len(docs))
            for result in results:
                scores[result.index] = result.relevance_score
            out.append(scores)
        return out

    return run


def msearch_reranker(path: str, backend: str = "sentence-transformers", **options: Any) -> Any:
    from msearch.rerank import reranker

    ranker = reranker(
        path, backend, batch_size=BATCH, raw_scores=True, show_progress=False, **options
    )

    def run(tasks: list[Task]) -> list[np.ndarray]:
        out = []
        for query, docs in tasks:
            scores = np.empty(len(docs))
            for result in ranker.rerank(query, docs):
                scores[result.index] = result.score
            out.append(scores)
        return out

    return run


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=25, help="documents per query")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    queries = QUERIES[:2] if args.quick else QUERIES
    docs_per_query = 16 if args.quick else args.docs
    passages = corpus(len(queries) * docs_per_query, seed=7)
    tasks = [
        (query, passages[i * docs_per_query : (i + 1) * docs_per_query])
        for i, query in enumerate(queries)
    ]
    pairs = len(queries) * docs_per_query
    from msearch.precision import detect_cpu

    path = minilm_cross_encoder()
    native = detect_cpu().native_bf16
    header(
        f"Reranking, MiniLM-L6-sized cross-encoder (random head), {len(queries)} queries x "
        f"{docs_per_query} passages = {pairs} pairs, batch {BATCH}"
    )
    contenders = [
        Contender("raw CrossEncoder.predict", raw_cross_encoder(path)),
        Contender("msearch sentence-transformers", msearch_reranker(path)),
        Contender("raw infinity engine", raw_infinity(path)),
        Contender("msearch infinity", msearch_reranker(path, "infinity")),
        Contender(
            "msearch int8-onnx",
            msearch_reranker(path, precision="int8-onnx", onnx_cache_dir=str(CACHE / "onnx")),
        ),
    ]
    if native:
        contenders.append(
            Contender("msearch bfloat16", msearch_reranker(path, precision="bfloat16"))
        )
    for contender in contenders:
        contender.run(tasks[:1])
    interleaved(contenders, tasks, min(len(tasks), 4))
    reference = np.concatenate([np.concatenate(c) for c in contenders[0].outputs])
    by_name = {c.name: c for c in contenders}
    wraps = {
        "msearch sentence-transformers": "raw CrossEncoder.predict",
        "msearch infinity": "raw infinity engine",
        "msearch int8-onnx": "raw CrossEncoder.predict",
        "msearch bfloat16": "raw CrossEncoder.predict",
    }
    rows = []
    for contender in contenders:
        scores = np.concatenate([np.concatenate(c) for c in contender.outputs])
        wrapped = wraps.get(contender.name)
        rows.append(
            {
                "contender": contender.name,
                "seconds": contender.seconds,
                "pairs/s": pairs / contender.seconds,
                "x raw CrossEncoder": contenders[0].seconds / contender.seconds,
                "x what it wraps": by_name[wrapped].seconds / contender.seconds if wrapped else "",
                "logit r vs fp32": f"{np.corrcoef(scores, reference)[0, 1]:.5f}",
                "max |logit diff|": float(np.abs(scores - reference).max()),
            }
        )
    table(rows)
    if not native:
        print(
            "bfloat16 not timed here: this CPU has no AMX/AVX512-BF16, where bf16 is emulated "
            "(see the embedding table for how much slower)\n"
        )
    return {"pairs": pairs, "rows": rows}


if __name__ == "__main__":
    try:
        main()
    finally:
        cleanup()
