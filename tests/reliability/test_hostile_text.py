"""Hostile text into real embedders and rerankers: vectors or typed errors, never a hang."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from msearch.embeddings import text_embedder
from msearch.errors import InvalidInputError
from msearch.rerank import reranker
from tests.reliability._mode import examples, soak, within
from tests.support.stacks import backends

LIMIT_S = 60.0

HAND_MADE = {
    "empty": "",
    "whitespace": " \t\n\r\x0b\x0c ",
    "nul": "\x00" * 1000,
    "c0-controls": "".join(chr(c) for c in range(32)),
    "c1-controls": "".join(chr(c) for c in range(127, 160)),
    "zero-width": "\u200b\u200c\u200d\ufeff" * 50,
    "bidi": "\u202eabc\u202c \u2067x\u2069",
    "combining": "e" + "\u0301" * 10_000,
    "emoji-zwj": "\U0001f468\u200d\U0001f469\u200d\U0001f467" * 200,
    "private-use": "\ue000\U000f0000\U0010fffd",
    "noncharacters": "\ufffe\uffff\U0001fffe",
    "one-megabyte": "word " * 200_000,
    "one-megabyte-no-spaces": "x" * 1_000_000,
}


@pytest.fixture(scope="module")
def st_minilm(minilm: str) -> Any:
    return text_embedder(minilm)


@pytest.fixture(scope="module")
def st_reranker(tiny_cross_encoder: str) -> Any:
    return reranker(tiny_cross_encoder)


def _check_vectors(vectors: np.ndarray, count: int) -> None:
    assert vectors.shape == (count, 384) and vectors.dtype == np.float32
    assert np.all(np.isfinite(vectors))
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


@pytest.mark.parametrize("backend", backends("st", "infinity"))
def test_hand_made_texts_embed(backend: str, st_minilm: Any, infinity_minilm: Any) -> None:
    embedder = st_minilm if backend == "st" else infinity_minilm
    texts = list(HAND_MADE.values())
    _check_vectors(within(LIMIT_S * 2, embedder.embed_documents, texts), len(texts))
    for text in texts:  # alone too: batch neighbours must not be what saves a text
        if len(text) > 100_000 and not soak():
            continue  # the megabyte texts cost seconds each: once, in the batch, is enough here
        assert np.all(np.isfinite(within(LIMIT_S, embedder.embed_query, text)))


@pytest.mark.parametrize("backend", backends("st", "infinity"))
def test_lone_surrogates_and_wrong_types(
    backend: str, st_minilm: Any, infinity_minilm: Any
) -> None:
    embedder = st_minilm if backend == "st" else infinity_minilm
    with pytest.raises(InvalidInputError, match=r"texts\[1\].*lone surrogate"):
        embedder.embed_documents(["fine", "bad \ud800 text"])
    with pytest.raises(InvalidInputError, match="lone surrogate"):
        embedder.embed_query("\udfff")
    for wrong in (None, b"bytes", 3, ["ok", None]):
        with pytest.raises(TypeError):
            embedder.embed_documents(wrong if isinstance(wrong, list) else [wrong])
    with pytest.raises(TypeError):
        embedder.embed_documents("a single string")
    assert embedder.embed_documents([]).shape == (0, 384)


@pytest.fixture(scope="module", params=backends("st", "infinity"))
def any_minilm(request: pytest.FixtureRequest) -> Any:
    """MiniLM on each text backend in turn (module-scoped, as hypothesis needs)."""
    return request.getfixturevalue("st_minilm" if request.param == "st" else "infinity_minilm")


@pytest.fixture(scope="module", params=backends("st", "infinity"))
def any_reranker(request: pytest.FixtureRequest) -> Any:
    """The tiny cross-encoder on each rerank backend in turn."""
    name = "st_reranker" if request.param == "st" else "infinity_tiny_reranker"
    return request.getfixturevalue(name)


@given(texts=st.lists(st.text(max_size=300), min_size=1, max_size=6))
@examples(bounded=15, soaked=300)
def test_generated_texts_embed(texts: list[str], any_minilm: Any) -> None:
    _check_vectors(within(LIMIT_S, any_minilm.embed_documents, texts), len(texts))


@pytest.mark.parametrize("backend", backends("st", "infinity"))
def test_hostile_rerank_inputs(backend: str, st_reranker: Any, infinity_tiny_reranker: Any) -> None:
    ranker = st_reranker if backend == "st" else infinity_tiny_reranker
    documents = [text for text in HAND_MADE.values() if soak() or len(text) < 100_000]
    results = within(LIMIT_S * 2, ranker.rerank, "cats \x00 and \u202e dogs", documents)
    assert sorted(r.index for r in results) == list(range(len(documents)))
    assert all(0.0 <= r.score <= 1.0 for r in results)
    long_query = within(LIMIT_S, ranker.rerank, "cat " * 250_000, ["cats purr"])
    assert len(long_query) == 1
    for query in ("", "   \n\t"):
        with pytest.raises(InvalidInputError, match="empty"):
            ranker.rerank(query, ["document"])
    with pytest.raises(InvalidInputError, match="lone surrogate"):
        ranker.rerank("cats", ["fine", "\ud83d"])
    with pytest.raises(InvalidInputError):
        ranker.rerank("cats", ["a"], top_n=0)
    with pytest.raises(TypeError):
        ranker.rerank("cats", [b"bytes"])
    assert ranker.rerank("cats", []) == []


@given(
    query=st.text(min_size=1, max_size=100).filter(str.strip),
    documents=st.lists(st.text(max_size=200), max_size=6),
)
@examples(bounded=15, soaked=300)
def test_generated_rerank_inputs(query: str, documents: list[str], any_reranker: Any) -> None:
    results = within(LIMIT_S, any_reranker.rerank, query, documents)
    assert sorted(r.index for r in results) == list(range(len(documents)))
    assert all(0.0 <= r.score <= 1.0 for r in results)
