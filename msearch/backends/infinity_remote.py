"""The ``"infinity-server"`` backend: an Infinity REST server, reached with httpx.

One async client does the HTTP work; sync callers go through msearch's background loop.
Retries (exponential backoff) happen only where another try can help: connection errors,
429 and 5xx answers, all inside the call's overall timeout.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import httpx
import numpy as np

from msearch.backends.base import CoroutineModel, TextEmbedderBase
from msearch.batching import with_progress
from msearch.errors import BackendError, BackendTimeoutError, ServerConnectionError
from msearch.models import ModelSpec

DEFAULT_URL = "http://localhost:7997"

_RETRYABLE_ERRORS = (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError)


class InfinityServerClient:
    """A small async client for an Infinity server's ``/embeddings`` and ``/rerank``.

    ``url`` defaults to ``$INFINITY_URL`` or ``http://localhost:7997``; ``api_key`` to
    ``$INFINITY_API_KEY``. The key is sent as a bearer token and never shown in reprs or errors.
    """

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        backoff: float = 0.25,
    ) -> None:
        self.url = (url or os.environ.get("INFINITY_URL") or DEFAULT_URL).rstrip("/")
        self._api_key = api_key if api_key is not None else os.environ.get("INFINITY_API_KEY")
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self._client: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        key = "set" if self._api_key else "none"
        return f"InfinityServerClient(url={self.url!r}, api_key={key}, timeout={self.timeout})"

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
            self._client = httpx.AsyncClient(base_url=self.url, headers=headers)
        return self._client

    async def post(self, path: str, payload: dict[str, Any]) -> Any:
        """POST ``payload`` as JSON and return the decoded answer, retrying what may recover."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        problem = "no attempt made"
        for attempt in range(self.max_retries + 1):
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                response = await self._http().post(path, json=payload, timeout=remaining)
            except _RETRYABLE_ERRORS as err:
                problem = f"{type(err).__name__}: {err}"
            except httpx.TimeoutException as err:
                raise BackendTimeoutError(
                    f"Infinity server at {self.url} did not answer {path} within {self.timeout:g} s"
                ) from err
            else:
                if response.status_code == 429 or response.status_code >= 500:
                    problem = f"HTTP {response.status_code}: {response.text[:300]}"
                elif response.status_code >= 400:
                    raise BackendError(
                        f"Infinity server at {self.url} refused {path} with HTTP "
                        f"{response.status_code}: {response.text[:500]}"
                    )
                else:
                    return response.json()
            if attempt < self.max_retries:
                await asyncio.sleep(
                    max(0.0, min(self.backoff * 2**attempt, deadline - loop.time()))
                )
        raise ServerConnectionError(
            f"Infinity server at {self.url} could not serve {path} after "
            f"{self.max_retries + 1} attempt(s) within {self.timeout:g} s: {problem}"
        )

    async def embed(self, model: str, inputs: list[str], modality: str = "text") -> np.ndarray:
        answer = await self.post(
            "/embeddings",
            {"model": model, "input": inputs, "encoding_format": "float", "modality": modality},
        )
        rows = sorted(answer["data"], key=lambda row: row["index"])
        return np.asarray([row["embedding"] for row in rows], dtype=np.float32)


class InfinityServerTextEmbedder(CoroutineModel, TextEmbedderBase):
    """Text embeddings from an Infinity server.

    ``server_model`` is the name the server knows the model by (its ``--served-model-name``,
    else the model id it was started with); it defaults to the spec's name.

    >>> from msearch.embeddings import text_embedder
    >>> embedder = text_embedder(
    ...     "sentence-transformers/all-MiniLM-L6-v2", "infinity-server", url="http://localhost:7997"
    ... )
    >>> embedder.embed_query("hello").shape  # doctest: +SKIP
    (384,)
    """

    def __init__(
        self,
        spec: ModelSpec,
        *,
        url: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        server_model: str | None = None,
        **options: Any,
    ) -> None:
        TextEmbedderBase.__init__(self, spec, **options)
        self.client = InfinityServerClient(url, api_key, timeout, max_retries)
        self.server_model = server_model or spec.name

    async def _encode(self, texts: list[str]) -> np.ndarray:
        starts = list(range(0, len(texts), self.batch_size))
        parts = [
            await self.client.embed(self.server_model, texts[start : start + self.batch_size])
            for start in with_progress(starts, self.show_progress, "embedding")
        ]
        return np.concatenate(parts)

    def _model_dim(self) -> int:
        return int(self._sync(self._encode, ["dimension probe"]).shape[1])
