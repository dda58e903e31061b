"""Text search over a ``Store``, shared by the LangChain and LlamaIndex adapters.

The adapters embed with their own framework's model objects; this module turns the vectors
into records and queries, so both frameworks write and read the collection the same way.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from msearch.adapters.models import model_id
from msearch.datatypes import Hit, Record, SparseVector
from msearch.errors import InvalidInputError, SchemaMismatchError
from msearch.protocols import SparseEmbedder
from msearch.store import schema as s
from msearch.store.filters import Filter
from msearch.store.store import Store

MODES = ("dense", "sparse", "hybrid")


def adopt_or_open_store(
    store: Store | None,
    collection_name: str,
    distance: s.Distance | str,
    vector_name: str,
    **connection: Any,
) -> Store:
    """The Store an adapter works on: ``store`` itself (when nothing else given contradicts
    it) or a new one opened with ``connection``."""
    if store is None:
        return Store(collection_name, **connection)
    given = sorted(name for name, value in connection.items() if value is not None)
    if given:
        raise InvalidInputError(
            f"store=... already says where the data lives; {given} cannot apply to it"
        )
    if collection_name not in ("msearch", store.collection):
        raise InvalidInputError(
            f"collection_name={collection_name!r} contradicts store=..., whose collection is "
            f"{store.collection!r}"
        )
    recorded = store.schema.vectors.get(vector_name) if store.schema is not None else None
    if recorded is not None and recorded.distance != s.Distance(distance):
        raise InvalidInputError(
            f"distance={s.Distance(distance)} contradicts the collection {store.collection!r}, "
            f"which compares {vector_name!r} vectors by {recorded.distance}"
        )
    return store


def check_mode(mode: str, sparse: SparseEmbedder | None) -> str:
    if mode not in MODES:
        raise InvalidInputError(f"mode must be one of {MODES}, got {mode!r}")
    if mode != "dense" and sparse is None:
        raise InvalidInputError(
            f"mode {mode!r} needs a sparse embedding model (sparse_embedding=...)"
        )
    return mode


def text_schema(
    dense_size: int,
    dense_model: Any,
    sparse: SparseEmbedder | None,
    *,
    dense_name: str = s.TEXT,
    sparse_name: str = s.TEXT_SPARSE,
    distance: s.Distance | str = s.Distance.COSINE,
) -> s.Schema:
    """The schema of a text collection: the dense model's vector, and the sparse one if any.

    ``dense_model`` ``None`` records no model (only the size is then checked on writes).
    """
    sparse_specs = {}
    if sparse is not None:
        sparse_specs[sparse_name] = s.SparseSpec(
            model=model_id(sparse), idf=bool(getattr(sparse, "idf", False))
        )
    model = None if dense_model is None else model_id(dense_model)
    vectors = {dense_name: s.VectorSpec(dense_size, s.Distance(distance), model)}
    return s.Schema(vectors=vectors, sparse=sparse_specs)


def text_records(
    texts: Sequence[str],
    dense: Sequence[Any],
    sparse: Sequence[SparseVector] | None,
    metadatas: Sequence[Mapping[str, Any]],
    ids: Sequence[str],
    *,
    doc_ids: Sequence[str | None] | None = None,
    dense_name: str = s.TEXT,
    sparse_name: str = s.TEXT_SPARSE,
) -> list[Record]:
    """One record per text. A string ``metadata["source"]`` also fills msearch's ``source``."""
    lengths = {len(texts), len(dense), len(metadatas), len(ids)}
    if sparse is not None:
        lengths.add(len(sparse))
    if len(lengths) != 1:
        raise InvalidInputError(
            f"texts ({len(texts)}), vectors, metadatas ({len(metadatas)}) and ids ({len(ids)}) "
            "must have the same length"
        )
    records = []
    for position, text in enumerate(texts):
        vectors: dict[str, Any] = {dense_name: dense[position]}
        if sparse is not None:
            vectors[sparse_name] = sparse[position]
        metadata = dict(metadatas[position] or {})
        source = metadata.get("source")
        records.append(
            Record(
                id=ids[position],
                vectors=vectors,
                content=text,
                metadata=metadata,
                source=source if isinstance(source, str) else None,
                doc_id=doc_ids[position] if doc_ids is not None else None,
            )
        )
    return records


