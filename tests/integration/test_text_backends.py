"""Every text backend against sentence-transformers on the real all-MiniLM-L6-v2.

The infinity-server backend talks to a real ``infinity_emb v2`` process started for the run.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from msearch import InvalidInputError, ModelNotFoundError, ServerConnectionError, text_embedder
from msearch.protocols import TextEmbedder
from tests.support.infinity_server import free_port, served_name
from tests.support.stacks import backends

#: "openai" is the OpenAI-compatible client, pointed at the Infinity server's /embeddings.
BACKENDS = ["sentence-transformers", "infinity", "infinity-server", "openai"]

TEXTS = [
    "Qdrant keeps vectors and payloads.",
    "",
    "A cat sleeps.",
    "long " * 400,  # past MiniLM's 256-token window: truncated the same way everywhere
    "Rerankers reorder retrieved passages by relevance to the question being asked.",
    "ünïcödé — 日本語のテキスト",
] + [f"passage number {i} about topic {i % 7}" * (1 + i % 5) for i in range(40)]


@pytest.fixture(scope="module")
def reference(minilm: str) -> SentenceTransformer:
    return SentenceTransformer(minilm, device="cpu")


@pytest.fixture(scope="module", params=backends(*BACKENDS))
def embedder(request: pytest.FixtureRequest, minilm: str) -> TextEmbedder:
    options: dict[str, object] = {"batch_size": 8}
    if request.param in ("infinity-server", "openai"):
        options["url"] = request.getfixturevalue("infinity_url")
        options["server_model"] = served_name(minilm)
    if request.param == "openai":
        options["truncate"] = "end"  # the in-process backends' behaviour, for the long text
    return text_embedder(minilm, request.param, **options)


def assert_same_vectors(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.shape == expected.shape
    assert actual.dtype == np.float32
    cosines = (actual * expected).sum(axis=1) / (
        np.linalg.norm(actual, axis=1) * np.linalg.norm(expected, axis=1)
    )
    assert cosines.min() >= 0.9999, cosines


def test_documents_match_sentence_transformers(embedder, reference) -> None:
    expected = reference.encode(TEXTS, normalize_embeddings=True)
    assert_same_vectors(embedder.embed_documents(TEXTS), expected)


async def test_async_documents_match_sentence_transformers(embedder, reference) -> None:
    expected = reference.encode(TEXTS, normalize_embeddings=True)
    assert_same_vectors(await embedder.aembed_documents(TEXTS), expected)


def test_query_matches_sentence_transformers(embedder, reference) -> None:
    expected = reference.encode(["where are vectors kept?"], normalize_embeddings=True)
    assert_same_vectors(embedder.embed_query("where are vectors kept?")[None, :], expected)


async def test_async_query_matches_sentence_transformers(embedder, reference) -> None:
    expected = reference.encode(["where are vectors kept?"], normalize_embeddings=True)
    vector = await embedder.aembed_query("where are vectors kept?")
    assert_same_vectors(vector[None, :], expected)


def test_order_is_kept_whatever_the_lengths(embedder) -> None:
    forward = embedder.embed_documents(TEXTS)
    backward = embedder.embed_documents(TEXTS[::-1])
    np.testing.assert_allclose(forward, backward[::-1], atol=1e-5)


def test_vectors_are_unit_length(embedder) -> None:
    norms = np.linalg.norm(embedder.embed_documents(TEXTS[:5]), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)


def test_empty_list_gives_empty_result(embedder) -> None:
    out = embedder.embed_documents([])
    assert out.shape == (0, 384)


def test_empty_string_is_embedded_like_any_text(embedder, reference) -> None:
    expected = reference.encode([""], normalize_embeddings=True)
    assert_same_vectors(embedder.embed_documents([""]), expected)
    assert_same_vectors(embedder.embed_query("")[None, :], expected)


def test_non_string_item_is_a_type_error_naming_its_index(embedder) -> None:
    with pytest.raises(TypeError, match=r"texts\[1\] is NoneType"):
        embedder.embed_documents(["fine", None])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="text is int"):
        embedder.embed_query(42)  # type: ignore[arg-type]


@pytest.mark.parametrize("backend", backends("infinity", "infinity-server"))
async def test_200_concurrent_queries_get_their_own_vectors(backend, minilm, reference, request):
    options = {}
    if backend == "infinity-server":
        options = {
            "url": request.getfixturevalue("infinity_url"),
            "server_model": served_name(minilm),
        }
    embedder = text_embedder(minilm, backend, **options)
    queries = [f"question {i}: what is item {i * 7 % 13}?" for i in range(200)]
    vectors = await asyncio.gather(*(embedder.aembed_query(q) for q in queries))
    assert_same_vectors(np.stack(vectors), reference.encode(queries, normalize_embeddings=True))


@pytest.mark.parametrize("backend", backends("sentence-transformers", "infinity"))
def test_missing_model_folder_is_named(backend, tmp_path) -> None:
    missing = str(tmp_path / "no-such-model")
    embedder = text_embedder(missing, backend)
    with pytest.raises(ModelNotFoundError, match="no-such-model"):
        embedder.embed_query("x")


@pytest.mark.parametrize("backend", backends("sentence-transformers", "infinity"))
def test_unknown_hub_model_offline_fails_fast_with_download_hint(backend) -> None:
    embedder = text_embedder("msearch-tests/no-such-model", backend)
    started = time.monotonic()
    with pytest.raises(ModelNotFoundError, match="huggingface-cli download msearch-tests/no-such"):
        embedder.embed_query("x")
    assert time.monotonic() - started < 60  # a bound against hub retry loops, not a speed test


def test_server_down_is_a_connection_error_after_bounded_retries() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens here
    embedder = text_embedder("any-model", "infinity-server", url=url, timeout=5, max_retries=2)
    with pytest.raises(ServerConnectionError, match=r"after 3 attempt\(s\)"):
        embedder.embed_query("x")


async def test_server_down_async_too() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    embedder = text_embedder("any-model", "infinity-server", url=url, timeout=5, max_retries=1)
    with pytest.raises(ServerConnectionError):
        await embedder.aembed_documents(["x", "y"])


def test_server_api_key_stays_out_of_repr_and_errors() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    embedder = text_embedder("m", "infinity-server", url=url, api_key="sk-secret", max_retries=0)
    assert "sk-secret" not in repr(embedder.server.client)
    with pytest.raises(ServerConnectionError) as caught:
        embedder.embed_query("x")
    assert "sk-secret" not in str(caught.value)


@pytest.mark.legacy_stack("infinity_emb")
def test_model_failing_inside_infinity_worker_raises_and_recovers(minilm, reference) -> None:
    from msearch import BackendError
    from msearch._concurrency import run_sync

    embedder = text_embedder(minilm, "infinity", timeout=60)
    embedder.embed_query("warm up")
    engine = run_sync(embedder.engine.started())

    def broken_forward(*args, **kwargs):
        raise RuntimeError("injected model failure")

    # Fault injection: the transformer inside infinity's loaded model raises on its next call.
    engine._model_replicas[0][0].auto_model.forward = broken_forward
    started = time.monotonic()
    with pytest.raises(BackendError, match="injected model failure"):
        embedder.embed_documents(["this batch fails"])
    assert time.monotonic() - started < 30  # fails fast rather than waiting out the timeout
    expected = reference.encode(["the next call works"], normalize_embeddings=True)
    assert_same_vectors(embedder.embed_documents(["the next call works"]), expected)


def test_dimensions_larger_than_the_model_is_rejected(minilm) -> None:
    with pytest.raises(InvalidInputError, match="larger than"):
        text_embedder("sentence-transformers/all-MiniLM-L6-v2", dimensions=1000)
    embedder = text_embedder(minilm, dimensions=1000)  # dim unknown until the model loads
    with pytest.raises(InvalidInputError, match="larger than"):
        embedder.embed_query("x")


def test_matryoshka_dimensions_truncate_then_normalize(minilm, reference) -> None:
    full = reference.encode(["a cat"], normalize_embeddings=True)[0]
    short = text_embedder(minilm, dimensions=64).embed_query("a cat")
    expected = full[:64] / np.linalg.norm(full[:64])
    np.testing.assert_allclose(short, expected, atol=1e-5)
