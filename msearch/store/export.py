"""Moving up: copy an embedded collection to a Qdrant server, point for point.

The copy streams pages of points (ids, every named vector, payload) from the source store's
engine into a qdrant-client connection, after creating the target collection from the
source's recorded schema (so msearch and both frameworks read it as before). Point ids are
copied unchanged, so re-running an interrupted export overwrites what it already wrote.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from qdrant_client import QdrantClient, models

from msearch.datatypes import SparseVector
from msearch.errors import InvalidInputError, StoreError
from msearch.store.engine import Point, QueryVector
from msearch.store.store import Store

PROGRESS_MIN_POINTS = 10_000


def export_collection(
    source: Store,
    url: str | None = None,
    *,
    api_key: str | None = None,
    collection_name: str | None = None,
    batch_size: int = 256,
    client: QdrantClient | None = None,
    recreate: bool = False,
    progress: bool | None = None,
    **connection: Any,
) -> int:
    """Copy ``source``'s collection to the Qdrant server at ``url``; returns the points copied.

    ``collection_name`` defaults to the source's name. ``client`` (any ``QdrantClient``)
    replaces ``url``/``api_key``; other keywords (``https``, ``timeout``, ``prefer_grpc`` ...)
    go to the connection. An existing target collection must have a compatible schema; its
    points of the same ids are overwritten (``recreate=True`` drops it first).

    >>> from msearch.store import Record, Schema, Store, VectorSpec
    >>> source = Store("notes", Schema({"text": VectorSpec(2)}), location=":memory:")
    >>> source.upsert([Record(id="a", vectors={"text": [1.0, 0.0]}, content="A")])
    ['a']
    >>> export_collection(source, client=QdrantClient(":memory:"))  # or url="http://host:6333"
    1
    """
    if batch_size < 1:
        raise InvalidInputError(f"batch_size must be >= 1, got {batch_size}")
    if (url is None) == (client is None):
        raise InvalidInputError("export_collection needs exactly one of url=... or client=...")
    schema = source.schema
    if schema is None:
        raise StoreError(f"collection {source.collection!r} does not exist: nothing to export")
    name = collection_name or source.collection
    target = (
        Store(name, client=client)
        if client is not None
        else Store(name, url=url, api_key=api_key, **connection)
    )
    try:
        if recreate:
            target.drop()
        target.ensure_schema(schema)
        total = source.count()
        copied = 0
        for page in _progress(_pages(source, batch_size), total, progress, name):
            target.engine.upsert(target.collection, page)
            copied += len(page)
        return copied
    finally:
        target.close()


def _pages(source: Store, batch_size: int) -> Iterator[list[Point]]:
    engine, name = source.engine, source.collection
    offset: str | None = None
    while True:
        listed, offset = engine.scroll(name, None, batch_size, offset)
        if listed:
            ids = [point.point_id for point in listed]
            full = {p.point_id: p for p in engine.retrieve(name, ids, with_vectors=True)}
            yield [
                Point(pid, _vectors(full[pid].vectors or {}), full[pid].payload)
                for pid in ids
                if pid in full
            ]
        if offset is None:
            return


def _vectors(stored: dict[str, Any]) -> dict[str, QueryVector]:
    out: dict[str, QueryVector] = {}
    for key, value in stored.items():
        if isinstance(value, models.SparseVector | SparseVector):
            out[key] = SparseVector(
                np.asarray(value.indices, dtype=np.int64),
                np.asarray(value.values, dtype=np.float32),
            )
        elif isinstance(value, list) and value and isinstance(value[0], list):
            raise StoreError(f"vector {key!r} is a multivector, which msearch does not export")
        else:
            out[key] = list(value)
    return out


def _progress(
    pages: Iterator[list[Point]], total: int, show: bool | None, name: str
) -> Iterator[list[Point]]:
    if show is False or (show is None and total < PROGRESS_MIN_POINTS):
        yield from pages
        return
    from tqdm.auto import tqdm

    with tqdm(total=total, desc=f"export {name}", unit="pt", leave=False) as bar:
        for page in pages:
            yield page
            bar.update(len(page))
