"""LlamaIndex vector store on msearch's Qdrant collection schema (shared with LangChain)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import warnings
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from llama_index.core.schema import (
    BaseNode,
    ImageNode,
    MetadataMode,
    NodeRelationship,
    RelatedNodeInfo,
    TextNode,
)
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)
from pydantic import PrivateAttr, ValidationError
from qdrant_client import QdrantClient, models

from msearch.adapters.models import as_sparse_embedder
from msearch.adapters.text import (
    adopt_or_open_store,
    check_query_model,
    prepare_texts,
    search,
    text_records,
    text_schema,
)
from msearch.errors import InvalidInputError
from msearch.protocols import SparseEmbedder
from msearch.store import (
    IMAGE,
    METADATA,
    TEXT,
    TEXT_SPARSE,
    Distance,
    Hit,
    Record,
    Store,
    merge_filters,
    own_fields,
)

_MODES = {
    VectorStoreQueryMode.DEFAULT: "dense",
    VectorStoreQueryMode.SPARSE: "sparse",
    VectorStoreQueryMode.HYBRID: "hybrid",
}


class MSearchVectorStore(BasePydanticVectorStore):
    """A LlamaIndex vector store in msearch's Qdrant schema, shared with LangChain and the CLI.

    Connect as in LangChain: ``location=":memory:"``, ``path=``, ``url=`` (+ ``api_key=``),
    an existing ``client``, or nothing for msearch's default folder. Give ``embed_model`` so
    the collection records which model built its vectors (without it, ``Settings.embed_model``
    is recorded when set; with neither, only the dimension, and a warning says so), and
    ``sparse_embedding`` for sparse and hybrid queries (``VectorStoreQueryMode.SPARSE`` /
    ``HYBRID``; ``VectorStoreQuery.alpha`` weighs dense against sparse). Node ids, text and
    metadata come back as added; ``ref_doc_id`` is stored as msearch's ``doc_id``.
    ``ImageNode``s (and every node of a store on the ``image`` vector, as
    ``MultiModalVectorStoreIndex``'s ``image_store``) are stored as images, ``source`` = their
    ``image_path`` (or ``image_url``), and come back as ``ImageNode``s, like the images
    ``MediaCollection`` and the CLI index.

    Example:
        .. code-block:: python

            from llama_index.core import Document, VectorStoreIndex
            from llamaindex_msearch import MSearchEmbedding, MSearchVectorStore

            embed_model = MSearchEmbedding(model="sentence-transformers/all-MiniLM-L6-v2")
            store = MSearchVectorStore("notes", location=":memory:", embed_model=embed_model)
            index = VectorStoreIndex.from_vector_store(store, embed_model=embed_model)
            index.insert(Document(text="Qdrant stores vectors."))
            nodes = index.as_retriever(similarity_top_k=1).retrieve("Where do vectors live?")
    """

    stores_text: bool = True
    flat_metadata: bool = False
    collection_name: str
    vector_name: str = TEXT
    sparse_vector_name: str = TEXT_SPARSE
    distance: str = "cosine"
    # where the data lives, so that to_dict()/from_dict() reopen the same collection
    location: str | None = None
    path: str | None = None
    url: str | None = None

    _store: Store = PrivateAttr()
    _portable: bool = PrivateAttr(default=True)
    _embed_model: Any = PrivateAttr(default=None)
    _sparse: SparseEmbedder | None = PrivateAttr(default=None)

    def __init__(
        self,
        collection_name: str = "msearch",
        location: str | None = None,
        path: str | os.PathLike[str] | None = None,
        url: str | None = None,
        api_key: str | None = None,
        client: QdrantClient | None = None,
        *,
        embed_model: Any | None = None,
        sparse_embedding: Any | None = None,
        distance: Distance | str = Distance.COSINE,
        vector_name: str = TEXT,
        sparse_vector_name: str = TEXT_SPARSE,
        store: Store | None = None,
        stores_text: bool = True,
        is_embedding_query: bool = True,
        flat_metadata: bool = False,
        **store_options: Any,
    ) -> None:
        # to_dict() writes LlamaIndex's class-level flags too; they describe this class
        given = {
            "stores_text": stores_text,
            "is_embedding_query": is_embedding_query,
            "flat_metadata": flat_metadata,
        }
        fields = type(self).model_fields
        changed = sorted(name for name, value in given.items() if value != fields[name].default)
        if changed:
            raise InvalidInputError(f"MSearchVectorStore cannot change {changed}")
        super().__init__(  # type: ignore[call-arg]  # pydantic fields declared above
            collection_name=collection_name,
            vector_name=vector_name,
            sparse_vector_name=sparse_vector_name,
            distance=str(Distance(distance)),
            location=location,
            path=None if path is None else os.fspath(path),
            url=url,
        )
        self._portable = store is None and client is None and not store_options
        self._store = adopt_or_open_store(
            store,
            collection_name,
            distance,
            vector_name,
            location=location,
            path=path,
            url=url,
            api_key=api_key,
            client=client,
            **store_options,
        )
        self._embed_model = embed_model
        self._sparse = None if sparse_embedding is None else as_sparse_embedder(sparse_embedding)

    @classmethod
    def class_name(cls) -> str:
        return "MSearchVectorStore"

    def to_dict(self, **kwargs: Any) -> dict[str, Any]:
        """The settings ``from_dict`` reopens the same collection with (never the api key:
        pass it again to ``from_dict``, or set it in the environment of your own code)."""
        if not self._portable:
            raise InvalidInputError(
                "this MSearchVectorStore was built on a store=/client= object or with extra "
                "store options, which to_dict() cannot write down; build it with location=, "
                "path= or url= to serialize it"
            )
        return super().to_dict(**kwargs)

    @property
    def client(self) -> Any:
        return self._store.client

    @property
    def store(self) -> Store:
        """msearch's store underneath (the same object the LangChain store can share)."""
        return self._store

    @property
    def embed_model(self) -> Any:
        return self._embed_model

    @property
    def sparse_embedding(self) -> SparseEmbedder | None:
        return self._sparse

    def close(self) -> None:
        self._store.close()

    # -- writing -------------------------------------------------------------------
    def add(self, nodes: Sequence[BaseNode], **add_kwargs: Any) -> list[str]:
        texts, sparse_texts = _texts(nodes)
        sparse = None if self._sparse is None else self._sparse.embed_documents_sparse(sparse_texts)
        return self._store.upsert(self._records(nodes, texts, sparse))

    async def async_add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        texts, sparse_texts = _texts(nodes)
        sparse = (
            None
            if self._sparse is None
            else await self._sparse.aembed_documents_sparse(sparse_texts)
        )
        return await self._store.aupsert(self._records(nodes, texts, sparse))

    def _records(self, nodes: Sequence[BaseNode], texts: list[str], sparse: Any) -> list[Record]:
        if not nodes:
            return []
        dense = []
        for node in nodes:
            if node.embedding is None:
                raise InvalidInputError(
                    f"node {node.node_id!r} has no embedding: embed nodes before adding them "
                    "(VectorStoreIndex does this with its embed_model)"
                )
            dense.append(node.embedding)
        self._store.ensure_schema(
            text_schema(
                len(dense[0]),
                self._writing_model(),
                self._sparse,
                dense_name=self.vector_name,
                sparse_name=self.sparse_vector_name,
                distance=self.distance,
            )
        )
        _, metadatas, ids = prepare_texts(
            texts, [node.metadata for node in nodes], [node.node_id for node in nodes]
        )
        records = text_records(
            texts,
            dense,
            sparse,
            metadatas,
            ids,
            doc_ids=[node.ref_doc_id for node in nodes],
            dense_name=self.vector_name,
            sparse_name=self.sparse_vector_name,
        )
        return [self._as_image(node, record) for node, record in zip(nodes, records, strict=True)]

    def _writing_model(self) -> Any:
        """The model recorded at the first write: ``embed_model``, else LlamaIndex's global
        ``Settings.embed_model`` when one was set (what ``VectorStoreIndex`` embeds with when
        it is given none); with neither, the collection records only the vector size, and a
        warning says so."""
        if self._embed_model is not None or self._store.schema is not None:
            return self._embed_model
        from llama_index.core import Settings

        chosen = getattr(Settings, "_embed_model", None)  # never builds LlamaIndex's default
        if chosen is None:
            warnings.warn(
                f"MSearchVectorStore({self.collection_name!r}) was given no embed_model and "
                "Settings.embed_model is unset: the collection records no model, so vectors of "
                "another model of the same size would not be refused. Pass embed_model=...",
                UserWarning,
                stacklevel=4,
            )
        return chosen

    def _as_image(self, node: BaseNode, record: Record) -> Record:
        """The record of an image node: modality ``image``, source its path or URL."""
        if not isinstance(node, ImageNode) and self.vector_name != IMAGE:
            return record
        source = getattr(node, "image_path", None) or getattr(node, "image_url", None)
        return dataclasses.replace(record, modality=IMAGE, source=source or record.source)

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        self._store.delete(doc_id=ref_doc_id)

    async def adelete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        await self._store.adelete(doc_id=ref_doc_id)

    def delete_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
        **delete_kwargs: Any,
    ) -> None:
        if node_ids is not None:
            self._store.delete(node_ids, filter=to_qdrant_filter(filters))
        elif filters is not None:
            self._store.delete(filter=to_qdrant_filter(filters))

    def get_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None
    ) -> list[BaseNode]:
        condition = to_qdrant_filter(filters)
        if node_ids is not None:
            if condition is not None:
                condition = merge_filters(condition, own_fields(id=list(node_ids)))
                return [to_node(hit) for hit in self._store.scan(condition)]
            return [to_node(hit) for hit in self._store.get(node_ids)]
        return [to_node(hit) for hit in self._store.scan(condition)]

    def clear(self) -> None:
        self._store.drop()

    # -- querying ------------------------------------------------------------------
    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        mode, k, condition = self._plan(query)
        sparse = None
        if mode in ("sparse", "hybrid") and self._sparse is not None:
            sparse = self._sparse.embed_query_sparse(query.query_str or "")
        return self._run(query, mode, k, condition, sparse)

    async def aquery(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        mode, k, condition = self._plan(query)
        sparse = None
        if mode in ("sparse", "hybrid") and self._sparse is not None:
            sparse = await self._sparse.aembed_query_sparse(query.query_str or "")
        # the store's query blocks: it runs in a worker thread, never on the caller's loop
        return await asyncio.to_thread(self._run, query, mode, k, condition, sparse)

    def _plan(self, query: VectorStoreQuery) -> tuple[str, int, models.Filter | None]:
        if query.mode == VectorStoreQueryMode.MMR:
            mode = "mmr"
        elif query.mode in _MODES:
            mode = _MODES[query.mode]
        else:
            raise InvalidInputError(f"query mode {query.mode!r} is not supported by msearch")
        if mode in ("sparse", "hybrid"):
            if self._sparse is None:
                raise InvalidInputError(f"{mode} queries need sparse_embedding=...")
            if not query.query_str:
                raise InvalidInputError(f"{mode} queries need the query text (query_str)")
        k = query.similarity_top_k
        if mode == "sparse" and query.sparse_top_k:
            k = query.sparse_top_k
        if mode == "hybrid" and query.hybrid_top_k:
            k = query.hybrid_top_k
        condition = to_qdrant_filter(query.filters)
        if query.doc_ids:
            condition = merge_filters(condition, own_fields(doc_id=list(query.doc_ids)))
        if query.node_ids:
            condition = merge_filters(condition, own_fields(id=list(query.node_ids)))
        return mode, k, condition

    def _run(
        self, query: VectorStoreQuery, mode: str, k: int, condition: Any, sparse: Any
    ) -> VectorStoreQueryResult:
        dense = query.query_embedding
        if mode != "sparse":
            if dense is None:
                raise InvalidInputError(f"a {mode} query needs query_embedding")
            if not check_query_model(self._store, self.vector_name, len(dense), self._embed_model):
                return VectorStoreQueryResult(nodes=[], similarities=[], ids=[])
        elif self._store.schema is None:
            return VectorStoreQueryResult(nodes=[], similarities=[], ids=[])
        if mode == "mmr":
            lambda_mult = 0.5 if query.mmr_threshold is None else query.mmr_threshold
            hits = self._store.mmr_query(
                self.vector_name, dense, k, condition, lambda_mult=lambda_mult
            )
        else:
            hits = search(
                self._store,
                mode,
                dense=dense,
                sparse=sparse,
                k=k,
                filter=condition,
                dense_name=self.vector_name,
                sparse_name=self.sparse_vector_name,
                alpha=query.alpha if mode == "hybrid" else None,
            )
        return VectorStoreQueryResult(
            nodes=[to_node(hit) for hit in hits],
            similarities=[float(hit.score or 0.0) for hit in hits],
            ids=[hit.id for hit in hits],
        )


def to_node(hit: Hit) -> TextNode:
    """A TextNode with the id, text and metadata it was added with; an ImageNode for an image,
    with its ``image_path`` (or ``image_url``) from msearch's ``source``."""
    relationships = {}
    if hit.doc_id:
        relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=hit.doc_id)
    if hit.modality == IMAGE:
        source = hit.source or None
        remote = source is not None and source.startswith(("http://", "https://"))
        return ImageNode(
            id_=hit.id,
            text=hit.content or "",
            metadata=dict(hit.metadata),
            relationships=relationships,
            image_path=None if remote else source,
            image_url=source if remote else None,
        )
    return TextNode(
        id_=hit.id,
        text=hit.content or "",
        metadata=dict(hit.metadata),
        relationships=relationships,
    )


