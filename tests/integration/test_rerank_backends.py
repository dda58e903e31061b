"""Every cross-encoder backend against a direct transformers forward pass on the same weights.

One tiny random BERT cross-encoder is scored by FlagEmbedding's FlagReranker ("flag"),
sentence-transformers' CrossEncoder, infinity in process, and a real Infinity server process;
each must give the reference's sigmoid(logit) to 1e-5, in both the sync and async API.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import numpy as np
import pytest

from msearch.backends import backend_class
from msearch.backends.base import RerankerBase
from msearch.datatypes import RerankResult
from msearch.errors import BackendError, InvalidInputError
from msearch.rerank import reranker
from tests.support.infinity_server import served_name
from tests.support.stacks import backends
from tests.support.tiny_cross_encoder import MAX_LENGTH

#: "openai" is the Cohere/Jina-shape client, pointed at the Infinity server's /rerank (which
#: answers sorted by score, with probabilities).
BACKENDS = ["flag", "sentence-transformers", "infinity", "infinity-server", "openai"]

QUERY = "where do cats purr"
DOCUMENTS = [
    "cats purr on the sofa",
    "paris is the capital of france",
    "qdrant stores vectors for fast search",
    "",
    "Zebras & yaks: 42 odd tokens!",
    # Far over the model's 64-token limit: must be truncated, and still scored.
    " ".join(["the dog barks at the big red fish in the blue sea"] * 30),
]


def reference_scores(folder: str, query: str, documents: list[str]) -> np.ndarray:
    """sigmoid(logit) from transformers directly, one unpadded pair at a time."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    scores = []
    with torch.no_grad():
        for document in documents:
            # Lists, not bare strings: a bare "" second text would be dropped, not paired.
            encoded = tokenizer(
                [query], [document], truncation=True, max_length=MAX_LENGTH, return_tensors="pt"
            )
            scores.append(torch.sigmoid(model(**encoded).logits[0, 0]).item())
    return np.asarray(scores)


@pytest.fixture(scope="module")
def expected(tiny_cross_encoder: str) -> np.ndarray:
    return reference_scores(tiny_cross_encoder, QUERY, DOCUMENTS)


@pytest.fixture(scope="module", params=backends(*BACKENDS))
def ranker(request: pytest.FixtureRequest, tiny_cross_encoder: str) -> Iterator[RerankerBase]:
    backend = request.param
    try:
        backend_class("rerank", backend)
    except ValueError:
        pytest.skip(f"the {backend!r} reranker backend is not registered in this checkout")
    except ModuleNotFoundError as err:
        if not (err.name or "").startswith("msearch."):
            raise
        pytest.skip(f"the {backend!r} reranker backend's module is not in this checkout")
    options: dict[str, object] = {"batch_size": 4}
    if backend in ("infinity-server", "openai"):
        options["url"] = request.getfixturevalue("infinity_url")
        options["server_model"] = served_name(tiny_cross_encoder)
    if backend == "openai":
        options["truncate"] = "end"  # the in-process backends' behaviour, for the long text
    built = reranker(tiny_cross_encoder, backend, **options)
    assert isinstance(built, RerankerBase)
    yield built
    if backend == "infinity":
        built._sync(built.engine.stop)  # type: ignore[attr-defined]


def by_index(results: list[RerankResult]) -> np.ndarray:
    scores = np.empty(len(results))
    for result in results:
        scores[result.index] = result.score
    return scores


def test_scores_match_transformers_sigmoid(ranker: RerankerBase, expected: np.ndarray) -> None:
    results = ranker.rerank(QUERY, DOCUMENTS)
    assert sorted(r.index for r in results) == list(range(len(DOCUMENTS)))
    scores = [r.score for r in results]
    assert scores == sorted(scores, reverse=True)
    np.testing.assert_allclose(by_index(results), expected, atol=1e-5, rtol=0)
    # The scores spread: a model that answered a constant would not pass the check above
    # by accident.
    assert np.ptp(expected) > 0.1


async def test_async_matches_sync(ranker: RerankerBase, expected: np.ndarray) -> None:
    results = await ranker.arerank(QUERY, DOCUMENTS)
    np.testing.assert_allclose(by_index(results), expected, atol=1e-5, rtol=0)


async def test_concurrent_async_calls(ranker: RerankerBase, expected: np.ndarray) -> None:
    halves = [DOCUMENTS[:3], DOCUMENTS[3:]]
    parts = await asyncio.gather(*(ranker.arerank(QUERY, half) for half in halves))
    scores = np.concatenate([by_index(part) for part in parts])
    np.testing.assert_allclose(scores, expected, atol=1e-5, rtol=0)


def test_raw_scores_are_logits(ranker: RerankerBase, expected: np.ndarray) -> None:
    ranker.raw_scores = True
    try:
        results = ranker.rerank(QUERY, DOCUMENTS)
    finally:
        ranker.raw_scores = False
    logits = np.log(expected / (1 - expected))
    np.testing.assert_allclose(by_index(results), logits, atol=1e-4, rtol=0)


def test_bad_input(ranker: RerankerBase, expected: np.ndarray) -> None:
    assert ranker.rerank(QUERY, []) == []
    everything = ranker.rerank(QUERY, DOCUMENTS, top_n=len(DOCUMENTS) + 10)
    assert len(everything) == len(DOCUMENTS)
    best = ranker.rerank(QUERY, DOCUMENTS, top_n=2)
    assert [r.index for r in best] == list(np.argsort(-expected, kind="stable")[:2])
    with pytest.raises(InvalidInputError, match="query is empty"):
        ranker.rerank("  ", DOCUMENTS)
    with pytest.raises(InvalidInputError, match="top_n"):
        ranker.rerank(QUERY, DOCUMENTS, top_n=0)


def test_server_names_a_model_it_does_not_serve(infinity_url: str, tiny_cross_encoder: str) -> None:
    built = reranker(tiny_cross_encoder, "infinity-server", url=infinity_url, server_model="nope")
    with pytest.raises(BackendError, match="refused /rerank with HTTP 400"):
        built.rerank(QUERY, DOCUMENTS)


def test_sentence_transformers_reranks_without_deprecation_warnings(
    tiny_cross_encoder: str, caplog: pytest.LogCaptureFixture
) -> None:
    """sentence-transformers 6 renamed ``activation_fct`` and logs a warning on every call
    that uses the old name; msearch passes the name the installed version takes."""
    ranker = reranker(tiny_cross_encoder, "sentence-transformers", show_progress=False)
    with caplog.at_level("WARNING"):
        ranker.rerank("cats", ["cats purr", "dogs bark"])
    assert not [r for r in caplog.records if "deprecated" in r.getMessage()]
