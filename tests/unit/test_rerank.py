"""The reranker factory, the registry's rerankers, options, and failures that must be clear."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from msearch.backends.base import RerankerBase
from msearch.errors import InvalidInputError, ModelNotFoundError, ServerConnectionError
from msearch.models import Kind, get_spec
from msearch.protocols import Reranker
from msearch.rerank import reranker
from tests.support.infinity_server import free_port
from tests.support.stacks import backends

QUERY = "where do cats purr"
LONG = " ".join(["the dog barks at the big red fish in the blue sea"] * 10)


def test_unregistered_folder_is_taken_as_a_reranker(tiny_cross_encoder: str) -> None:
    built = reranker(tiny_cross_encoder, "sentence-transformers", max_tokens=16, batch_size=2)
    assert isinstance(built, Reranker)
    assert isinstance(built, RerankerBase)
    assert built.spec.kind is Kind.RERANKER
    assert built.spec.max_tokens == 16
    assert built.batch_size == 2


@pytest.mark.parametrize(
    "name", ["cross-encoder/ms-marco-MiniLM-L-6-v2", "mixedbread-ai/mxbai-rerank-base-v1"]
)
def test_registered_cross_encoders(name: str) -> None:
    spec = get_spec(name)
    assert spec.kind is Kind.RERANKER
    assert {"sentence-transformers", "onnx", "infinity"} <= set(spec.backends)
    for backend in ("sentence-transformers", "onnx", "infinity", "infinity-server"):
        assert reranker(name, backend).spec == spec  # nothing loads until first use


def test_an_embedding_model_is_not_a_reranker() -> None:
    with pytest.raises(InvalidInputError, match="embedding model, not a reranker"):
        reranker("sentence-transformers/all-MiniLM-L6-v2")


def test_a_reranker_is_not_an_embedding_model() -> None:
    from msearch import text_embedder

    with pytest.raises(InvalidInputError, match="registered as a reranker, not an embedding"):
        text_embedder("cross-encoder/ms-marco-MiniLM-L-6-v2")


def test_unknown_backend_lists_the_known_ones(tiny_cross_encoder: str) -> None:
    with pytest.raises(ValueError, match="sentence-transformers"):
        reranker(tiny_cross_encoder, "no-such-backend")


@pytest.mark.parametrize("backend", backends("sentence-transformers", "infinity"))
def test_missing_model_folder(backend: str, tmp_path: object) -> None:
    built = reranker(f"{tmp_path}/no-such-model", backend)
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        built.rerank(QUERY, ["a document"])


def test_unreachable_server_is_a_connection_error() -> None:
    built = reranker(
        "cross-encoder/ms-marco-MiniLM-L-6-v2",
        "infinity-server",
        url=f"http://127.0.0.1:{free_port()}",
        max_retries=1,
        timeout=10,
    )
    with pytest.raises(ServerConnectionError, match="could not serve /rerank"):
        built.rerank(QUERY, ["a document"])


def test_max_tokens_truncates_to_that_length(tiny_cross_encoder: str) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_cross_encoder)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_cross_encoder).eval()
    scores = {}
    for length in (16, 64):
        encoded = tokenizer(
            [QUERY], [LONG], truncation=True, max_length=length, return_tensors="pt"
        )
        with torch.no_grad():
            scores[length] = torch.sigmoid(model(**encoded).logits[0, 0]).item()
    assert abs(scores[16] - scores[64]) > 1e-4  # the limit changes what the model reads

    short = reranker(tiny_cross_encoder, max_tokens=16).rerank(QUERY, [LONG])
    default = reranker(tiny_cross_encoder).rerank(QUERY, [LONG])
    np.testing.assert_allclose(short[0].score, scores[16], atol=1e-5)
    np.testing.assert_allclose(default[0].score, scores[64], atol=1e-5)


def test_raw_scores_option(tiny_cross_encoder: str) -> None:
    docs = ["cats purr", "paris is in france", LONG]
    scaled = reranker(tiny_cross_encoder).rerank(QUERY, docs)
    raw = reranker(tiny_cross_encoder, raw_scores=True).rerank(QUERY, docs)
    assert [r.index for r in raw] == [r.index for r in scaled]
    np.testing.assert_allclose(
        [1 / (1 + np.exp(-r.score)) for r in raw], [r.score for r in scaled], atol=1e-9
    )


def test_rerank_module_imports_no_model_library() -> None:
    # The adapters' packages (which import their rerank modules) are checked in test_imports.
    code = (
        "import sys, msearch.rerank\n"
        "heavy = {'torch', 'transformers', 'FlagEmbedding', 'infinity_emb', "
        "'sentence_transformers'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