def _texts(nodes: Sequence[BaseNode]) -> tuple[list[str], list[str]]:
    """Stored text (content alone) and the text the sparse model sees (as embedded)."""
    stored = [node.get_content(metadata_mode=MetadataMode.NONE) for node in nodes]
    embedded = [node.get_content(metadata_mode=MetadataMode.EMBED) for node in nodes]
    return stored, embedded


def to_qdrant_filter(filters: MetadataFilters | None) -> models.Filter | None:
    """LlamaIndex metadata filters as a Qdrant filter over msearch's ``metadata`` payload.

    Whatever LlamaIndex accepts is either matched as the stock Qdrant store does (a float
    equality is a one-point range, ``None`` matches a null, dates in ISO form compare as dates)
    or refused with an InvalidInputError naming the filter; empty nested filters match all.
    """
    if filters is None:
        return None
    conditions: list[Any] = []
    for item in filters.filters:
        if isinstance(item, MetadataFilters):
            nested = to_qdrant_filter(item)
            if nested is not None:
                conditions.append(nested)
        else:
            try:
                conditions.append(_condition(item))
            except ValidationError as err:
                raise InvalidInputError(
                    f"filter {item.key!r} {item.operator.value} {item.value!r} cannot be "
                    f"matched: {err.errors()[0].get('msg', err)}"
                ) from None
    if not conditions:
        return None
    if filters.condition == FilterCondition.OR:
        return models.Filter(should=conditions)
    if filters.condition == FilterCondition.NOT:
        return models.Filter(must_not=conditions)
    return models.Filter(must=conditions)


