"""The bge rerankers: FlagReranker and FlagLLMReranker parity on tiny models (legacy stack),
and a bge-reranker-like XLM-R cross-encoder on sentence-transformers (both stacks)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from msearch.errors import InvalidInputError
from msearch.rerank import reranker
from tests.support.tiny_bge_m3 import tiny_reranker_path
from tests.support.tiny_cross_encoder import MAX_LENGTH, build_tiny_cross_encoder
from tests.support.tiny_qwen3 import tiny_qwen3_reranker_path

legacy = pytest.mark.legacy_stack("FlagEmbedding")

QUERY = "where do cats purr"
DOCS = [
    "cats purr on the sofa",
    "paris is the capital of france",
    "dogs bark and cats purr when the sun is up " * 20,  # longer than MAX_LENGTH
    "",
]


@pytest.fixture(scope="module")
def cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> str:
    return build_tiny_cross_encoder(Path(tmp_path_factory.mktemp("flag-rerank")) / "ce")


def by_index(results: list) -> list[float]:
    return [result.score for result in sorted(results, key=lambda result: result.index)]


@legacy
def test_cross_encoder_matches_flagreranker_including_truncation(cross_encoder: str) -> None:
    from FlagEmbedding import FlagReranker

    theirs = FlagReranker(cross_encoder, use_fp16=False, devices="cpu", max_length=MAX_LENGTH)
    expected = theirs.compute_score([(QUERY, doc) for doc in DOCS], normalize=True)
    ranker = reranker(cross_encoder, "flag", max_length=MAX_LENGTH, batch_size=2)
    np.testing.assert_allclose(by_index(ranker.rerank(QUERY, DOCS)), expected, atol=1e-5)


@legacy
def test_cross_encoder_equals_a_direct_forward_pass_plus_sigmoid(cross_encoder: str) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(cross_encoder)
    model = AutoModelForSequenceClassification.from_pretrained(cross_encoder).eval()
    short = DOCS[:2]
    batch = tokenizer([QUERY] * len(short), short, padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits.view(-1).tolist()
    ranker = reranker(cross_encoder, "flag", max_length=MAX_LENGTH)
    expected = [1 / (1 + math.exp(-logit)) for logit in logits]
    np.testing.assert_allclose(by_index(ranker.rerank(QUERY, short)), expected, atol=1e-5)
    raw = reranker(cross_encoder, "flag", max_length=MAX_LENGTH, raw_scores=True)
    np.testing.assert_allclose(by_index(raw.rerank(QUERY, short)), logits, atol=1e-5)


def _forward_pass_scores(folder: str, query: str, documents: list[str]) -> list[float]:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    batch = tokenizer([query] * len(documents), documents, padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits.view(-1).tolist()
    return [1 / (1 + math.exp(-logit)) for logit in logits]


def test_a_bge_style_reranker_runs_on_sentence_transformers() -> None:
    folder = tiny_reranker_path()
    short = DOCS[:2] + DOCS[3:]
    ranker = reranker(folder, "sentence-transformers")
    expected = _forward_pass_scores(folder, QUERY, short)
    np.testing.assert_allclose(by_index(ranker.rerank(QUERY, short)), expected, atol=1e-5)
    assert len(ranker.rerank(QUERY, DOCS)) == len(DOCS)  # the long one is truncated


@legacy
def test_sentence_transformers_scores_a_cross_encoder_as_flagreranker_does(
    cross_encoder: str,
) -> None:
    from FlagEmbedding import FlagReranker

    # a BERT tokenizer: the tiny XLM-R one is a generic fast tokenizer, whose pairs
    # FlagReranker's encoding would build without special tokens (the real ones have them)
    folder = cross_encoder
    theirs = FlagReranker(folder, use_fp16=False, devices="cpu", max_length=MAX_LENGTH)
    expected = theirs.compute_score([(QUERY, doc) for doc in DOCS], normalize=True)
    ours = reranker(folder, "sentence-transformers", max_tokens=MAX_LENGTH)
    np.testing.assert_allclose(by_index(ours.rerank(QUERY, DOCS)), expected, atol=1e-5)
    flag = reranker(folder, "flag", max_length=MAX_LENGTH)
    np.testing.assert_allclose(by_index(flag.rerank(QUERY, DOCS)), expected, atol=1e-5)


@legacy
def test_llm_reranker_matches_flagllmreranker() -> None:
    from FlagEmbedding import FlagLLMReranker

    folder = tiny_qwen3_reranker_path()
    theirs = FlagLLMReranker(folder, use_fp16=False, devices="cpu", max_length=64)
    expected = theirs.compute_score([(QUERY, doc) for doc in DOCS], normalize=True)
    ranker = reranker(folder, "flag", max_length=64)
    np.testing.assert_allclose(by_index(ranker.rerank(QUERY, DOCS)), expected, atol=1e-5)


@legacy
async def test_async_and_bad_input(cross_encoder: str) -> None:
    ranker = reranker(cross_encoder, "flag", max_length=MAX_LENGTH)
    assert await ranker.arerank(QUERY, DOCS, top_n=2) == ranker.rerank(QUERY, DOCS, top_n=2)
    assert ranker.rerank(QUERY, []) == []
    assert len(ranker.rerank(QUERY, DOCS, top_n=99)) == len(DOCS)
    with pytest.raises(InvalidInputError, match="empty"):
        ranker.rerank("", DOCS)


def test_registry_lists_the_bge_rerankers() -> None:
    from msearch.models import Kind, get_spec

    for name in ("BAAI/bge-reranker-v2-m3", "BAAI/bge-reranker-base", "BAAI/bge-reranker-large"):
        spec = get_spec(name)
        assert spec.kind is Kind.RERANKER and "flag" in spec.backends
    assert get_spec("BAAI/bge-reranker-v2-gemma").backends == ("flag",)
