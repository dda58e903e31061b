"""The CPU fast path keeps its promises on fidelity: real MiniLM, real exports, no timing.

Thresholds are what was measured here minus a margin (docs/benchmarks.md, "Fast path"):
- bf16 weights vs float32 on MiniLM: per-passage cosine min 0.9999 measured; asserted >= 0.999.
- int8-onnx (dynamic, per-channel) vs float32 on MiniLM: cosine mean 0.989, min 0.968 measured
  on this file's passages; asserted mean >= 0.98, min >= 0.95. It is lossy, and the docs say so.
- Tiny random cross-encoder (logit std ~1.1): Pearson r to float32 logits 0.9994 (bf16) and
  0.995 (int8) measured; asserted >= 0.995 and >= 0.98.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from msearch.embeddings import text_embedder
from msearch.precision import detect_cpu
from msearch.rerank import reranker

_WORD_TEXT = (
    "the a of to in is on for with cat dog vector search database query river city music book "
    "python code fast slow red blue apple tree sea fish bird mountain engine model index store "
    "embedding passage language quantum history market energy protein galaxy theorem"
)
_WORDS = _WORD_TEXT.split()


def passages(count: int, seed: int = 7) -> list[str]:
    """Mixed-length passages (2 to 300 words, some past MiniLM's 256-token limit)."""
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(3.3, 1.0, count).astype(int), 2, 300)
    return [" ".join(rng.choice(_WORDS, n)).capitalize() + "." for n in lengths]


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    return passages(48)


@pytest.fixture(scope="module")
def fp32_vectors(minilm: str, corpus: list[str]) -> np.ndarray:
    return text_embedder(minilm, show_progress=False).embed_documents(corpus)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_bf16_vectors_match_float32_on_minilm(
    minilm: str, corpus: list[str], fp32_vectors: np.ndarray
) -> None:
    embedder = text_embedder(minilm, precision="bfloat16", show_progress=False)
    vectors = embedder.embed_documents(corpus)
    assert embedder.plan is not None and embedder.plan.precision == "bfloat16"  # type: ignore[attr-defined]
    assert str(embedder.loaded[0].auto_model.dtype) == "torch.bfloat16"  # type: ignore[attr-defined]
    assert vectors.dtype == np.float32
    sims = cosines(vectors, fp32_vectors)
    assert sims.min() >= 0.999, sims.min()
    assert not np.array_equal(vectors, fp32_vectors)  # really another path


async def test_bf16_query_path_async(
    minilm: str, fp32_vectors: np.ndarray, corpus: list[str]
) -> None:
    embedder = text_embedder(minilm, dtype="bfloat16", show_progress=False)
    vector = await embedder.aembed_query(corpus[0])
    assert vector.shape == (384,)
    assert float(cosines(vector[None], fp32_vectors[:1])[0]) >= 0.999


def test_auto_follows_this_cpu(minilm: str, corpus: list[str], fp32_vectors: np.ndarray) -> None:
    embedder = text_embedder(minilm, precision="auto", show_progress=False)
    vectors = embedder.embed_documents(corpus)
    plan = embedder.plan  # type: ignore[attr-defined]
    if detect_cpu().native_bf16:
        assert plan.precision == "bfloat16"
        assert cosines(vectors, fp32_vectors).min() >= 0.999
    else:
        assert plan.precision == "float32"
        np.testing.assert_array_equal(vectors, fp32_vectors)


def test_default_stays_exact(minilm: str, corpus: list[str], fp32_vectors: np.ndarray) -> None:
    from sentence_transformers import SentenceTransformer

    raw = SentenceTransformer(minilm, device="cpu").encode(corpus[:8], normalize_embeddings=True)
    np.testing.assert_allclose(fp32_vectors[:8], raw, atol=1e-5)


@pytest.mark.legacy_stack("optimum.onnxruntime")
def test_int8_onnx_export_is_cached_and_close_to_float32(
    minilm: str, corpus: list[str], fp32_vectors: np.ndarray, model_cache: Path
) -> None:
    cache = model_cache / "onnx-int8"
    embedder = text_embedder(
        minilm, precision="int8-onnx", onnx_cache_dir=str(cache), show_progress=False
    )
    vectors = embedder.embed_documents(corpus)
    entries = [entry for entry in cache.iterdir() if not entry.name.startswith(".")]
    assert len(entries) == 1
    quantized = entries[0] / "onnx" / "model_qint8.onnx"
    assert quantized.is_file()
    assert not (entries[0] / "model.safetensors").exists()  # no torch weights copied
    assert quantized.stat().st_size < 40_000_000  # int8: about a quarter of the 90 MB float32
    sims = cosines(vectors, fp32_vectors)
    assert sims.mean() >= 0.98, sims.mean()
    assert sims.min() >= 0.95, sims.min()

    stamp = quantized.stat().st_mtime_ns
    again = text_embedder(
        minilm, precision="int8-onnx", onnx_cache_dir=str(cache), show_progress=False
    )
    np.testing.assert_allclose(again.embed_documents(corpus), vectors, atol=1e-6)
    assert quantized.stat().st_mtime_ns == stamp  # loaded from the cache, not exported again
    # Dynamic quantization scales activations per batch: the same passage in another batch
    # gets a slightly different vector, still within the same distance of float32.
    alone = again.embed_documents(corpus[:4])
    assert cosines(alone, fp32_vectors[:4]).min() >= 0.95


def test_int8_onnx_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    from msearch.errors import ModelNotFoundError

    embedder = text_embedder(
        str(tmp_path / "nowhere"), precision="int8-onnx", onnx_cache_dir=str(tmp_path)
    )
    with pytest.raises(ModelNotFoundError, match="nowhere"):
        embedder.embed_query("x")


def _raw_scores(model: str, precision: str, docs: list[str], cache: Path) -> np.ndarray:
    ranker = reranker(
        model, precision=precision, raw_scores=True, onnx_cache_dir=str(cache), show_progress=False
    )
    scores = np.empty(len(docs))
    for result in ranker.rerank("where do cats purr", docs):
        scores[result.index] = result.score
    return scores


@pytest.mark.parametrize(
    ("precision", "min_r"),
    [
        ("bfloat16", 0.995),
        pytest.param("int8-onnx", 0.98, marks=pytest.mark.legacy_stack("optimum.onnxruntime")),
    ],
)
def test_cross_encoder_fast_paths_track_float32(
    tiny_cross_encoder: str, model_cache: Path, precision: str, min_r: float
) -> None:
    docs = passages(64, seed=3)
    cache = model_cache / "onnx-int8"
    reference = _raw_scores(tiny_cross_encoder, "float32", docs, cache)
    fast = _raw_scores(tiny_cross_encoder, precision, docs, cache)
    assert np.isfinite(fast).all()
    assert not np.array_equal(fast, reference)
    r = float(np.corrcoef(fast, reference)[0, 1])
    assert r >= min_r, r


@pytest.mark.legacy_stack("optimum.onnxruntime")
async def test_int8_cross_encoder_async_and_ranked(
    tiny_cross_encoder: str, model_cache: Path
) -> None:
    ranker = reranker(
        tiny_cross_encoder,
        precision="int8-onnx",
        onnx_cache_dir=str(model_cache / "onnx-int8"),
        show_progress=False,
    )
    docs = passages(10, seed=5)
    results = await ranker.arerank("cats purr", docs, top_n=3)
    assert len(results) == 3
    assert all(0.0 < r.score < 1.0 for r in results)
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)
    assert ranker.plan.onnx_int8  # type: ignore[attr-defined]
