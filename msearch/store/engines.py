"""Choosing the engine under a store: Qdrant Edge or qdrant-client, for a ``Connection``.

``engine="auto"`` (the default) keeps ``":memory:"`` on qdrant-client, opens an existing
embedded folder with the engine that wrote it, and creates new embedded folders on Qdrant Edge
when ``qdrant-edge-py`` is installed (qdrant-client's local mode otherwise): Edge runs Qdrant's
own engine (HNSW, WAL, payload indexes) where qdrant-client's local mode scans every point in
Python (docs/benchmarks.md, "Embedded stores"). A server (``url=...``) is always qdrant-client.
"""

from __future__ import annotations

import dataclasses
import importlib.util

from msearch.errors import InvalidInputError
from msearch.store.client import MEMORY, Connection, connect, release
from msearch.store.edge import EdgeEngine, EdgeOptions
from msearch.store.engine import Engine, SearchWidth
from msearch.store.folders import CLIENT, EDGE, EngineKind, check_folder, detect

ENGINES = ("auto", EDGE, CLIENT)


def choose(connection: Connection, engine: str = "auto") -> EngineKind:
    """The engine that serves ``connection``: ``"edge"`` or ``"qdrant-client"``."""
    if engine not in ENGINES:
        raise InvalidInputError(f"engine must be one of {ENGINES}, got {engine!r}")
    if not connection.is_embedded:
        if engine == EDGE:
            raise InvalidInputError(
                "Qdrant Edge is an embedded engine: it opens a folder (path=...) or "
                'location=":memory:", not a server URL; use engine="qdrant-client" for a server'
            )
        return CLIENT
    folder = connection.folder()
    if folder is None:  # in memory
        return EDGE if engine == EDGE else CLIENT
    if engine == "auto":
        found = detect(folder)
        if found is not None:
            return found
        return EDGE if importlib.util.find_spec("qdrant_edge") is not None else CLIENT
    kind: EngineKind = EDGE if engine == EDGE else CLIENT
    check_folder(folder, kind)
    return kind


def open_engine(
    connection: Connection,
    engine: str = "auto",
    edge_options: EdgeOptions | None = None,
    search: SearchWidth | None = None,
) -> Engine:
    """An open engine for ``connection``; close it with ``engine.close()``."""
    kind = choose(connection, engine)
    if kind == EDGE:
        folder = None if connection.location == MEMORY else connection.folder()
        return EdgeEngine(folder, with_search_width(edge_options, search))
    if edge_options is not None:
        raise InvalidInputError(f"edge_options apply to the Qdrant Edge engine, not to {kind}")
    from msearch.store.client_engine import ClientEngine

    client = connect(connection)
    return ClientEngine(client, on_close=lambda: release(client), search=search)


def with_search_width(options: EdgeOptions | None, search: SearchWidth | None) -> EdgeOptions:
    """``options`` with the store's search width; the same setting given twice must agree."""
    options = options or EdgeOptions()
    if search is None or search.default:
        return options
    if (options.hnsw_ef, options.exact) not in ((None, False), (search.hnsw_ef, search.exact)):
        raise InvalidInputError(
            f"hnsw_ef/exact given both as Store options ({search.hnsw_ef}, {search.exact}) and "
            f"in edge_options ({options.hnsw_ef}, {options.exact}); give them once"
        )
    return dataclasses.replace(options, hnsw_ef=search.hnsw_ef, exact=search.exact)