_RANGES = {
    FilterOperator.GT: "gt",
    FilterOperator.GTE: "gte",
    FilterOperator.LT: "lt",
    FilterOperator.LTE: "lte",
}


def _equal(key: str, value: Any) -> Any:
    """The condition ``key == value`` for any scalar LlamaIndex allows."""
    if value is None:
        return models.IsNullCondition(is_null=models.PayloadField(key=key))
    if isinstance(value, float):
        return models.FieldCondition(key=key, range=models.Range(gte=value, lte=value))
    return models.FieldCondition(key=key, match=models.MatchValue(value=value))


def _any_of(key: str, values: Any) -> Any:
    items = list(values)
    strings = all(isinstance(v, str) for v in items)
    ints = all(isinstance(v, int) and not isinstance(v, bool) for v in items)
    if items and (strings or ints):  # what Qdrant's MatchAny takes
        return models.FieldCondition(key=key, match=models.MatchAny(any=items))
    return models.Filter(should=[_equal(key, v) for v in items])


def _condition(item: MetadataFilter) -> Any:
    key, op = f"{METADATA}.{item.key}", item.operator
    value: Any = item.value
    if op == FilterOperator.EQ:
        return _equal(key, value)
    if op == FilterOperator.NE:
        return models.Filter(must_not=[_equal(key, value)])
    if op in _RANGES:
        if isinstance(value, str):
            return models.FieldCondition(
                key=key, range=models.DatetimeRange(**{_RANGES[op]: _iso_datetime(item)})
            )
        return models.FieldCondition(key=key, range=models.Range(**{_RANGES[op]: value}))
    if op in (FilterOperator.IN, FilterOperator.ANY):
        return _any_of(key, value)
    if op == FilterOperator.NIN:
        return models.Filter(must_not=[_any_of(key, value)])
    if op == FilterOperator.ALL:
        return models.Filter(must=[_equal(key, v) for v in value])
    if op == FilterOperator.CONTAINS:
        return _equal(key, value)
    if op == FilterOperator.TEXT_MATCH:
        return models.FieldCondition(key=key, match=models.MatchText(text=value))
    if op == FilterOperator.IS_EMPTY:
        return models.IsEmptyCondition(is_empty=models.PayloadField(key=key))
    raise InvalidInputError(f"filter operator {op!r} is not supported by msearch's store")


def _iso_datetime(item: MetadataFilter) -> datetime:
    """A string range bound, which Qdrant compares only as a date and time."""
    try:
        return datetime.fromisoformat(str(item.value))
    except ValueError:
        raise InvalidInputError(
            f"filter {item.key!r} {item.operator.value} {item.value!r}: Qdrant compares strings "
            "only as ISO dates and times; give a number or an ISO date"
        ) from None