def check_query_model(store: Store, dense_name: str, size: int, model: Any) -> bool:
    """False when the collection does not exist yet; an error when it holds another model's
    (or another size's) vectors, whose scores against this query would mean nothing."""
    schema = store.schema
    if schema is None:
        return False
    recorded = schema.vectors.get(dense_name)
    distance = recorded.distance if recorded is not None else s.Distance.COSINE
    model_name = None if model is None else model_id(model)
    wanted = s.Schema(vectors={dense_name: s.VectorSpec(size, distance, model_name)})
    s.check_compatible(schema, wanted, store.collection)
    return True


def search(
    store: Store,
    mode: str,
    *,
    dense: Any | None,
    sparse: SparseVector | None,
    k: int,
    filter: Filter | None = None,
    dense_name: str = s.TEXT,
    sparse_name: str = s.TEXT_SPARSE,
    fusion: str = "rrf",
    score_threshold: float | None = None,
    alpha: float | None = None,
) -> list[Hit]:
    """Run a dense, sparse or hybrid query with vectors the caller computed (``alpha``: see
    ``Store.hybrid_query``; only hybrid queries take it)."""
    if alpha is not None and mode != "hybrid":
        raise InvalidInputError(f"alpha weighs a hybrid query; a {mode} query cannot use it")
    if mode == "dense":
        return store.query(dense_name, dense, k, filter, score_threshold=score_threshold)
    if sparse is None:
        raise SchemaMismatchError(f"mode {mode!r} needs a sparse query vector")
    if mode == "sparse":
        return store.query(sparse_name, sparse, k, filter, score_threshold=score_threshold)
    return store.hybrid_query(
        dense,
        sparse,
        k,
        filter,
        dense_name=dense_name,
        sparse_name=sparse_name,
        fusion=fusion,
        score_threshold=score_threshold,
        alpha=alpha,
    )


def check_options(kwargs: dict[str, Any], allowed: Iterable[str], call: str) -> None:
    """Refuse keyword options that ``call`` does not take, by name (never ignore them)."""
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise InvalidInputError(
            f"{call} got unknown option(s) {unknown}; it takes {sorted(allowed)}"
        )


def prepare_texts(
    texts: Iterable[str],
    metadatas: Sequence[Mapping[str, Any] | None] | None,
    ids: Sequence[str | None] | None,
) -> tuple[list[str], list[dict[str, Any]], list[str]]:
    """Checked texts, one metadata dict per text, and ids (a new UUID4 where none is given)."""
    if isinstance(texts, str):
        raise InvalidInputError("texts must be a list of strings, not a single string")
    items = list(texts)
    for position, text in enumerate(items):
        if not isinstance(text, str):
            raise InvalidInputError(f"texts[{position}] is {type(text).__name__}, expected str")
    metadata_list = [dict(m or {}) for m in metadatas] if metadatas is not None else []
    metadata_list = metadata_list or [{} for _ in items]
    if len(metadata_list) != len(items):
        raise InvalidInputError(f"{len(items)} texts but {len(metadata_list)} metadatas")
    given = list(ids) if ids is not None else [None] * len(items)
    if len(given) != len(items):
        raise InvalidInputError(f"{len(items)} texts but {len(given)} ids")
    return items, metadata_list, [str(i) if i is not None else str(uuid.uuid4()) for i in given]


def as_reranker(model: Any) -> Any:
    """The object whose ``rerank(query, documents, top_n)`` ranks: ``model`` itself, or the
    msearch reranker inside a framework wrapper (``MSearchReranker().reranker``)."""
    if callable(getattr(model, "rerank", None)):
        return model
    inner = getattr(model, "reranker", None)
    if callable(getattr(inner, "rerank", None)):
        return inner
    raise TypeError(
        f"{type(model).__name__} cannot rerank: give an object with "
        "rerank(query, documents, top_n) such as msearch.rerank.reranker(...)"
    )


def rerank_hits(reranker: Any, query: str, hits: list[Hit], k: int) -> list[Hit]:
    """The best ``k`` of ``hits`` by the reranker's scores (which replace the search's)."""
    if not hits:
        return []
    results = reranker.rerank(query, [hit.content or "" for hit in hits], top_n=k)
    return [dataclasses.replace(hits[r.index], score=float(r.score)) for r in results][:k]


async def arerank_hits(reranker: Any, query: str, hits: list[Hit], k: int) -> list[Hit]:
    if not hits:
        return []
    documents = [hit.content or "" for hit in hits]
    if callable(getattr(reranker, "arerank", None)):
        results = await reranker.arerank(query, documents, top_n=k)
    else:
        results = await asyncio.to_thread(reranker.rerank, query, documents, top_n=k)
    return [dataclasses.replace(hits[r.index], score=float(r.score)) for r in results][:k]
