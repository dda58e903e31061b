"""Every option is honoured or refused: pooling, a model's own prompts, unknown options.

On the real MiniLM (sentence-transformers) and the tiny BGE encoder (FlagEmbedding), each
compared with the reference library configured the same way.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from msearch import text_embedder
from msearch.errors import InvalidInputError
from msearch.multimodal import image_embedder
from msearch.rerank import reranker
from msearch.sparse import sparse_embedder
from tests.support.stacks import backends
from tests.support.tiny_bge_m3 import MAX_LENGTH, tiny_bge_m3_path, tiny_dense_encoder_path

TEXTS = ["Paris is the capital city of France.", "cats purr", "Qdrant stores vectors."]
QUERY = "Where do vectors live?"


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = np.atleast_2d(a) / np.linalg.norm(np.atleast_2d(a), axis=1, keepdims=True)
    b = np.atleast_2d(b) / np.linalg.norm(np.atleast_2d(b), axis=1, keepdims=True)
    return np.sum(a * b, axis=1)


# -- pooling ---------------------------------------------------------------------------------


@pytest.mark.legacy_stack("FlagEmbedding")
@pytest.mark.parametrize("backend", backends("transformers", "flag"))
def test_bge_pooling_option_is_honoured(backend: str) -> None:
    from FlagEmbedding import FlagModel

    folder = tiny_dense_encoder_path()
    for pooling in ("mean", "cls"):
        theirs = FlagModel(
            folder,
            pooling_method=pooling,
            use_fp16=False,
            devices="cpu",
            passage_max_length=MAX_LENGTH,
        )
        ours = text_embedder(folder, backend, pooling=pooling)
        np.testing.assert_allclose(
            ours.embed_documents(TEXTS), theirs.encode_corpus(TEXTS), atol=1e-5
        )
    mean = text_embedder(folder, backend, pooling="mean").embed_documents(TEXTS)
    cls = text_embedder(folder, backend).embed_documents(TEXTS)
    assert _cosines(mean, cls).min() < 0.999  # the option changes the vectors


@pytest.mark.parametrize("backend", backends("transformers", "flag"))
def test_bge_m3_refuses_a_pooling_it_cannot_apply(backend: str) -> None:
    with pytest.raises(InvalidInputError, match="CLS"):
        text_embedder(tiny_bge_m3_path(), backend, pooling="mean").embed_query("x")


def test_sentence_transformers_pooling_option_is_honoured(minilm: str) -> None:
    from sentence_transformers import SentenceTransformer, models

    plain = SentenceTransformer(minilm, device="cpu")
    transformer = plain[0]
    cls_model = SentenceTransformer(
        modules=[transformer, models.Pooling(384, pooling_mode="cls"), plain[2]], device="cpu"
    )
    ours_cls = text_embedder(minilm, pooling="cls").embed_documents(TEXTS)
    np.testing.assert_allclose(ours_cls, cls_model.encode(TEXTS), atol=1e-5)
    ours_mean = text_embedder(minilm, pooling="mean").embed_documents(TEXTS)
    np.testing.assert_allclose(ours_mean, plain.encode(TEXTS), atol=1e-5)
    assert _cosines(ours_cls, ours_mean).min() < 0.99


@pytest.mark.parametrize(
    ("backend", "match"),
    [("qwen3", "last token"), ("infinity-server", "pools as it was started")],
)
def test_backends_that_cannot_pool_otherwise_refuse(minilm: str, backend: str, match: str) -> None:
    options = {"url": "http://127.0.0.1:9"} if backend == "infinity-server" else {}
    with pytest.raises(InvalidInputError, match=match):
        text_embedder(minilm, backend, pooling="cls", **options)


def test_an_unknown_pooling_is_refused(minilm: str) -> None:
    with pytest.raises(InvalidInputError, match="pooling='avg'"):
        text_embedder(minilm, pooling="avg")


# -- a model's own prompts -------------------------------------------------------------------


@pytest.fixture
def prompted_minilm(minilm: str, tmp_path: Path) -> str:
    """MiniLM with prompts declared in its config_sentence_transformers.json."""
    folder = tmp_path / "prompted-minilm"
    shutil.copytree(minilm, folder)
    config = {
        "prompts": {"query": "query: ", "passage": "passage: "},
        "default_prompt_name": "passage",
    }
    (folder / "config_sentence_transformers.json").write_text(json.dumps(config))
    return str(folder)


def test_the_models_own_prompts_are_used_once(prompted_minilm: str) -> None:
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(prompted_minilm, device="cpu")
    embedder = text_embedder(prompted_minilm)
    np.testing.assert_allclose(
        embedder.embed_documents(TEXTS), reference.encode(TEXTS, prompt_name="passage"), atol=1e-5
    )
    np.testing.assert_allclose(
        embedder.embed_query(QUERY), reference.encode(QUERY, prompt_name="query"), atol=1e-5
    )
    assert embedder.prompts() == ("query: ", "passage: ")  # type: ignore[attr-defined]


def test_a_callers_prompt_replaces_the_models_own(prompted_minilm: str, minilm: str) -> None:
    embedder = text_embedder(prompted_minilm, query_prompt="Q: ")
    plain = text_embedder(minilm)
    # exactly "Q: " + query, and no "passage: " default prompt before documents or queries
    np.testing.assert_allclose(
        embedder.embed_query(QUERY), plain.embed_query("Q: " + QUERY), atol=1e-5
    )
    np.testing.assert_allclose(
        embedder.embed_documents(TEXTS), plain.embed_documents(TEXTS), atol=1e-5
    )


@pytest.mark.parametrize("backend", backends("transformers", "flag"))
def test_the_models_prompts_reach_the_bge_backends_too(backend: str, tmp_path: Path) -> None:
    folder = tmp_path / "prompted-bge"
    shutil.copytree(tiny_dense_encoder_path(), folder)
    (folder / "config_sentence_transformers.json").write_text(
        json.dumps({"prompts": {"query": "query: ", "document": ""}})
    )
    prompted = text_embedder(str(folder), backend)
    plain = text_embedder(str(folder), backend, query_prompt="query: ")
    np.testing.assert_allclose(prompted.embed_query(QUERY), plain.embed_query(QUERY), atol=1e-6)


# -- options nothing consumes ----------------------------------------------------------------


@pytest.mark.parametrize(
    "backend", backends("sentence-transformers", "flag", "qwen3", "infinity", "infinity-server")
)
def test_an_unknown_option_is_refused_by_name(minilm: str, backend: str) -> None:
    options = {"url": "http://127.0.0.1:9"} if backend == "infinity-server" else {}
    with pytest.raises(InvalidInputError, match="bogus_option"):
        text_embedder(minilm, backend, bogus_option=1, **options)
    with pytest.raises(InvalidInputError, match="bogus_option"):
        reranker(minilm, backend, bogus_option=1, **options)


def test_unknown_options_of_the_other_factories_are_refused(minilm: str) -> None:
    with pytest.raises(InvalidInputError, match="bogus_option"):
        sparse_embedder(tiny_bge_m3_path(), bogus_option=1)
    with pytest.raises(InvalidInputError, match="bogus_option"):
        text_embedder(tiny_bge_m3_path(), "transformers", bogus_option=1)
    with pytest.raises(InvalidInputError, match="bogus_option"):
        image_embedder(minilm, "transformers", bogus_option=1)
    with pytest.raises(InvalidInputError, match="no-such-backend"):
        text_embedder(minilm, "no-such-backend")


@pytest.mark.parametrize(
    "backend", backends("sentence-transformers", "transformers", "flag", "qwen3", "infinity")
)
def test_a_bad_dtype_is_the_same_error_on_every_in_process_backend(
    minilm: str, backend: str
) -> None:
    with pytest.raises(InvalidInputError, match="float64"):
        text_embedder(minilm, backend, dtype="float64")
