"""Connecting to Qdrant: embedded (in memory or a folder) or a Qdrant server or cluster.

With nothing given, msearch keeps its data in an embedded folder, ``default_path()``:
``$MSEARCH_HOME/qdrant`` when ``MSEARCH_HOME`` is set, else
``$XDG_DATA_HOME/msearch/qdrant`` (``~/.local/share/msearch/qdrant``).

An embedded folder can be open in one process at a time (qdrant-client locks it). Inside one
process, msearch shares one client per folder, so a LangChain and a LlamaIndex store can both
open the same folder; the client closes when the last store using it closes.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from msearch.errors import InvalidInputError, StoreError, StoreLockedError
from msearch.store.folders import CLIENT, check_folder

if TYPE_CHECKING:
    from qdrant_client import QdrantClient

MEMORY = ":memory:"


@functools.cache
def _client_parameters() -> frozenset[str]:
    """The keyword arguments QdrantClient names (its ``**kwargs`` would swallow any other)."""
    import inspect

    from qdrant_client import QdrantClient

    parameters = inspect.signature(QdrantClient.__init__).parameters.values()
    named = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return frozenset(p.name for p in parameters if p.kind in named)


def default_path() -> Path:
    """The embedded folder used when no location, path, url or client is given."""
    home = os.environ.get("MSEARCH_HOME")
    if home:
        return Path(home).expanduser() / "qdrant"
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data).expanduser() / "msearch" / "qdrant"


@dataclass(frozen=True)
class Connection:
    """Where the data lives. Give at most one of ``location``, ``path``, ``url``.

    ``location`` is ``":memory:"`` (embedded, gone at close) or a server URL, as in
    qdrant-client; ``path`` is an embedded folder; ``url`` (plus ``api_key``, ``https``,
    ``timeout``, ``prefer_grpc``, ``port``, ``grpc_port``, ``prefix``) is a Qdrant server or
    cluster. ``client_options`` go to ``QdrantClient`` unchanged.

    >>> Connection(location=":memory:").is_embedded
    True
    """

    location: str | None = None
    path: str | os.PathLike[str] | None = None
    url: str | None = None
    api_key: str | None = field(default=None, repr=False)  # secrets stay out of reprs and logs
    https: bool | None = None
    timeout: int | None = None
    prefer_grpc: bool = False
    port: int | None = 6333
    grpc_port: int = 6334
    prefix: str | None = None
    client_options: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        given = [name for name in ("location", "path", "url") if getattr(self, name) is not None]
        if len(given) > 1:
            raise InvalidInputError(f"give only one of location, path, url; got {given}")
        options = set(self.client_options or {})
        unknown = sorted(options - _client_parameters()) if options else []
        if unknown:
            raise InvalidInputError(
                f"unknown store option(s) {unknown}: neither msearch's Store nor QdrantClient "
                "takes them"
            )

    @property
    def is_embedded(self) -> bool:
        return self.url is None and (self.location is None or self.location == MEMORY)

    def folder(self) -> Path | None:
        """The embedded folder, or ``None`` in memory or on a server."""
        if self.path is not None:
            return Path(self.path).expanduser().resolve()
        if self.location is None and self.url is None:
            return default_path().resolve()
        return None


_shared_lock = threading.Lock()
_shared: dict[Path, tuple[QdrantClient, int]] = {}


def connect(connection: Connection) -> QdrantClient:
    """A QdrantClient for ``connection``; embedded folders are shared within the process.

    Pair every call with ``release(client)``.
    """
    folder = connection.folder()
    if folder is None:
        return _new_client(connection)
    with _shared_lock:
        client, users = _shared.get(folder, (None, 0))
        if client is None:
            client = _open_folder(folder, connection.client_options or {})
        _shared[folder] = (client, users + 1)
        return client


def own_client(connection: Connection) -> QdrantClient:
    """A QdrantClient that belongs to the caller alone (close it when done).

    For the stock langchain-qdrant / llama-index classes, which never close their client:
    sharing msearch's per-folder client with them would let one close it under the other.
    An embedded folder that an msearch store in this process holds is refused (qdrant-client
    opens a folder once per process).
    """
    folder = connection.folder()
    if folder is None:
        return _new_client(connection)
    with _shared_lock:
        if folder in _shared:
            raise StoreLockedError(
                f"the embedded Qdrant folder {folder} is open in an msearch store in this "
                "process; close it first, or use msearch's own vector store on it"
            )
    return _open_folder(folder, connection.client_options or {})


def release(client: QdrantClient) -> None:
    """Close ``client`` unless another store in this process still uses its folder."""
    with _shared_lock:
        for folder, (shared, users) in list(_shared.items()):
            if shared is client:
                if users > 1:
                    _shared[folder] = (shared, users - 1)
                    return
                del _shared[folder]
                break
    client.close()


def _open_folder(folder: Path, options: dict[str, Any]) -> QdrantClient:
    # qdrant-client would start an empty store inside a Qdrant Edge folder: refuse.
    check_folder(folder, CLIENT)
    folder.mkdir(parents=True, exist_ok=True)
    from qdrant_client import QdrantClient

    try:
        return QdrantClient(path=str(folder), **options)
    except (ValueError, sqlite3.DatabaseError) as err:  # meta.json or storage.sqlite damaged
        raise StoreError(
            f"the embedded Qdrant folder {folder} is damaged and cannot be opened: {err}"
        ) from err
    except RuntimeError as err:
        if "already accessed" not in str(err):
            raise
        raise StoreLockedError(
            f"the embedded Qdrant folder {folder} is open in another process; an embedded "
            "folder serves one process at a time. For concurrent access use a Qdrant server "
            "(pass url=...), or close the other process first."
        ) from err


def _new_client(connection: Connection) -> QdrantClient:
    from qdrant_client import QdrantClient

    options = dict(connection.client_options or {})
    if connection.location == MEMORY:
        return QdrantClient(location=MEMORY, **options)
    return QdrantClient(
        location=connection.location,
        url=connection.url,
        api_key=connection.api_key,
        https=connection.https,
        timeout=connection.timeout,
        prefer_grpc=connection.prefer_grpc,
        port=connection.port,
        grpc_port=connection.grpc_port,
        prefix=connection.prefix,
        **options,
    )
