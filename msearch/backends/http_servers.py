"""Backends for the embedding and rerank servers people run, over their HTTP APIs.

- ``"openai"``: any OpenAI-compatible ``/embeddings`` (vLLM, TEI, Ollama, llama.cpp,
  Infinity, LM Studio) and, for reranking, the Cohere/Jina ``/rerank`` that vLLM, llama.cpp,
  Infinity and the hosted APIs serve under the same base URL.
- ``"tei"``: text-embeddings-inference's own API: ``/embed``, ``/embed_sparse`` and ``/rerank``.

What msearch does itself, so that every server gives the same answers as the in-process
backends: prompts and instructions (the registry's, so Qwen3 queries carry their
``Instruct: ...\\nQuery:`` whatever the server), normalization and Matryoshka ``dimensions``,
the sigmoid on rerank scores, batching, over-long inputs (``token_limit``), and mapping each
result back to its input by the ``index`` the server returns, never by its position.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from msearch.backends.base import (
    BatchOptions,
    CoroutineModel,
    EmbedOptions,
    RerankerBase,
    RerankOptions,
    SparseEmbedderBase,
    TextEmbedderBase,
)
from msearch.backends.server_client import ServerConnection, Site, server_client
from msearch.backends.token_limit import TokenLimit
from msearch.batching import with_progress
from msearch.datatypes import sparse_from_weights
from msearch.errors import BackendError, InvalidInputError
from msearch.models import ModelSpec

SCORE_SCALES = ("probability", "logit")


OPENAI = Site("OpenAI-compatible server", "OPENAI_BASE_URL", "OPENAI_API_KEY")
RERANK_API = Site("rerank server", "OPENAI_BASE_URL", "OPENAI_API_KEY")
TEI = Site("TEI server", "TEI_URL", "TEI_API_KEY", "http://localhost:8080")


@dataclass(frozen=True, kw_only=True)
class ServerInputs(ServerConnection):
    """A connection, plus ``truncate``: what happens to an input longer than the model takes
    (``msearch.backends.token_limit``)."""

    truncate: str | None = None


@dataclass(frozen=True, kw_only=True)
class ServerTextOptions(EmbedOptions, ServerInputs):
    """The options of the ``openai`` and ``tei`` text embedders."""


@dataclass(frozen=True, kw_only=True)
class ServerSparseOptions(BatchOptions, ServerInputs):
    """The options of the ``tei`` sparse embedder."""


@dataclass(frozen=True, kw_only=True)
class ServerRerankOptions(RerankOptions, ServerInputs):
    """The options of the ``tei`` reranker."""


@dataclass(frozen=True, kw_only=True)
class RerankAPIOptions(ServerRerankOptions):
    """The options of the ``openai`` reranker: ``server_scores`` is ``"probability"`` or
    ``"logit"`` (see ``RerankAPIReranker``)."""

    server_scores: str = "probability"


class Server:
    """One model behind one of these servers: its client, its name there, its input limit, and
    requests in batches with their results put back by ``index``. What every backend here
    composes."""

    def __init__(
        self,
        spec: ModelSpec,
        site: Site,
        options: ServerInputs,
        batch_size: int,
        show_progress: bool | None,
    ) -> None:
        self.client = server_client(spec, site, options)
        self.model = options.server_model or spec.name
        self.inputs = TokenLimit(spec, options.truncate)
        self.batch_size = batch_size
        self.show_progress = show_progress

    def batches(self, items: list[Any], desc: str) -> list[tuple[int, list[Any]]]:
        starts = range(0, len(items), self.batch_size)
        chosen = with_progress(list(starts), self.show_progress, desc)
        return [(start, items[start : start + self.batch_size]) for start in chosen]

    def by_index(self, path: str, rows: Any, count: int, field: str) -> list[Any]:
        """Each row's ``field``, put back at the ``index`` the server gave it.

        Servers may answer in another order (rerank results come sorted by score); an answer
        that misses an input, repeats one or has the wrong count is refused, never guessed at.
        """
        if not isinstance(rows, list) or len(rows) != count:
            raise self.client.bad_answer(path, rows, f"{count} results with an index each")
        out: list[Any] = [None] * count
        for row in rows:
            index = row.get("index") if isinstance(row, dict) else None
            if not isinstance(index, int) or not 0 <= index < count or out[index] is not None:
                raise self.client.bad_answer(path, rows, f"indexes 0..{count - 1}, once each")
            if field not in row:
                raise self.client.bad_answer(path, row, f"a {field!r} in every result")
            out[index] = row[field]
        return out

    def truncate_field(self) -> dict[str, bool]:
        """TEI's ``truncate``: off whenever msearch checks lengths itself, so a server started
        with a smaller limit (or ``--auto-truncate``) refuses instead of cutting silently."""
        return {} if self.inputs.mode == "server" else {"truncate": False}

    async def vectors(
        self, texts: list[str], embed_batch: Callable[[list[str]], Awaitable[list[Any]]]
    ) -> np.ndarray:
        """The vectors ``embed_batch`` gets for ``texts``, a batch at a time."""
        texts = self.inputs.texts(texts)
        rows: list[Any] = []
        for _, batch in self.batches(texts, "embedding"):
            rows.extend(await embed_batch(batch))
        try:
            return np.asarray(rows, dtype=np.float32)
        except (TypeError, ValueError):
            raise BackendError(
                f"{self.client.label} at {self.client.url} returned vectors of unequal or "
                "non-numeric length"
            ) from None

    async def scores(
        self,
        query: str,
        documents: list[str],
        score_batch: Callable[[str, list[str]], Awaitable[np.ndarray]],
    ) -> np.ndarray:
        """The raw scores ``score_batch`` gets for ``documents``, a batch at a time."""
        documents = self.inputs.documents(query, documents)
        out = np.empty(len(documents), dtype=np.float64)
        for start, batch in self.batches(documents, "reranking"):
            out[start : start + len(batch)] = await score_batch(query, batch)
        return out


class OpenAITextEmbedder(CoroutineModel, TextEmbedderBase):
    """Text embeddings from any OpenAI-compatible ``/embeddings`` endpoint.

    ``url`` is the base URL that ends where ``/embeddings`` begins, as in OpenAI's SDK:
    ``http://localhost:8000/v1`` for vLLM, ``http://localhost:11434/v1`` for Ollama,
    ``http://localhost:7997`` for Infinity. It defaults to ``$OPENAI_BASE_URL``, the key to
    ``$OPENAI_API_KEY``.

    >>> from msearch.embeddings import text_embedder
    >>> embedder = text_embedder(
    ...     "Qwen/Qwen3-Embedding-0.6B", "openai", url="http://localhost:8000/v1"
    ... )
    >>> embedder.embed_query("how long do cats sleep?").shape  # doctest: +SKIP
    (1024,)
    """

    Options: ClassVar[type[ServerTextOptions]] = ServerTextOptions
    options: ServerTextOptions

    def __init__(self, spec: ModelSpec, options: ServerTextOptions | None = None) -> None:
        super().__init__(spec, options)
        self.server = Server(spec, OPENAI, self.options, self.batch_size, self.show_progress)

    async def _encode(self, texts: list[str]) -> np.ndarray:
        return await self.server.vectors(texts, self._embed_batch)

    async def _embed_batch(self, texts: list[str]) -> list[Any]:
        payload = {"model": self.server.model, "input": texts, "encoding_format": "float"}
        answer = await self.server.client.post("/embeddings", payload)
        rows = answer.get("data") if isinstance(answer, dict) else None
        return self.server.by_index("/embeddings", rows, len(texts), "embedding")


class TEITextEmbedder(CoroutineModel, TextEmbedderBase):
    """Text embeddings from text-embeddings-inference's ``/embed``.

    ``url`` defaults to ``$TEI_URL`` or ``http://localhost:8080``; the key (TEI's
    ``--api-key``) to ``$TEI_API_KEY``. TEI serves one model, so ``server_model`` is not sent.
    """

    Options: ClassVar[type[ServerTextOptions]] = ServerTextOptions
    options: ServerTextOptions

    def __init__(self, spec: ModelSpec, options: ServerTextOptions | None = None) -> None:
        super().__init__(spec, options)
        self.server = Server(spec, TEI, self.options, self.batch_size, self.show_progress)

    async def _encode(self, texts: list[str]) -> np.ndarray:
        return await self.server.vectors(texts, self._embed_batch)

    async def _embed_batch(self, texts: list[str]) -> list[Any]:
        payload = {"inputs": texts, "normalize": False, **self.server.truncate_field()}
        answer = await self.server.client.post("/embed", payload)
        if not isinstance(answer, list) or len(answer) != len(texts):
            raise self.server.client.bad_answer("/embed", answer, f"{len(texts)} vectors")
        return answer


class TEISparseEmbedder(CoroutineModel, SparseEmbedderBase):
    """Sparse vectors (SPLADE and other learned sparse models) from TEI's ``/embed_sparse``.

    Queries and documents are encoded alike, as the server does.
    """

    Options: ClassVar[type[ServerSparseOptions]] = ServerSparseOptions
    options: ServerSparseOptions

    def __init__(self, spec: ModelSpec, options: ServerSparseOptions | None = None) -> None:
        super().__init__(spec, options)
        self.server = Server(spec, TEI, self.options, self.batch_size, self.show_progress)

    async def _encode_sparse(self, texts: list[str]) -> list[Any]:  # type: ignore[override]
        server = self.server
        texts = server.inputs.texts(texts)
        out = []
        for _, batch in server.batches(texts, "sparse embedding"):
            payload = {"inputs": batch, **server.truncate_field()}
            answer = await server.client.post("/embed_sparse", payload)
            if not isinstance(answer, list) or len(answer) != len(batch):
                raise server.client.bad_answer("/embed_sparse", answer, f"{len(batch)} vectors")
            for weights in answer:
                try:
                    indices = [int(item["index"]) for item in weights]
                    values = [float(item["value"]) for item in weights]
                except (KeyError, TypeError, ValueError):
                    raise server.client.bad_answer(
                        "/embed_sparse", weights, "a list of {index, value}"
                    ) from None
                out.append(sparse_from_weights(indices, values))
        return out


class RerankAPIReranker(CoroutineModel, RerankerBase):
    """Reranking over the Cohere/Jina ``/rerank`` shape, under the same base URL as
    ``/embeddings``: ``http://localhost:8000/v1`` reaches vLLM's and llama.cpp's
    ``/v1/rerank``, ``.../v2`` a ``/v2/rerank``.

    ``server_scores`` says what the server's ``relevance_score`` is: ``"probability"`` (a
    sigmoid already applied: vLLM, Infinity, Cohere, Jina; msearch takes its logit, so the
    scores mean the same on every backend) or ``"logit"`` (llama.cpp). A probability outside
    0..1 is an error naming the option.
    """

    Options: ClassVar[type[RerankAPIOptions]] = RerankAPIOptions
    options: RerankAPIOptions

    def __init__(self, spec: ModelSpec, options: RerankAPIOptions | None = None) -> None:
        super().__init__(spec, options)
        server_scores = self.options.server_scores
        if server_scores not in SCORE_SCALES:
            raise InvalidInputError(
                f"server_scores={server_scores!r}: choose one of {', '.join(SCORE_SCALES)}"
            )
        self.server_scores = server_scores
        self.server = Server(spec, RERANK_API, self.options, self.batch_size, self.show_progress)

    async def _score(self, query: str, documents: list[str]) -> np.ndarray:
        return await self.server.scores(query, documents, self._score_batch)

    async def _score_batch(self, query: str, documents: list[str]) -> np.ndarray:
        payload = {
            "model": self.server.model,
            "query": query,
            "documents": documents,
            "top_n": len(documents),
        }
        answer = await self.server.client.post("/rerank", payload)
        rows = answer.get("results") if isinstance(answer, dict) else None
        found = self.server.by_index("/rerank", rows, len(documents), "relevance_score")
        scores = np.asarray(found, dtype=np.float64)
        if self.server_scores == "logit":
            return scores
        if np.any((scores < 0) | (scores > 1)) or not np.all(np.isfinite(scores)):
            raise BackendError(
                f"{self.server.client.url} gave rerank scores outside 0..1 ({scores.min():g} to "
                f"{scores.max():g}) with server_scores='probability'; a server that returns "
                "raw logits (llama.cpp) needs server_scores='logit'"
            )
        tiny = np.finfo(np.float64).tiny
        return np.log(np.maximum(scores, tiny)) - np.log(np.maximum(1.0 - scores, tiny))


class TEIReranker(CoroutineModel, RerankerBase):
    """Reranking with a cross-encoder on TEI's ``/rerank``, asked for raw logits."""

    Options: ClassVar[type[ServerRerankOptions]] = ServerRerankOptions
    options: ServerRerankOptions

    def __init__(self, spec: ModelSpec, options: ServerRerankOptions | None = None) -> None:
        super().__init__(spec, options)
        self.server = Server(spec, TEI, self.options, self.batch_size, self.show_progress)

    async def _score(self, query: str, documents: list[str]) -> np.ndarray:
        return await self.server.scores(query, documents, self._score_batch)

    async def _score_batch(self, query: str, documents: list[str]) -> np.ndarray:
        server = self.server
        payload = {
            "query": query,
            "texts": documents,
            "raw_scores": True,
            **server.truncate_field(),
        }
        answer = await server.client.post("/rerank", payload)
        return np.asarray(server.by_index("/rerank", answer, len(documents), "score"), dtype=float)
