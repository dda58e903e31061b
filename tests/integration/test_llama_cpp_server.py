"""The ``openai`` backend against llama.cpp's own server, on GGUF files of the same weights.

The GGUF files are written by llama.cpp's converter from the real MiniLM folder (float32 and
its 8-bit ``q8_0``), a tiny XLM-RoBERTa cross-encoder and the tiny Qwen3-Embedding. The
vectors and scores that ``llama-server`` gives through msearch are compared with those of
sentence-transformers, transformers and msearch's qwen3 backend on the original folders. The
nox session ``tests`` runs this, on the server that the session ``llama-cpp`` builds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from langchain_msearch import MSearchEmbeddings
from msearch import BackendError, InvalidInputError, reranker, text_embedder
from msearch.models import get_spec
from tests.support.llama_cpp_server import convert, llama_cpp, llama_server
from tests.support.tiny_cross_encoder import build_tiny_xlmr_cross_encoder
from tests.support.tiny_qwen3 import tiny_qwen3_embedding_path

TEXTS = [
    "Qdrant keeps vectors and payloads.",
    "A cat sleeps for most of the day.",
    "Rerankers reorder retrieved passages by relevance to the question being asked.",
    "ünïcödé and accents: café, naïve",
] + [f"passage number {i} about topic {i % 7}" * (1 + i % 5) for i in range(20)]
LONG = "long " * 400  # 402 tokens: past MiniLM's 256, within the server's 512

#: The bar for each GGUF type: float32 is the same arithmetic; q8_0 rounds every weight.
MIN_COSINE = {"f32": 0.9999, "q8_0": 0.999}


@pytest.fixture(scope="module")
def build() -> tuple[Path, Path]:
    return llama_cpp()


@pytest.fixture(scope="module")
def reference(minilm: str) -> SentenceTransformer:
    return SentenceTransformer(minilm, device="cpu")


@pytest.fixture(scope="module", params=sorted(MIN_COSINE))
def embedding_server(
    request: pytest.FixtureRequest, build, minilm: str, tmp_path_factory
) -> Iterator[tuple[str, str]]:
    program, source = build
    folder = tmp_path_factory.mktemp(f"llama-{request.param}")
    gguf = convert(source, minilm, request.param, folder / f"minilm-{request.param}.gguf")
    flags = ("--embedding", "--pooling", "mean")
    with llama_server(program, gguf, folder / "server.log", *flags) as url:
        yield url, request.param


def cosines(actual: np.ndarray, expected: np.ndarray) -> np.ndarray:
    assert actual.shape == expected.shape
    return (actual * expected).sum(axis=1) / (
        np.linalg.norm(actual, axis=1) * np.linalg.norm(expected, axis=1)
    )


def test_vectors_match_sentence_transformers(embedding_server, minilm, reference) -> None:
    url, outtype = embedding_server
    embedder = text_embedder(minilm, "openai", url=url, batch_size=8)
    expected = reference.encode(TEXTS, normalize_embeddings=True)
    assert cosines(embedder.embed_documents(TEXTS), expected).min() >= MIN_COSINE[outtype]
    query = reference.encode(["where are vectors kept?"], normalize_embeddings=True)
    vector = embedder.embed_query("where are vectors kept?")[None, :]
    assert cosines(vector, query).min() >= MIN_COSINE[outtype]


async def test_langchain_embeddings_over_llama_cpp(embedding_server, minilm, reference) -> None:
    url, outtype = embedding_server
    embeddings = MSearchEmbeddings(model=minilm, backend="openai", url=url)
    actual = np.asarray(await embeddings.aembed_documents(TEXTS[:4]))
    expected = reference.encode(TEXTS[:4], normalize_embeddings=True)
    assert cosines(actual, expected).min() >= MIN_COSINE[outtype]


def test_over_long_text_is_refused_cut_or_left_to_the_server(
    embedding_server, minilm, reference
) -> None:
    """llama.cpp would embed all 402 tokens (its window is 512), which is not what MiniLM
    computes in process (256): msearch refuses by default, cuts on request, and
    ``truncate="server"`` shows the difference it prevents."""
    url, outtype = embedding_server
    with pytest.raises(InvalidInputError, match=r"texts\[0\] has 402 tokens"):
        text_embedder(minilm, "openai", url=url).embed_documents([LONG])
    cut = text_embedder(minilm, "openai", url=url, truncate="end").embed_documents([LONG])
    expected = reference.encode([LONG], normalize_embeddings=True)
    assert cosines(cut, expected).min() >= MIN_COSINE[outtype]
    whole = text_embedder(minilm, "openai", url=url, truncate="server").embed_documents([LONG])
    assert cosines(whole, cut).min() < cosines(cut, expected).min()


def test_far_over_the_servers_window_is_its_error(embedding_server, minilm) -> None:
    """llama.cpp answers 500 (which msearch retries, as any 5xx) with its reason, shown."""
    url, _ = embedding_server
    embedder = text_embedder(minilm, "openai", url=url, truncate="server", max_retries=0)
    with pytest.raises(BackendError, match=r"HTTP 500: .*too large to process"):
        embedder.embed_documents(["long " * 2000])


QUERY = "where do cats purr"
DOCUMENTS = [
    "cats purr on the sofa",
    "paris is the capital of france",
    "qdrant stores vectors for fast search",
    "the dog barks at the big red fish",
    "cats and dogs are pets",
]


@pytest.fixture(scope="module")
def cross_encoder(model_cache: Path) -> str:
    """A tiny XLM-RoBERTa cross-encoder: an architecture that llama.cpp converts whole."""
    return build_tiny_xlmr_cross_encoder(model_cache / "tiny-xlmr-cross-encoder")


@pytest.fixture(scope="module")
def rerank_server(build, cross_encoder: str, tmp_path_factory) -> Iterator[str]:
    program, source = build
    folder = tmp_path_factory.mktemp("llama-rerank")
    gguf = convert(source, cross_encoder, "f32", folder / "cross-encoder.gguf")
    with llama_server(program, gguf, folder / "server.log", "--reranking") as url:
        yield url


def transformers_logits(folder: str, query: str, documents: list[str]) -> np.ndarray:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    with torch.no_grad():
        encoded = tokenizer([query] * len(documents), documents, padding=True, return_tensors="pt")
        return model(**encoded).logits[:, 0].numpy().astype(np.float64)


def test_rerank_order_and_logits_match_transformers(rerank_server, cross_encoder) -> None:
    expected = transformers_logits(cross_encoder, QUERY, DOCUMENTS)
    ranker = reranker(
        cross_encoder, "openai", url=rerank_server, server_scores="logit", raw_scores=True
    )
    results = ranker.rerank(QUERY, DOCUMENTS)
    assert [r.index for r in results] == list(np.argsort(-expected, kind="stable"))
    actual = np.empty(len(DOCUMENTS))
    for result in results:
        actual[result.index] = result.score
    # Within 1.2e-3 here: llama.cpp sums in another order (and in float16 in places).
    np.testing.assert_allclose(actual, expected, atol=5e-3, rtol=0)
    assert np.ptp(expected) > 0.1  # the scores spread, so the order means something


@pytest.fixture(scope="module")
def qwen3_server(build, tmp_path_factory) -> Iterator[str]:
    """llama.cpp serving the tiny Qwen3-Embedding (last-token pooling, like the real one). Its
    byte-level BPE uses GPT-2's split, which the converter is told."""
    program, source = build
    folder = tmp_path_factory.mktemp("llama-qwen3")
    model = tiny_qwen3_embedding_path()
    gguf = convert(source, model, "f32", folder / "qwen3.gguf", pre_tokenizer="gpt-2")
    flags = ("--embedding", "--pooling", "last")
    with llama_server(program, gguf, folder / "server.log", *flags) as url:
        yield url


def test_qwen3_over_a_server_equals_the_qwen3_backend(qwen3_server) -> None:
    """The registry's Qwen3-Embedding description gives the same vectors in process and over
    llama.cpp: the query instruction is written by msearch (QwenLM/Qwen3-Embedding#30)."""
    model = tiny_qwen3_embedding_path()
    spec = get_spec("Qwen/Qwen3-Embedding-0.6B")
    described = {"query_prompt": spec.query_prompt, "default_task": spec.default_task}
    local = text_embedder(model, "qwen3")
    remote = MSearchEmbeddings(model=model, backend="openai", url=qwen3_server, **described)
    documents = ["Cats purr when they are happy.", "Paris is the capital city of France.", ""]
    actual = np.asarray(remote.embed_documents(documents))
    assert cosines(actual, local.embed_documents(documents)).min() >= 0.9999
    query = "what is the capital of France?"
    expected = local.embed_query(query)[None, :]
    assert cosines(np.asarray(remote.embed_query(query))[None, :], expected).min() >= 0.9999
    # The instruction changes the vector, so the check above could fail without it.
    bare = text_embedder(model, "openai", url=qwen3_server).embed_query(query)[None, :]
    assert cosines(bare, expected).min() < 0.999
