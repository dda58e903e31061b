"""The server clients' side of each protocol, against a scripted HTTP server on loopback.

These tests pin what msearch sends and how it reads answers that real servers give but the
test servers here (Infinity, llama.cpp) do not: TEI's shapes, rerank results sorted by score,
retries, bad answers. The clients' numbers are checked against real servers and in-process
models in tests/integration (test_text_backends, test_rerank_backends, test_llama_cpp_server).
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from msearch import BackendError, InvalidInputError, reranker, text_embedder
from msearch.sparse import sparse_embedder

Reply = tuple[int, Any]


class Scripted:
    """A loopback server whose answers come from ``reply(path, body)``; it records requests."""

    def __init__(self, reply: Callable[[str, Any], Reply]) -> None:
        self.reply = reply
        self.requests: list[tuple[str, Any, dict[str, str]]] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.requests.append((self.path, body, dict(self.headers)))
                status, answer = owner.reply(self.path, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def bodies(self, path: str) -> list[Any]:
        return [body for p, body, _ in self.requests if p == path]


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[str, Any], Reply]], Scripted]]:
    servers: list[Scripted] = []

    def start(reply: Callable[[str, Any], Reply]) -> Scripted:
        servers.append(Scripted(reply))
        return servers[-1]

    yield start
    for server in servers:
        server.server.shutdown()


def vector_of(text: str) -> list[float]:
    """A deterministic 4-d vector per text, so answers can be checked against the inputs."""
    seed = sum(text.encode()) + len(text)
    return [float(seed % 7 + 1), float(seed % 5), float(len(text) % 3), 1.0]


def openai_embeddings(path: str, body: Any) -> Reply:
    rows = [{"index": i, "embedding": vector_of(t)} for i, t in enumerate(body["input"])]
    return 200, {"object": "list", "data": rows[::-1]}  # reversed: msearch must use index


def expected(texts: list[str]) -> np.ndarray:
    vectors = np.asarray([vector_of(t) for t in texts], dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_openai_embeddings_are_put_back_by_index_and_batched(serve) -> None:
    server = serve(openai_embeddings)
    texts = [f"text {i} " * (i + 1) for i in range(7)]
    embedder = text_embedder("some/model", "openai", url=server.url, batch_size=3)
    np.testing.assert_allclose(embedder.embed_documents(texts), expected(texts), rtol=1e-6)
    bodies = server.bodies("/embeddings")
    assert [len(b["input"]) for b in bodies] == [3, 3, 1]
    assert bodies[0]["model"] == "some/model"
    assert bodies[0]["encoding_format"] == "float"


def test_server_model_and_dimensions(serve) -> None:
    server = serve(openai_embeddings)
    embedder = text_embedder(
        "some/model", "openai", url=server.url, server_model="served", dimensions=2
    )
    vector = embedder.embed_query("hello")
    full = np.asarray(vector_of("hello")[:2])
    np.testing.assert_allclose(vector, full / np.linalg.norm(full), rtol=1e-6)
    assert server.bodies("/embeddings")[0]["model"] == "served"
    assert embedder.dim == 2


def test_qwen3_queries_carry_their_instruction_over_any_server(serve) -> None:
    """The server does not add Qwen3's query instruction (QwenLM/Qwen3-Embedding#30): the
    client does, from the registry, and only to queries."""
    server = serve(openai_embeddings)
    embedder = text_embedder("Qwen/Qwen3-Embedding-0.6B", "openai", url=server.url)
    embedder.embed_query("how long do cats sleep?")
    embedder.embed_documents(["Cats sleep sixteen hours a day."])
    query, document = (body["input"][0] for body in server.bodies("/embeddings"))
    assert query.startswith("Instruct: Given a web search query")
    assert query.endswith("\nQuery:how long do cats sleep?")
    assert document == "Cats sleep sixteen hours a day."


def test_an_answer_missing_an_input_is_refused(serve) -> None:
    def short(path: str, body: Any) -> Reply:
        return 200, {"data": [{"index": 0, "embedding": [1.0, 0.0]}]}

    embedder = text_embedder("some/model", "openai", url=serve(short).url)
    with pytest.raises(BackendError, match="expected 2 results with an index each"):
        embedder.embed_documents(["a", "b"])


def test_a_repeated_index_is_refused(serve) -> None:
    def repeated(path: str, body: Any) -> Reply:
        return 200, {"data": [{"index": 0, "embedding": [1.0]}, {"index": 0, "embedding": [2.0]}]}

    embedder = text_embedder("some/model", "openai", url=serve(repeated).url)
    with pytest.raises(BackendError, match="once each"):
        embedder.embed_documents(["a", "b"])


def test_retries_on_503_then_succeeds(serve) -> None:
    calls = []

    def flaky(path: str, body: Any) -> Reply:
        calls.append(path)
        return (503, {"error": "loading"}) if len(calls) < 3 else openai_embeddings(path, body)

    embedder = text_embedder("some/model", "openai", url=serve(flaky).url, max_retries=3)
    np.testing.assert_allclose(embedder.embed_documents(["x"]), expected(["x"]), rtol=1e-6)
    assert len(calls) == 3


def test_a_400_fails_at_once_with_the_servers_message(serve) -> None:
    calls = []

    def refuse(path: str, body: Any) -> Reply:
        calls.append(path)
        return 400, {"error": "model 'some/model' not found"}

    embedder = text_embedder("some/model", "openai", url=serve(refuse).url)
    with pytest.raises(BackendError, match=r"HTTP 400.*model 'some/model' not found"):
        embedder.embed_query("x")
    assert len(calls) == 1


def test_api_key_is_sent_as_a_bearer_token_and_never_shown(serve) -> None:
    def refuse(path: str, body: Any) -> Reply:
        return 401, {"error": "bad key"}

    server = serve(refuse)
    embedder = text_embedder("some/model", "openai", url=server.url, api_key="sk-secret-1234")
    with pytest.raises(BackendError) as caught:
        embedder.embed_query("x")
    assert "sk-secret" not in str(caught.value)
    assert "sk-secret" not in repr(embedder.server.client)  # type: ignore[attr-defined]
    assert server.requests[0][2]["Authorization"] == "Bearer sk-secret-1234"


def test_openai_backend_needs_a_url(monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(InvalidInputError, match=r"needs url= \(or \$OPENAI_BASE_URL\)"):
        text_embedder("some/model", "openai")


def test_tei_embed_sends_its_own_shape(serve) -> None:
    def tei(path: str, body: Any) -> Reply:
        return 200, [vector_of(t) for t in body["inputs"]]

    server = serve(tei)
    embedder = text_embedder("some/model", "tei", url=server.url)
    np.testing.assert_allclose(embedder.embed_documents(["a", "bb"]), expected(["a", "bb"]))
    body = server.bodies("/embed")[0]
    # msearch normalizes (and cuts dimensions) itself, so the server must not.
    assert body == {"inputs": ["a", "bb"], "normalize": False}


def test_tei_sparse(serve) -> None:
    def tei(path: str, body: Any) -> Reply:
        return 200, [
            [{"index": 7, "value": 0.5}, {"index": 2, "value": 1.5}] for _ in body["inputs"]
        ]

    server = serve(tei)
    encoder = sparse_embedder("some/splade", "tei", url=server.url)
    vectors = encoder.embed_documents_sparse(["a", "b"])
    assert [v.as_dict() for v in vectors] == [{2: 1.5, 7: 0.5}] * 2
    assert encoder.embed_query_sparse("q").as_dict() == {2: 1.5, 7: 0.5}


def sorted_by_score(scores: list[float], field: str) -> list[dict[str, Any]]:
    """Results as rerank servers give them: best first, each with its input's index."""
    rows = [{"index": i, field: s} for i, s in enumerate(scores)]
    return sorted(rows, key=lambda row: -row[field])


