"""The ``"onnx"`` backend: real exports of real models, held to the torch backends' numbers.

MiniLM (the real model) and the suite's tiny cross-encoder are exported with torch once per test
session, then run by OpenVINO and by ONNX Runtime. Float32 must match sentence-transformers to
cosine >= 0.99999 per passage (measured here: >= 0.9999999); the cross-encoder's logits within
1e-4 (measured: ~1e-6). bf16 (OpenVINO, where the CPU runs it natively) measured >= 0.99996 on
MiniLM; int8 ~0.97 minimum, lossy as documented.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from msearch.backends.onnx_entry import MANIFEST, REFERENCE, fidelity_texts
from msearch.backends.onnx_runtime import MIN_COSINE, OnnxTextEmbedder
from msearch.embeddings import text_embedder
from msearch.errors import BackendError, InvalidInputError
from msearch.precision import detect_cpu
from msearch.rerank import reranker
from tests.integration.test_fast_path import cosines, passages

RUNTIMES = ("openvino", "onnxruntime")
QUERY = "Which animal purrs on the sofa?"


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("onnx-cache"))


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    return passages(48, seed=11)


@pytest.fixture(scope="module")
def torch_vectors(minilm: str, corpus: list[str]) -> np.ndarray:
    return text_embedder(minilm, show_progress=False).embed_documents(corpus)


def onnx(model: str, cache: str, **options: object) -> OnnxTextEmbedder:
    embedder = text_embedder(model, "onnx", onnx_cache_dir=cache, show_progress=False, **options)
    assert isinstance(embedder, OnnxTextEmbedder)
    return embedder


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_float32_matches_sentence_transformers_on_minilm(
    minilm: str, cache: str, corpus: list[str], torch_vectors: np.ndarray, runtime: str
) -> None:
    embedder = onnx(minilm, cache, runtime=runtime, precision="float32")
    vectors = embedder.embed_documents(corpus)
    assert embedder.plan is not None and embedder.plan.precision == "float32"
    assert embedder.plan.reason.startswith(runtime)
    assert vectors.shape == torch_vectors.shape and vectors.dtype == np.float32
    assert cosines(vectors, torch_vectors).min() >= 0.99999
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    query = text_embedder(minilm, show_progress=False).embed_query(QUERY)
    assert float(embedder.embed_query(QUERY) @ query) >= 0.99999


def test_auto_takes_bf16_only_where_the_cpu_runs_it_and_it_holds(
    minilm: str, cache: str, corpus: list[str], torch_vectors: np.ndarray
) -> None:
    embedder = onnx(minilm, cache)
    vectors = embedder.embed_documents(corpus)
    assert embedder.plan is not None
    expected = "bfloat16" if detect_cpu().native_bf16 else "float32"
    assert embedder.plan.precision == expected, embedder.plan
    assert cosines(vectors, torch_vectors).min() >= MIN_COSINE
    assert embedder.exported.entry is not None
    recorded = json.loads((embedder.exported.entry / MANIFEST).read_text())["fidelity"]
    assert recorded[f"openvino/{expected}"] >= MIN_COSINE


def test_auto_falls_back_to_float32_when_bf16_failed_its_check(minilm: str, tmp_path: Path) -> None:
    first = onnx(minilm, str(tmp_path), precision="float32")
    first.embed_query("x")
    assert first.exported.entry is not None
    manifest = json.loads((first.exported.entry / MANIFEST).read_text())
    manifest["fidelity"]["openvino/bfloat16"] = 0.99
    (first.exported.entry / MANIFEST).write_text(json.dumps(manifest))
    embedder = onnx(minilm, str(tmp_path))
    embedder.embed_query("x")
    assert embedder.plan is not None and embedder.plan.precision == "float32"


def test_an_export_that_does_not_reproduce_the_model_is_an_error(
    minilm: str, tmp_path: Path
) -> None:
    first = onnx(minilm, str(tmp_path), runtime="onnxruntime", precision="float32")
    first.embed_query("x")
    assert first.exported.entry is not None
    reference = np.load(first.exported.entry / REFERENCE)
    np.save(first.exported.entry / REFERENCE, np.random.default_rng(0).normal(size=reference.shape))
    manifest = json.loads((first.exported.entry / MANIFEST).read_text())
    manifest["fidelity"] = {}
    (first.exported.entry / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BackendError, match="sentence-transformers"):
        onnx(minilm, str(tmp_path), runtime="openvino", precision="float32").embed_query("x")


def test_int8_is_lossy_but_close(
    minilm: str, cache: str, corpus: list[str], torch_vectors: np.ndarray
) -> None:
    embedder = onnx(minilm, cache, precision="int8-onnx")
    sims = cosines(embedder.embed_documents(corpus), torch_vectors)
    assert embedder.plan is not None and embedder.plan.reason.startswith("onnxruntime")
    assert sims.mean() >= 0.98 and sims.min() >= 0.95, (sims.mean(), sims.min())
    assert sims.min() < 0.9999  # it is quantized, not the float32 graph again


def test_options_are_honoured_as_on_the_torch_backend(minilm: str, cache: str) -> None:
    texts = ["a cat purrs", "vector databases store embeddings " * 30]
    for options in (
        {"normalize": False},
        {"dimensions": 128},
        {"pooling": "cls"},
        {"max_tokens": 8},
        {"query_prompt": "query: ", "document_prompt": "passage: "},
    ):
        ours = onnx(minilm, cache, precision="float32", **options)
        theirs = text_embedder(minilm, show_progress=False, **options)
        np.testing.assert_allclose(
            ours.embed_documents(texts), theirs.embed_documents(texts), atol=2e-5, err_msg=options
        )
        np.testing.assert_allclose(ours.embed_query(QUERY), theirs.embed_query(QUERY), atol=2e-5)
        assert ours.dim == theirs.dim
    unnormalized = onnx(minilm, cache, precision="float32", normalize=False)
    assert abs(float(np.linalg.norm(unnormalized.embed_query(QUERY))) - 1.0) > 0.01


def test_the_models_own_prompts_apply(minilm: str, cache: str, tmp_path: Path) -> None:
    folder = tmp_path / "prompted"
    shutil.copytree(minilm, folder)
    config = {"prompts": {"query": "query: ", "passage": "passage: "}, "default_prompt_name": None}
    (folder / "config_sentence_transformers.json").write_text(json.dumps(config))
    ours = onnx(str(folder), cache, precision="float32")
    theirs = text_embedder(str(folder), show_progress=False)
    assert ours.prompts() == ("query: ", "passage: ")
    np.testing.assert_allclose(ours.embed_query(QUERY), theirs.embed_query(QUERY), atol=2e-5)
    documents = ["a cat", "a dog"]
    np.testing.assert_allclose(
        ours.embed_documents(documents), theirs.embed_documents(documents), atol=2e-5
    )


def test_the_export_is_reused_and_redone_when_the_model_changes(
    minilm: str, tmp_path: Path
) -> None:
    folder = tmp_path / "copy"
    shutil.copytree(minilm, folder)
    cache = tmp_path / "cache"
    onnx(str(folder), str(cache), precision="float32").embed_query("x")
    entries = [p for p in cache.iterdir() if not p.name.startswith(".")]
    assert len(entries) == 1
    graph_time = (entries[0] / "model.onnx").stat().st_mtime_ns
    onnx(str(folder), str(cache), precision="float32").embed_query("x")
    assert (entries[0] / "model.onnx").stat().st_mtime_ns == graph_time
    (folder / "README.md").write_text("changed")
    onnx(str(folder), str(cache), precision="float32").embed_query("x")
    assert len([p for p in cache.iterdir() if not p.name.startswith(".")]) == 2


def test_a_cached_export_runs_without_torch(minilm: str, cache: str) -> None:
    onnx(minilm, cache, precision="float32").embed_query("warm the cache")
    script = (
        "import sys\n"
        "from msearch.embeddings import text_embedder\n"
        f"e = text_embedder({minilm!r}, 'onnx', onnx_cache_dir={cache!r}, precision='float32')\n"
        "print(e.embed_documents(['a cat', 'a dog']).shape)\n"
        "heavy = {'torch', 'transformers', 'sentence_transformers'} & set(sys.modules)\n"
        "print(sorted(heavy))\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.split("\n")[:2] == ["(2, 384)", "[]"], done.stdout + done.stderr


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_cross_encoder_logits_match_sentence_transformers(
    tiny_cross_encoder: str, cache: str, runtime: str
) -> None:
    documents = [
        "cats purr on the sofa",
        "the capital of france is paris",
        "dogs bark " * 80,  # past the model's 64 tokens: truncated the same way
        "",
        "python code is fast",
    ]
    options = {"raw_scores": True, "show_progress": False}
    ours = reranker(
        tiny_cross_encoder,
        "onnx",
        runtime=runtime,
        precision="float32",
        onnx_cache_dir=cache,
        **options,
    )
    theirs = reranker(tiny_cross_encoder, "sentence-transformers", **options)
    mine, reference = ours.rerank(QUERY, documents), theirs.rerank(QUERY, documents)
    assert [r.index for r in mine] == [r.index for r in reference]
    np.testing.assert_allclose(
        [r.score for r in mine], [r.score for r in reference], atol=1e-4, rtol=0
    )
    assert ours.plan is not None and ours.plan.reason.startswith(runtime)  # type: ignore[attr-defined]
    scaled = reranker(tiny_cross_encoder, "onnx", onnx_cache_dir=cache, show_progress=False)
    assert all(0.0 <= r.score <= 1.0 for r in scaled.rerank(QUERY, documents, top_n=2))


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"device": "cuda"}, "CPU only"),
        ({"precision": "float16"}, "float16"),
        ({"runtime": "tensorrt"}, "runtime"),
        ({"runtime": "onnxruntime", "precision": "bfloat16"}, "openvino"),
        ({"runtime": "openvino", "precision": "int8-onnx"}, "ONNX Runtime"),
        ({"dtype": "bfloat16"}, "dtype"),
    ],
)
def test_options_it_cannot_honour_are_refused(
    minilm: str, options: dict[str, str], match: str
) -> None:
    with pytest.raises(InvalidInputError, match=match):
        text_embedder(minilm, "onnx", **options)


def test_the_check_texts_are_fixed_and_mixed() -> None:
    texts = fidelity_texts()
    assert texts == fidelity_texts()
    lengths = [len(t.split()) for t in texts]
    assert min(lengths) == 1 and max(lengths) >= 300


def test_both_frameworks_take_the_backend(minilm: str, tiny_cross_encoder: str, cache: str) -> None:
    from langchain_core.documents import Document
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

    from langchain_msearch import MSearchEmbeddings, MSearchReranker
    from llamaindex_msearch import MSearchEmbedding, MSearchRerank

    options = {"precision": "float32", "onnx_cache_dir": cache}
    reference = onnx(minilm, cache, precision="float32")
    langchain = MSearchEmbeddings(model=minilm, backend="onnx", options=options)
    llama = MSearchEmbedding(model=minilm, backend="onnx", options=options)
    texts = ["a cat purrs", "a dog barks"]
    want = reference.embed_documents(texts)
    np.testing.assert_allclose(langchain.embed_documents(texts), want, atol=1e-6)
    np.testing.assert_allclose(llama.get_text_embedding_batch(texts), want, atol=1e-6)
    np.testing.assert_allclose(
        langchain.embed_query(QUERY), reference.embed_query(QUERY), atol=1e-6
    )

    docs = ["the capital of france is paris", "cats purr on the sofa"]
    core = reranker(tiny_cross_encoder, "onnx", **options).rerank(QUERY, docs)
    compressor = MSearchReranker(model=tiny_cross_encoder, backend="onnx", **options)
    compressed = compressor.compress_documents([Document(page_content=d) for d in docs], QUERY)
    assert [d.page_content for d in compressed] == [docs[r.index] for r in core]
    postprocessor = MSearchRerank(model=tiny_cross_encoder, backend="onnx", **options)
    nodes = [NodeWithScore(node=TextNode(text=d), score=0.0) for d in docs]
    ranked = postprocessor.postprocess_nodes(nodes, QueryBundle(QUERY))
    assert [n.node.get_content() for n in ranked] == [docs[r.index] for r in core]
    assert [n.score for n in ranked] == pytest.approx([r.score for r in core], abs=1e-6)


def test_the_one_time_export_is_announced_unless_quiet(
    minilm: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text_embedder(minilm, "onnx", onnx_cache_dir=str(tmp_path)).embed_query("x")
    assert "exporting" in capsys.readouterr().err
    text_embedder(minilm, "onnx", onnx_cache_dir=str(tmp_path)).embed_query("x")
    assert "exporting" not in capsys.readouterr().err
    quiet = text_embedder(minilm, "onnx", onnx_cache_dir=str(tmp_path / "2"), show_progress=False)
    quiet.embed_query("x")
    err = capsys.readouterr().err  # (log records of other libraries may be there)
    assert "exporting" not in err and "it/s]" not in err, err
