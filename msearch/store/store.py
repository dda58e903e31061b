"""``Store``: one msearch collection in Qdrant: where it lives, its schema, and writes.

Reading (get, count, scan, and the nearest / fused / hybrid / MMR queries) and the checks of
query vectors are inherited from ``StoreReader`` (reader.py); the async twins of both run
here.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from msearch.datatypes import Hit, Record
from msearch.errors import InvalidInputError
from msearch.store import schema as s
from msearch.store.client import Connection
from msearch.store.edge import EdgeOptions
from msearch.store.engine import CreateOptions, Engine, Point, SearchWidth
from msearch.store.engines import open_engine
from msearch.store.filters import Filter, merge_filters, own_fields, to_qdrant
from msearch.store.reader import StoreReader
from msearch.store.records import checked_payload, record_payload

if TYPE_CHECKING:
    from qdrant_client import QdrantClient, models
else:
    from msearch.store import qdrant_models as models


class Store(StoreReader):
    """One msearch collection: upsert, get, delete and dense / sparse / fused queries.

    Where the data lives: ``location=":memory:"``, ``path=folder``, ``url=...`` (with
    ``api_key``, ``https``, ``timeout``, ``prefer_grpc``), an existing ``client``, or nothing
    (the default embedded folder, see ``msearch.store.client.default_path``). ``schema``
    describes the named vectors; an existing collection is checked against it, and a missing
    one is created from it (now, or on the first ``ensure_schema``/``upsert``). ``hnsw_ef``
    (candidates kept while walking the HNSW graph) or ``exact=True`` (scan every vector) set
    how widely every query searches, on either engine (``SearchWidth``).

    >>> import numpy as np
    >>> from msearch.store import Record, Schema, Store, VectorSpec
    >>> store = Store("demo", Schema({"text": VectorSpec(2, model="toy")}), location=":memory:")
    >>> store.upsert([Record(id="a", vectors={"text": np.array([1.0, 0.0])}, content="A")])
    ['a']
    >>> [hit.id for hit in store.query("text", [0.9, 0.1], k=1)]
    ['a']
    >>> store.close()
    """

    def __init__(
        self,
        collection: str = "msearch",
        schema: s.Schema | None = None,
        *,
        location: str | None = None,
        path: str | os.PathLike[str] | None = None,
        url: str | None = None,
        api_key: str | None = None,
        https: bool | None = None,
        timeout: int | None = None,
        prefer_grpc: bool = False,
        client: QdrantClient | None = None,
        engine: Engine | str | None = None,
        edge_options: EdgeOptions | None = None,
        hnsw_ef: int | None = None,
        exact: bool = False,
        shard_number: int | None = None,
        replication_factor: int | None = None,
        create_options: CreateOptions | None = None,
        batch_size: int = 256,
        **client_options: Any,
    ) -> None:
        if not isinstance(collection, str) or not collection:
            raise InvalidInputError(f"collection must be a non-empty string, got {collection!r}")
        if batch_size < 1:
            raise InvalidInputError(f"batch_size must be >= 1, got {batch_size}")
        self.collection = collection
        self.batch_size = batch_size
        self.create_options = create_options or CreateOptions(
            shard_number=shard_number, replication_factor=replication_factor
        )
        search = SearchWidth(hnsw_ef=hnsw_ef, exact=exact)
        if engine is not None and not isinstance(engine, str):
            if not search.default:
                raise InvalidInputError("hnsw_ef/exact cannot apply to an engine passed in")
            self.engine: Engine = engine
        elif client is not None:
            if engine not in (None, "auto", "qdrant-client"):
                raise InvalidInputError(f"client=... runs on qdrant-client, not engine={engine!r}")
            where = {"location": location, "path": path, "url": url, "api_key": api_key}
            clashing = sorted(name for name, value in where.items() if value is not None)
            clashing += sorted(client_options)
            if clashing:
                raise InvalidInputError(
                    f"client=... already says where the data lives; {clashing} cannot apply to it"
                )
            from msearch.store.client_engine import ClientEngine

            self.engine = ClientEngine(client, search=search)
        else:
            connection = Connection(
                location=location,
                path=path,
                url=url,
                api_key=api_key,
                https=https,
                timeout=timeout,
                prefer_grpc=prefer_grpc,
                client_options=client_options or None,
            )
            self.engine = open_engine(connection, engine or "auto", edge_options, search)
        self._schema = None
        self._load_schema()
        if schema is not None:
            self.ensure_schema(schema)

    # -- schema --------------------------------------------------------------------
    @property
    def client(self) -> QdrantClient | None:
        """The underlying QdrantClient (``None`` on another engine)."""
        return getattr(self.engine, "client", None)

    def ensure_schema(self, schema: s.Schema) -> s.Schema:
        """Create the collection from ``schema``, or check that the existing one matches it."""
        if self._schema is None:
            self._load_schema()
        if self._schema is None:
            if not schema.names:
                raise InvalidInputError("a collection needs at least one named vector")
            self.engine.create_collection(self.collection, schema, self.create_options)
            self._schema = schema
        else:
            s.check_compatible(self._schema, schema, self.collection)
        return self._schema

    # -- writing -------------------------------------------------------------------
    def upsert(self, records: Sequence[Record]) -> list[str]:
        """Write ``records`` (replacing points of the same id); returns their caller ids.

        Every record is checked before anything is written, so a bad vector writes nothing.
        """
        items = list(records)
        if not items:
            return []
        points = [self._point(record, position) for position, record in enumerate(items)]
        for start in range(0, len(points), self.batch_size):
            self.engine.upsert(self.collection, points[start : start + self.batch_size])
        return [str(record.id) for record in items]

    def _point(self, record: Record, position: int) -> Point:
        if not isinstance(record, Record):
            raise InvalidInputError(f"records[{position}] is {type(record).__name__}, not Record")
        schema = self._require_schema()
        if not record.vectors:
            raise InvalidInputError(f"records[{position}] (id {record.id!r}) has no vectors")
        vectors: dict[str, Any] = {}
        for name, vector in record.vectors.items():
            what = f"records[{position}] (id {record.id!r}) vector {name!r}"
            vectors[name] = self._checked(schema, name, vector, what)
        payload = checked_payload(record_payload(record), f"records[{position}] (id {record.id!r})")
        return Point(s.point_id(record.id), vectors, payload)

    def delete(
        self,
        ids: Sequence[str] | None = None,
        *,
        source: str | None = None,
        doc_id: str | None = None,
        filter: Filter | None = None,
    ) -> None:
        """Delete the points that match every condition given: ``ids`` AND ``source`` AND
        ``doc_id`` AND ``filter`` (the intersection, as ``get`` and LlamaIndex read them)."""
        if ids is None and source is None and doc_id is None and filter is None:
            raise InvalidInputError("delete needs ids, source, doc_id or filter")
        point_ids = None if ids is None else [s.point_id(i) for i in s.id_list(ids)]
        if self._schema is None and not self._exists():
            return
        condition = merge_filters(own_fields(source=source, doc_id=doc_id), to_qdrant(filter))
        if point_ids is not None:
            if not point_ids:
                return  # no ids: nothing can match all the conditions
            if condition is None:
                self.engine.delete_points(self.collection, point_ids)
                return
            by_id = models.Filter(must=[models.HasIdCondition(has_id=list(point_ids))])
            condition = merge_filters(by_id, condition)
        if condition is not None:
            self.engine.delete_where(self.collection, condition)

    def drop(self) -> None:
        """Delete the whole collection."""
        if self._exists():
            self.engine.delete_collection(self.collection)
        self._schema = None

    # -- async twins: the engine's calls block, so they run in a worker thread -------------
    async def aupsert(self, records: Sequence[Record]) -> list[str]:
        return await asyncio.to_thread(self.upsert, records)

    async def adelete(self, ids: Sequence[str] | None = None, **where: Any) -> None:
        await asyncio.to_thread(self.delete, ids, **where)

    async def aget(self, ids: Sequence[str], *, with_vectors: bool = False) -> list[Hit]:
        return await asyncio.to_thread(self.get, ids, with_vectors=with_vectors)

    async def acount(self, filter: Filter | None = None) -> int:
        return await asyncio.to_thread(self.count, filter)

    async def aquery(
        self, vector_name: str, vector: Any, k: int = 4, *args: Any, **kw: Any
    ) -> list[Hit]:
        return await asyncio.to_thread(self.query, vector_name, vector, k, *args, **kw)

    async def afused_query(self, vectors: Mapping[str, Any], *args: Any, **kw: Any) -> list[Hit]:
        return await asyncio.to_thread(self.fused_query, vectors, *args, **kw)

    async def ahybrid_query(self, dense: Any, sparse: Any, *args: Any, **kw: Any) -> list[Hit]:
        return await asyncio.to_thread(self.hybrid_query, dense, sparse, *args, **kw)

    async def ammr_query(self, vector_name: str, vector: Any, *args: Any, **kw: Any) -> list[Hit]:
        return await asyncio.to_thread(self.mmr_query, vector_name, vector, *args, **kw)

    # -- index building (Qdrant Edge; a server and qdrant-client's local mode need none) --
    def optimize(self) -> bool:
        """Build the HNSW index now, after a bulk load; True if anything was rebuilt.

        Qdrant Edge writes new points into a plain segment that is searched exactly; call this
        once a bulk load is done. Engines that index on their own return False.
        """
        return self._exists() and self.engine.optimize(self.collection)

    def flush(self) -> None:
        """Persist pending writes now (they are in the write-ahead log already)."""
        if self._exists():
            self.engine.flush(self.collection)

    def index_payload(self, key: str, kind: str = "keyword") -> None:
        """Index a metadata key (or msearch's own ``source``, ``doc_id`` ...) for fast filters."""
        field = key if key in s.PAYLOAD_KEYS else f"{s.METADATA}.{key}"
        self._require_schema()
        self.engine.create_payload_index(self.collection, field, kind)

    # -- lifetime ------------------------------------------------------------------
    def close(self) -> None:
        """Release the connection (an embedded folder unlocks when its last user closes)."""
        self.engine.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