def test_rerank_scores_go_to_their_own_documents_when_the_server_sorts(serve) -> None:
    """The failure of llama_index#20597: a server answers sorted by score, and a client that
    reads the answer by position gives each document another one's score."""
    probabilities = [0.2, 0.9, 0.05, 0.6]

    def cohere(path: str, body: Any) -> Reply:
        return 200, {
            "results": sorted_by_score(probabilities[: len(body["documents"])], "relevance_score")
        }

    server = serve(cohere)
    ranker = reranker("some/reranker", "openai", url=server.url, batch_size=16)
    results = ranker.rerank("q", ["a", "b", "c", "d"])
    assert [r.index for r in results] == [1, 3, 0, 2]
    np.testing.assert_allclose([r.score for r in results], [0.9, 0.6, 0.2, 0.05], rtol=1e-9)
    body = server.bodies("/rerank")[0]
    assert body == {
        "model": "some/reranker",
        "query": "q",
        "documents": ["a", "b", "c", "d"],
        "top_n": 4,
    }


def test_rerank_probabilities_outside_0_1_name_the_option(serve) -> None:
    def logits(path: str, body: Any) -> Reply:
        return 200, {"results": sorted_by_score([-3.0, 4.5], "relevance_score")}

    url = serve(logits).url
    with pytest.raises(BackendError, match="server_scores='logit'"):
        reranker("some/reranker", "openai", url=url).rerank("q", ["a", "b"])
    ranked = reranker("some/reranker", "openai", url=url, server_scores="logit", raw_scores=True)
    assert [(r.index, r.score) for r in ranked.rerank("q", ["a", "b"])] == [(1, 4.5), (0, -3.0)]
    with pytest.raises(InvalidInputError, match="server_scores='odds'"):
        reranker("some/reranker", "openai", url=url, server_scores="odds")


