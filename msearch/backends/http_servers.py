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

from collections.abc import Callable
from typing import Any

import numpy as np

from msearch.backends.base import CoroutineModel, RerankerBase, SparseEmbedderBase, TextEmbedderBase
from msearch.backends.server_client import server_options
from msearch.backends.token_limit import TokenLimit
from msearch.batching import with_progress
from msearch.datatypes import sparse_from_weights
from msearch.errors import BackendError, InvalidInputError
from msearch.models import ModelSpec

SCORE_SCALES = ("probability", "logit")


class _ServerModel:
    """The options of every model behind one of these servers, and the client built from them.

    Listed before ``CoroutineModel`` and the public base, whose ``__init__`` receives the
    remaining options. ``server_model`` is the name the server knows the model by (vLLM's
    ``--served-model-name``, Ollama's tag ...); it defaults to the spec's name.
    """

    label: str
    url_env: str
    key_env: str
    default_url: str = ""
    show_progress: bool | None
    batch_size: int

    def __init__(
        self,
        spec: ModelSpec,
        *,
        url: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        server_model: str | None = None,
        truncate: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(spec, **options)  # type: ignore[call-arg]
        self.client = server_options(
            spec,
            self.label,
            url=url,
            url_env=self.url_env,
            default_url=self.default_url,
            api_key=api_key,
            key_env=self.key_env,
            timeout=timeout,
            max_retries=max_retries,
        )
        self.server_model = server_model or spec.name
        self.inputs = TokenLimit(spec, truncate)

    def _batches(self, items: list[Any], desc: str) -> list[tuple[int, list[Any]]]:
        starts = range(0, len(items), self.batch_size)
        chosen = with_progress(list(starts), self.show_progress, desc)
        return [(start, items[start : start + self.batch_size]) for start in chosen]

    def _by_index(self, path: str, rows: Any, count: int, field: str) -> list[Any]:
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

    def _truncate_field(self) -> dict[str, bool]:
        """TEI's ``truncate``: off whenever msearch checks lengths itself, so a server started
        with a smaller limit (or ``--auto-truncate``) refuses instead of cutting silently."""
        return {} if self.inputs.mode == "server" else {"truncate": False}


class _ServerEmbedder(_ServerModel):
    _sync: Callable[..., Any]

    async def _embed_batch(self, texts: list[str]) -> list[Any]:
        raise NotImplementedError

    async def _encode(self, texts: list[str]) -> np.ndarray:
        texts = self.inputs.texts(texts)
        rows: list[Any] = []
        for _, batch in self._batches(texts, "embedding"):
            rows.extend(await self._embed_batch(batch))
        try:
            return np.asarray(rows, dtype=np.float32)
        except (TypeError, ValueError):
            raise BackendError(
                f"{self.client.label} at {self.client.url} returned vectors of unequal or "
                "non-numeric length"
            ) from None

    def _model_dim(self) -> int:
        return int(self._sync(self._encode, ["dimension probe"]).shape[1])


class OpenAITextEmbedder(_ServerEmbedder, CoroutineModel, TextEmbedderBase):
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

    label = "OpenAI-compatible server"
    url_env = "OPENAI_BASE_URL"
    key_env = "OPENAI_API_KEY"

    async def _embed_batch(self, texts: list[str]) -> list[Any]:
        payload = {"model": self.server_model, "input": texts, "encoding_format": "float"}
        answer = await self.client.post("/embeddings", payload)
        rows = answer.get("data") if isinstance(answer, dict) else None
        return self._by_index("/embeddings", rows, len(texts), "embedding")


class TEITextEmbedder(_ServerEmbedder, CoroutineModel, TextEmbedderBase):
    """Text embeddings from text-embeddings-inference's ``/embed``.

    ``url`` defaults to ``$TEI_URL`` or ``http://localhost:8080``; the key (TEI's
    ``--api-key``) to ``$TEI_API_KEY``. TEI serves one model, so ``server_model`` is not sent.
    """

    label = "TEI server"
    url_env = "TEI_URL"
    key_env = "TEI_API_KEY"
    default_url = "http://localhost:8080"

    async def _embed_batch(self, texts: list[str]) -> list[Any]:
        payload = {"inputs": texts, "normalize": False, **self._truncate_field()}
        answer = await self.client.post("/embed", payload)
        if not isinstance(answer, list) or len(answer) != len(texts):
            raise self.client.bad_answer("/embed", answer, f"{len(texts)} vectors")
        return answer


class TEISparseEmbedder(_ServerModel, CoroutineModel, SparseEmbedderBase):
    """Sparse vectors (SPLADE and other learned sparse models) from TEI's ``/embed_sparse``.

    Queries and documents are encoded alike, as the server does.
    """

    label = "TEI server"
    url_env = "TEI_URL"
    key_env = "TEI_API_KEY"
    default_url = "http://localhost:8080"

    async def _encode_sparse(self, texts: list[str]) -> list[Any]:  # type: ignore[override]
        texts = self.inputs.texts(texts)
        out = []
        for _, batch in self._batches(texts, "sparse embedding"):
            payload = {"inputs": batch, **self._truncate_field()}
            answer = await self.client.post("/embed_sparse", payload)
            if not isinstance(answer, list) or len(answer) != len(batch):
                raise self.client.bad_answer("/embed_sparse", answer, f"{len(batch)} vectors")
            for weights in answer:
                try:
                    indices = [int(item["index"]) for item in weights]
                    values = [float(item["value"]) for item in weights]
                except (KeyError, TypeError, ValueError):
                    raise self.client.bad_answer(
                        "/embed_sparse", weights, "a list of {index, value}"
                    ) from None
                out.append(sparse_from_weights(indices, values))
        return out


class _ServerReranker(_ServerModel):
    async def _score_batch(self, query: str, documents: list[str]) -> np.ndarray:
        raise NotImplementedError

    async def _score(self, query: str, documents: list[str]) -> np.ndarray:
        documents = self.inputs.documents(query, documents)
        out = np.empty(len(documents), dtype=np.float64)
        for start, batch in self._batches(documents, "reranking"):
            out[start : start + len(batch)] = await self._score_batch(query, batch)
        return out


class RerankAPIReranker(_ServerReranker, CoroutineModel, RerankerBase):
    """Reranking over the Cohere/Jina ``/rerank`` shape, under the same base URL as
    ``/embeddings``: ``http://localhost:8000/v1`` reaches vLLM's and llama.cpp's
    ``/v1/rerank``, ``.../v2`` a ``/v2/rerank``.

    ``server_scores`` says what the server's ``relevance_score`` is: ``"probability"`` (a
    sigmoid already applied: vLLM, Infinity, Cohere, Jina; msearch takes its logit, so the
    scores mean the same on every backend) or ``"logit"`` (llama.cpp). A probability outside
    0..1 is an error naming the option.
    """

    label = "rerank server"
    url_env = "OPENAI_BASE_URL"
    key_env = "OPENAI_API_KEY"

    def __init__(self, spec: ModelSpec, *, server_scores: str = "probability", **options: Any):
        super().__init__(spec, **options)
        if server_scores not in SCORE_SCALES:
            raise InvalidInputError(
                f"server_scores={server_scores!r}: choose one of {', '.join(SCORE_SCALES)}"
            )
        self.server_scores = server_scores

    async def _score_batch(self, query: str, documents: list[str]) -> np.ndarray:
        payload = {
            "model": self.server_model,
            "query": query,
            "documents": documents,
            "top_n": len(documents),
        }
        answer = await self.client.post("/rerank", payload)
        rows = answer.get("results") if isinstance(answer, dict) else None
        scores = np.asarray(
            self._by_index("/rerank", rows, len(documents), "relevance_score"), dtype=np.float64
        )
        if self.server_scores == "logit":
            return scores
        if np.any((scores < 0) | (scores > 1)) or not np.all(np.isfinite(scores)):
            raise BackendError(
                f"{self.client.url} gave rerank scores outside 0..1 ({scores.min():g} to "
                f"{scores.max():g}) with server_scores='probability'; a server that returns "
                "raw logits (llama.cpp) needs server_scores='logit'"
            )
        tiny = np.finfo(np.float64).tiny
        return np.log(np.maximum(scores, tiny)) - np.log(np.maximum(1.0 - scores, tiny))


class TEIReranker(_ServerReranker, CoroutineModel, RerankerBase):
    """Reranking with a cross-encoder on TEI's ``/rerank``, asked for raw logits."""

    label = "TEI server"
    url_env = "TEI_URL"
    key_env = "TEI_API_KEY"
    default_url = "http://localhost:8080"

    async def _score_batch(self, query: str, documents: list[str]) -> np.ndarray:
        payload = {"query": query, "texts": documents, "raw_scores": True, **self._truncate_field()}
        answer = await self.client.post("/rerank", payload)
        return np.asarray(self._by_index("/rerank", answer, len(documents), "score"), dtype=float)
