"""The HTTP client every server-backed backend uses: one JSON POST, retried where that helps.

Retries (exponential backoff) happen only where another try can help: connection errors,
429 and 5xx answers, all inside the call's overall deadline (``timeout``). Other 4xx answers
are the caller's problem and fail at once with the server's own message. The API key is sent
as a bearer token and never appears in a repr or an error.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from typing import Any

import httpx

from msearch.errors import (
    BackendError,
    BackendTimeoutError,
    InvalidInputError,
    ServerConnectionError,
)
from msearch.models import ModelSpec, pooling_override

_RETRYABLE_ERRORS = (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError)


class ServerClient:
    """An async JSON client for one server (``label`` names it in errors: "TEI server")."""

    def __init__(
        self,
        label: str,
        url: str,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        backoff: float = 0.25,
    ) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        self.label = label
        self.url = url.rstrip("/")
        self._api_key = api_key or None
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self._client: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        key = "set" if self._api_key else "none"
        return f"{type(self).__name__}(url={self.url!r}, api_key={key}, timeout={self.timeout})"

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
            self._client = httpx.AsyncClient(base_url=self.url, headers=headers)
        return self._client

    def bad_answer(self, path: str, answer: Any, expected: str) -> BackendError:
        """The error for an answer of the wrong shape: what came back, and what was expected."""
        return BackendError(
            f"{self.label} at {self.url} answered {path} with {answer!r:.300}; expected {expected}"
        )

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
                    f"{self.label} at {self.url} did not answer {path} within {self.timeout:g} s"
                ) from err
            else:
                if response.status_code == 429 or response.status_code >= 500:
                    problem = f"HTTP {response.status_code}: {response.text[:300]}"
                elif response.status_code >= 400:
                    raise BackendError(
                        f"{self.label} at {self.url} refused {path} with HTTP "
                        f"{response.status_code}: {response.text[:500]}"
                    )
                else:
                    try:
                        return response.json()
                    except ValueError:
                        raise self.bad_answer(path, response.text, "JSON") from None
            if attempt < self.max_retries:
                await asyncio.sleep(
                    max(0.0, min(self.backoff * 2**attempt, deadline - loop.time()))
                )
        raise ServerConnectionError(
            f"{self.label} at {self.url} could not serve {path} after "
            f"{self.max_retries + 1} attempt(s) within {self.timeout:g} s: {problem}"
        )


@dataclass(frozen=True)
class Site:
    """What kind of server a backend talks to: its name in errors, and where its URL and key
    come from when the caller gives none."""

    label: str
    url_env: str
    key_env: str
    default_url: str = ""


@dataclass(frozen=True, kw_only=True)
class ServerConnection:
    """How a server-backed model is reached: ``url`` (default: the site's variable),
    ``api_key`` (never shown in a repr), the call's overall ``timeout``, ``max_retries``, and
    ``server_model``, the name the server knows the model by (vLLM's ``--served-model-name``,
    Ollama's tag ...; default: the spec's name)."""

    url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    timeout: float = 60.0
    max_retries: int = 3
    server_model: str | None = None


def server_client(spec: ModelSpec, site: Site, connection: ServerConnection) -> ServerClient:
    """The client of a server-backed model: ``url`` or ``$url_env`` or ``default_url`` (an
    error naming both where there is none), the key or ``$key_env``. A ``pooling`` the caller
    chose is refused: a server pools as it was started."""
    chosen = pooling_override(spec)
    if chosen is not None:
        raise InvalidInputError(
            f"pooling={chosen.value!r}: the {site.label} pools as it was started; msearch "
            "cannot change that from the client"
        )
    base = connection.url or os.environ.get(site.url_env) or site.default_url
    if not base:
        raise InvalidInputError(
            f"this backend needs url= (or ${site.url_env}): the {site.label}'s base URL, such "
            "as http://localhost:8000/v1"
        )
    key = connection.api_key
    key = key if key is not None else os.environ.get(site.key_env)
    return ServerClient(site.label, base, key, connection.timeout, connection.max_retries)