def test_tei_rerank_asks_for_logits_and_maps_by_index(serve) -> None:
    def tei(path: str, body: Any) -> Reply:
        return 200, sorted_by_score([-1.0, 2.0, 0.5][: len(body["texts"])], "score")

    server = serve(tei)
    ranker = reranker("some/reranker", "tei", url=server.url, raw_scores=True)
    assert [(r.index, r.score) for r in ranker.rerank("q", ["a", "b", "c"])] == [
        (1, 2.0),
        (2, 0.5),
        (0, -1.0),
    ]
    assert server.bodies("/rerank")[0] == {
        "query": "q",
        "texts": ["a", "b", "c"],
        "raw_scores": True,
    }


# -- over-long inputs: counted with the model's own tokenizer --------------------------------

LONG = "word " * 400  # about 400 tokens: past MiniLM's 256


def test_an_over_long_text_is_an_error_naming_it(serve, minilm: str) -> None:
    server = serve(openai_embeddings)
    embedder = text_embedder(minilm, "openai", url=server.url)
    with pytest.raises(
        InvalidInputError, match=r"texts\[1\] has 402 tokens, over the model's limit of 256"
    ):
        embedder.embed_documents(["short", LONG])
    assert server.requests == []  # refused before anything was sent


def test_truncate_end_cuts_at_the_limit_and_says_so(serve, minilm: str, caplog) -> None:
    from tokenizers import Tokenizer

    server = serve(openai_embeddings)
    embedder = text_embedder(minilm, "openai", url=server.url, truncate="end")
    with caplog.at_level("WARNING", logger="msearch"):
        embedder.embed_documents(["short", LONG])
    sent = server.bodies("/embeddings")[0]["input"]
    assert sent[0] == "short"
    assert LONG.startswith(sent[1])
    tokenizer = Tokenizer.from_file(f"{minilm}/tokenizer.json")
    tokenizer.no_truncation()  # MiniLM's file sets 128; the model's window is 256
    assert len(tokenizer.encode(sent[1]).ids) == 256
    assert "cut 1 of 2 texts to 256 tokens" in caplog.text


def test_truncate_server_sends_texts_as_they_are(serve, minilm: str) -> None:
    server = serve(openai_embeddings)
    text_embedder(minilm, "openai", url=server.url, truncate="server").embed_documents([LONG])
    assert server.bodies("/embeddings")[0]["input"] == [LONG]


