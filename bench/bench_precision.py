"""The ``precision`` option on whatever hardware is here: CPU threads as given, and a GPU if any.

For machines other than the development one (an AMX CPU, a GPU box): it needs only torch,
sentence-transformers and msearch itself (no infinity, ONNX or Qdrant). For each device it
times, interleaved over the same corpus, raw ``SentenceTransformer.encode`` (float32), msearch
float32, msearch ``precision="auto"`` and the explicit 16-bit precisions, and reports each one's
per-passage cosine to float32.

Run: ``python -m bench.bench_precision [--model FOLDER] [--threads N] [--passages N]``.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from bench.common import (
    Contender,
    corpus,
    cosine_rows,
    header,
    interleaved,
    matmul_gflops,
    minilm,
    table,
    token_counts,
)


def device_rows(
    path: str, device: str, texts: list[str], tokens: int, batch: int, rounds: int
) -> list[dict[str, Any]]:
    from sentence_transformers import SentenceTransformer

    from msearch.embeddings import text_embedder

    raw = SentenceTransformer(path, device=device)
    print(f"raw model on {device}: {next(raw.parameters()).dtype}\n", flush=True)
    contenders = [
        Contender(
            "raw ST float32",
            lambda t: raw.encode(
                t, batch_size=batch, normalize_embeddings=True, show_progress_bar=False
            ),
        )
    ]
    embedders: dict[str, Any] = {}
    precisions = ["float32", "auto", "bfloat16"] + (["float16"] if device != "cpu" else [])
    for precision in precisions:
        embedders[precision] = text_embedder(
            path, device=device, precision=precision, batch_size=batch, show_progress=False
        )
        contenders.append(Contender(f"msearch {precision}", embedders[precision].embed_documents))
    for contender in contenders:
        contender.run(texts[:64])
    interleaved(contenders, texts, rounds)
    reference = np.concatenate(contenders[0].outputs)
    rows = []
    for contender in contenders:
        vectors = np.asarray(np.concatenate(contender.outputs), dtype=np.float32)
        sims = cosine_rows(vectors, reference)
        name = contender.name
        plan = embedders[name.split()[-1]].plan if name.startswith("msearch") else None
        rows.append(
            {
                "contender": name + (f" -> {plan.precision}" if plan is not None else ""),
                "tokens/s": tokens / contender.seconds,
                "x raw fp32": contenders[0].seconds / contender.seconds,
                "cos min": f"{sims.min():.5f}",
                "cos mean": f"{sims.mean():.5f}",
                "passages >= 0.999": f"{int((sims >= 0.999).sum())}/{len(sims)}",
            }
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=None, help="model folder (default: packaged MiniLM)")
    parser.add_argument("--passages", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--no-gpu", action="store_true")
    args = parser.parse_args(argv)
    import torch

    from msearch.precision import detect_cpu, resolve_precision

    if args.threads:
        torch.set_num_threads(args.threads)
    path = args.model or minilm()
    texts = corpus(args.passages)
    tokens = int(token_counts(path, texts).sum())
    auto = resolve_precision("auto", "cpu")
    header(
        f"CPU: {detect_cpu().describe()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads; auto -> {auto.precision}"
    )
    table(
        [
            {"matmul": "float32", "GFLOP/s": matmul_gflops("float32")},
            {"matmul": "bfloat16", "GFLOP/s": matmul_gflops("bfloat16")},
        ]
    )
    header(f"CPU, {len(texts):,} passages, {tokens:,} tokens, batch 32")
    table(device_rows(path, "cpu", texts, tokens, 32, args.rounds))
    if torch.cuda.is_available() and not args.no_gpu:
        header(f"GPU: {torch.cuda.get_device_name(0)}, batch 128")
        table(device_rows(path, "cuda", texts, tokens, 128, args.rounds))


if __name__ == "__main__":
    main()
