"""msearch's Qdrant store: one collection schema for LangChain, LlamaIndex and the CLI.

Core API (everything below is importable from ``msearch.store``)::

    store = Store(
        "docs",                                    # collection name
        Schema(                                    # named vectors -> size, distance, model
            vectors={"text": VectorSpec(384, Distance.COSINE, model="...MiniLM-L6-v2")},
            sparse={"text_sparse": SparseSpec(model="BAAI/bge-m3")},
        ),
        path="folder",             # or location=":memory:", url=..., api_key=..., https=...,
    )                              # timeout=..., prefer_grpc=..., client=QdrantClient(...);
                                   # nothing: default_path(). shard_number / replication_factor
                                   # go to collection creation on a server.
    store.ensure_schema(schema)    # create the collection, or check it matches (model + size)
    store.upsert([Record(id="a", vectors={"text": vec, "text_sparse": sparse_vec},
                         content="...", metadata={...}, source="a.md", chunk=0,
                         doc_id="a.md", content_hash="...", modality="text")])  # -> ["a"]
    store.query("text", vec, k=4, filter={"lang": "en"})          # dense or sparse name
    store.hybrid_query(vec, sparse_vec, k=4, fusion="rrf")        # prefetch + RRF in Qdrant
    store.fused_query({"text": v1, "image": v2, "audio": v3}, k)  # cross-modal, rank-fused
    store.mmr_query("text", vec, k=4, fetch_k=20, lambda_mult=0.5)
    store.get(["a"]); store.count(filter); store.scan(filter)     # -> Hit(id, score, content,
    store.delete(ids=["a"]); store.delete(source="a.md")          #    metadata, payload, ...)
    store.close()                  # async twins: aupsert, aquery, ahybrid_query, aget, ...

Ids: any caller string maps to a deterministic UUIDv5 point id (``point_id``); the caller's
id is kept in the payload and returned as ``Hit.id``; ``chunk_id(source, chunk)`` names chunks.
Payload: ``{content, metadata, id, source, modality, doc_id, chunk, content_hash}``, where
``metadata`` is exactly the caller's. Dict filters match metadata keys, or msearch's own keys
(``source``, ``modality``, ``doc_id``, ``chunk``, ``content_hash``, ``id``); a
``qdrant_client.models.Filter`` passes through. The collection's metadata records, per named
vector, the model and size that built it; writing another model's vectors raises
``SchemaMismatchError``. Engines: ``Engine`` (engine.py) is the internal seam; ``ClientEngine``
runs on qdrant-client, and ``Store(engine=...)`` takes any other implementation.
``EdgeEngine`` (edge.py) runs on Qdrant Edge: ``Store(..., engine="edge" | "qdrant-client" |
"auto")``; "auto" (the default) opens a folder with the engine that wrote it and creates new
folders on Edge. ``store.optimize()`` builds Edge's HNSW index after a bulk load;
``Store(..., hnsw_ef=256)`` or ``exact=True`` sets how widely every query searches, on either
engine (``EdgeOptions`` holds Edge's index-building settings).
"""

from msearch.datatypes import Hit, Record
from msearch.errors import SchemaMismatchError, StoreError, StoreLockedError
from msearch.store.client import Connection, default_path, own_client
from msearch.store.edge import EdgeEngine, EdgeOptions
from msearch.store.engine import CreateOptions, Engine
from msearch.store.filters import Filter, merge_filters, own_fields
from msearch.store.schema import (
    AUDIO,
    IMAGE,
    METADATA,
    SPEECH,
    TEXT,
    TEXT_SPARSE,
    VIDEO,
    Distance,
    Schema,
    SparseSpec,
    VectorSpec,
    chunk_id,
    point_id,
)
from msearch.store.store import Store

__all__ = [
    "AUDIO",
    "IMAGE",
    "METADATA",
    "SPEECH",
    "TEXT",
    "TEXT_SPARSE",
    "VIDEO",
    "ClientEngine",
    "Connection",
    "CreateOptions",
    "Distance",
    "EdgeEngine",
    "EdgeOptions",
    "Engine",
    "Filter",
    "Hit",
    "Record",
    "Schema",
    "SchemaMismatchError",
    "SparseSpec",
    "Store",
    "StoreError",
    "StoreLockedError",
    "VectorSpec",
    "chunk_id",
    "default_path",
    "merge_filters",
    "own_client",
    "own_fields",
    "point_id",
]


def __getattr__(name: str) -> object:
    """``ClientEngine``, imported on first use: it loads qdrant-client (about a second)."""
    if name == "ClientEngine":
        from msearch.store.client_engine import ClientEngine

        return ClientEngine
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