def test_tei_is_told_not_to_truncate_when_msearch_checks_lengths(serve, minilm: str) -> None:
    def tei(path: str, body: Any) -> Reply:
        return 200, [vector_of(t) for t in body["inputs"]]

    server = serve(tei)
    text_embedder(minilm, "tei", url=server.url).embed_documents(["a"])
    assert server.bodies("/embed")[0]["truncate"] is False


def test_checking_lengths_needs_the_tokenizer_here(serve) -> None:
    url = serve(openai_embeddings).url
    with pytest.raises(InvalidInputError, match=r"needs some/model's tokenizer\.json"):
        text_embedder("some/model", "openai", url=url, truncate="error")
    with pytest.raises(InvalidInputError, match="truncate='middle'"):
        text_embedder("some/model", "openai", url=url, truncate="middle")


def test_rerank_pairs_are_cut_from_the_documents_end(serve, tiny_cross_encoder: str) -> None:
    from tokenizers import Tokenizer

    def cohere(path: str, body: Any) -> Reply:
        return 200, {
            "results": [{"index": i, "relevance_score": 0.5} for i in range(len(body["documents"]))]
        }

    server = serve(cohere)
    url = server.url
    with pytest.raises(InvalidInputError, match=r"the query with documents\[1\] has"):
        reranker(tiny_cross_encoder, "openai", url=url).rerank("where do cats purr", ["a", LONG])
    reranker(tiny_cross_encoder, "openai", url=url, truncate="end").rerank(
        "where do cats purr", ["a", LONG]
    )
    sent = server.bodies("/rerank")[-1]["documents"]
    assert sent[0] == "a" and LONG.startswith(sent[1])
    tokenizer = Tokenizer.from_file(f"{tiny_cross_encoder}/tokenizer.json")
    tokenizer.no_truncation()
    config = Path(tiny_cross_encoder) / "tokenizer_config.json"
    limit = json.loads(config.read_text())["model_max_length"]
    assert len(tokenizer.encode("where do cats purr", sent[1]).ids) == limit


def test_adapters_pass_the_key_on_but_never_show_or_serialize_it(serve) -> None:
    from langchain_msearch import MSearchEmbeddings, MSearchReranker
    from llamaindex_msearch import MSearchEmbedding, MSearchRerank

    server = serve(openai_embeddings)
    key = {"url": server.url, "api_key": "sk-secret-5678"}
    built = [
        MSearchEmbeddings(model="some/model", backend="openai", **key),
        MSearchEmbedding(model="some/model", backend="openai", **key),
        MSearchReranker(model="some/reranker", backend="openai", **key),
        MSearchRerank(model="some/reranker", backend="openai", **key),
    ]
    for adapter in built:
        shown = [repr(adapter), str(adapter), str(adapter.model_dump())]
        if hasattr(adapter, "to_dict"):
            shown.append(json.dumps(adapter.to_dict()))
        assert not any("sk-secret" in text for text in shown), type(adapter).__name__
        assert adapter.options["url"] == server.url
    built[0].embed_query("x")
    built[1].get_query_embedding("x")
    assert [h["Authorization"] for _, _, h in server.requests] == ["Bearer sk-secret-5678"] * 2


def test_the_command_cuts_over_long_inputs_for_a_server_where_it_can_count(
    minilm: str, tiny_cross_encoder: str, monkeypatch
) -> None:
    """A chunk after its title line may pass the model's limit; the command cuts it as the
    in-process backends do, instead of failing an index run."""
    from msearch.cli import build_reranker, build_text
    from msearch.config import Config

    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    text = build_text(Config(text_model=minilm, text_backend="openai"))
    assert text.server.inputs.mode == "end"
    ranker = build_reranker(Config(rerank_model=tiny_cross_encoder, rerank_backend="openai"))
    assert ranker.server.inputs.mode == "end"
    unknown = build_text(Config(text_model="some/served-name", text_backend="openai"))
    assert unknown.server.inputs.mode == "server"
