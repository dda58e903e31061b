"""LangChain ``VectorStore`` on msearch's Qdrant collection schema."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Sequence
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore
from qdrant_client import QdrantClient

from msearch.adapters.models import as_sparse_embedder
from msearch.adapters.text import (
    adopt_or_open_store,
    check_mode,
    check_options,
    check_query_model,
    prepare_texts,
    search,
    text_records,
    text_schema,
)
from msearch.datatypes import SparseVector
from msearch.errors import InvalidInputError, MSearchError
from msearch.protocols import SparseEmbedder
from msearch.store import TEXT, TEXT_SPARSE, Distance, Filter, Hit, Store

#: The keyword options the text searches take beside ``k`` and ``filter``.
_SEARCH = ("mode", "fusion", "score_threshold")
_BY_VECTOR = ("score_threshold",)
_DELETE = ("source", "doc_id", "filter")


class MSearchVectorStore(VectorStore):
    """A LangChain vector store in msearch's Qdrant schema, shared with LlamaIndex and the CLI.

    Embedded in memory (``location=":memory:"``), in a folder (``path=``), on a Qdrant server
    (``url=``, ``api_key=``, ``https=``, ``timeout=``, ``prefer_grpc=``), on an existing
    ``client``, or, with none of these, in msearch's default folder. The collection is created
    on the first add and records the embedding model (msearch's model name, or the class name
    of another ``Embeddings``) and its dimension; adding another model's vectors raises
    ``SchemaMismatchError``. ``Document.metadata`` comes back exactly as given.

    ``retrieval_mode`` ("dense", "sparse" or "hybrid") is what ``similarity_search`` uses;
    sparse and hybrid need ``sparse_embedding`` (msearch's, or a langchain-qdrant
    ``SparseEmbeddings``). Filters are dicts over metadata keys (``{"lang": "en"}``; a list
    matches any of its items) or a ``qdrant_client.models.Filter``.

    Example:
        .. code-block:: python

            from langchain_msearch import MSearchEmbeddings, MSearchVectorStore

            store = MSearchVectorStore(
                embedding=MSearchEmbeddings(model="sentence-transformers/all-MiniLM-L6-v2"),
                collection_name="notes",
                location=":memory:",
            )
            store.add_texts(["Qdrant stores vectors.", "Cats purr."], [{"n": 1}, {"n": 2}])
            docs = store.similarity_search("Where do vectors live?", k=1)
    """

    def __init__(
        self,
        embedding: Embeddings,
        collection_name: str = "msearch",
        location: str | None = None,
        path: str | os.PathLike[str] | None = None,
        url: str | None = None,
        api_key: str | None = None,
        client: QdrantClient | None = None,
        *,
        sparse_embedding: Any | None = None,
        retrieval_mode: str = "dense",
        distance: Distance | str = Distance.COSINE,
        vector_name: str = TEXT,
        sparse_vector_name: str = TEXT_SPARSE,
        store: Store | None = None,
        **store_options: Any,
    ) -> None:
        self.embedding = embedding
        self.sparse_embedding: SparseEmbedder | None = (
            None if sparse_embedding is None else as_sparse_embedder(sparse_embedding)
        )
        self.retrieval_mode = check_mode(retrieval_mode, self.sparse_embedding)
        self.distance = Distance(distance)
        self.vector_name = vector_name
        self.sparse_vector_name = sparse_vector_name
        self.store = adopt_or_open_store(
            store,
            collection_name,
            self.distance,
            vector_name,
            location=location,
            path=path,
            url=url,
            api_key=api_key,
            client=client,
            **store_options,
        )

    @property
    def embeddings(self) -> Embeddings:
        return self.embedding

    @property
    def collection_name(self) -> str:
        return self.store.collection

    def close(self) -> None:
        """Release the connection (an embedded folder unlocks when its last user closes)."""
        self.store.close()

    # -- writing -------------------------------------------------------------------
    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        check_options(kwargs, (), "add_texts")
        items, metadata_list, id_list = prepare_texts(texts, metadatas, ids)
        if not items:
            return []
        dense = self.embedding.embed_documents(items)
        sparse = (
            None
            if self.sparse_embedding is None
            else self.sparse_embedding.embed_documents_sparse(items)
        )
        return self.store.upsert(self._records(items, dense, sparse, metadata_list, id_list))

    async def aadd_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        check_options(kwargs, (), "add_texts")
        items, metadata_list, id_list = prepare_texts(texts, metadatas, ids)
        if not items:
            return []
        dense = await self.embedding.aembed_documents(items)
        sparse = (
            None
            if self.sparse_embedding is None
            else await self.sparse_embedding.aembed_documents_sparse(items)
        )
        records = self._records(items, dense, sparse, metadata_list, id_list)
        return await self.store.aupsert(records)

    def _records(
        self,
        texts: list[str],
        dense: list[list[float]],
        sparse: list[SparseVector] | None,
        metadatas: list[dict[str, Any]],
        ids: list[str],
    ) -> list[Any]:
        if dense:
            self.store.ensure_schema(
                text_schema(
                    len(dense[0]),
                    self.embedding,
                    self.sparse_embedding,
                    dense_name=self.vector_name,
                    sparse_name=self.sparse_vector_name,
                    distance=self.distance,
                )
            )
        return text_records(
            texts,
            dense,
            sparse,
            metadatas,
            ids,
            dense_name=self.vector_name,
            sparse_name=self.sparse_vector_name,
        )

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Delete by ids, ``source=``, ``doc_id=`` (msearch's fields) or ``filter=``; the points
        that match every condition given (the intersection)."""
        check_options(kwargs, _DELETE, "delete")
        if ids is None and not kwargs:
            raise InvalidInputError("delete needs ids (or source=/doc_id=/filter=)")
        self.store.delete(ids, **kwargs)
        return True

    async def adelete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        check_options(kwargs, _DELETE, "delete")
        if ids is None and not kwargs:
            raise InvalidInputError("delete needs ids (or source=/doc_id=/filter=)")
        await self.store.adelete(ids, **kwargs)
        return True

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        return [to_document(hit) for hit in self.store.get(list(ids))]

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        return [to_document(hit) for hit in await self.store.aget(list(ids))]

    # -- searching -----------------------------------------------------------------
    def search_hits(
        self,
        query: str,
        k: int = 4,
        filter: Filter | None = None,
        mode: str | None = None,
        fusion: str = "rrf",
        score_threshold: float | None = None,
    ) -> list[Hit]:
        """msearch's hits (id, score, content, metadata, payload) for a text query."""
        mode = check_mode(mode or self.retrieval_mode, self.sparse_embedding)
        dense = self.embedding.embed_query(query) if mode != "sparse" else None
        sparse = (
            self.sparse_embedding.embed_query_sparse(query)
            if mode != "dense" and self.sparse_embedding is not None
            else None
        )
        return self._run(mode, dense, sparse, k, filter, fusion, score_threshold)

    async def asearch_hits(
        self,
        query: str,
        k: int = 4,
        filter: Filter | None = None,
        mode: str | None = None,
        fusion: str = "rrf",
        score_threshold: float | None = None,
    ) -> list[Hit]:
        mode = check_mode(mode or self.retrieval_mode, self.sparse_embedding)
        dense = await self.embedding.aembed_query(query) if mode != "sparse" else None
        sparse = (
            await self.sparse_embedding.aembed_query_sparse(query)
            if mode != "dense" and self.sparse_embedding is not None
            else None
        )
        # the store's query blocks: it runs in a worker thread, never on the caller's loop
        return await asyncio.to_thread(
            self._run, mode, dense, sparse, k, filter, fusion, score_threshold
        )

    def _run(
        self,
        mode: str,
        dense: list[float] | None,
        sparse: SparseVector | None,
        k: int,
        filter: Filter | None,
        fusion: str,
        score_threshold: float | None = None,
    ) -> list[Hit]:
        if dense is not None and not self._ready(dense):
            return []
        return search(
            self.store,
            mode,
            dense=dense,
            sparse=sparse,
            k=k,
            filter=filter,
            dense_name=self.vector_name,
            sparse_name=self.sparse_vector_name,
            fusion=fusion,
            score_threshold=score_threshold,
        )

    def _nearest(
        self, embedding: list[float], k: int, filter: Filter | None, kwargs: dict[str, Any]
    ) -> list[Hit]:
        check_options(kwargs, _BY_VECTOR, "similarity_search_by_vector")
        if not self._ready(embedding):
            return []
        return self.store.query(self.vector_name, embedding, k, filter, **kwargs)

    def _ready(self, vector: list[float]) -> bool:
        return check_query_model(self.store, self.vector_name, len(vector), self.embedding)

    def similarity_search(
        self, query: str, k: int = 4, filter: Filter | None = None, **kwargs: Any
    ) -> list[Document]:
        return [doc for doc, _ in self.similarity_search_with_score(query, k, filter, **kwargs)]

    async def asimilarity_search(
        self, query: str, k: int = 4, filter: Filter | None = None, **kwargs: Any
    ) -> list[Document]:
        found = await self.asimilarity_search_with_score(query, k, filter, **kwargs)
        return [doc for doc, _ in found]

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: Filter | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Documents and scores; ``mode``, ``fusion`` and ``score_threshold`` as keywords."""
        check_options(kwargs, _SEARCH, "similarity_search")
        return _scored(self.search_hits(query, k, filter, **kwargs))

    async def asimilarity_search_with_score(
        self, query: str, k: int = 4, filter: Filter | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        check_options(kwargs, _SEARCH, "similarity_search")
        return _scored(await self.asearch_hits(query, k, filter, **kwargs))

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: Filter | None = None, **kwargs: Any
    ) -> list[Document]:
        return [
            doc
            for doc, _ in self.similarity_search_with_score_by_vector(
                embedding, k, filter, **kwargs
            )
        ]

    async def asimilarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: Filter | None = None, **kwargs: Any
    ) -> list[Document]:
        found = await asyncio.to_thread(
            self.similarity_search_with_score_by_vector, embedding, k, filter, **kwargs
        )
        return [doc for doc, _ in found]

    def similarity_search_with_score_by_vector(
        self, embedding: list[float], k: int = 4, filter: Filter | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Documents nearest to a query vector, with scores (``score_threshold`` optional)."""
        return _scored(self._nearest(embedding, k, filter, kwargs))

    def _select_relevance_score_fn(self) -> Any:
        # Qdrant returns cosine and dot as similarities already; distances need mapping.
        if self.distance in (Distance.COSINE, Distance.DOT):
            return lambda score: score
        return self._euclidean_relevance_score_fn

    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Filter | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        check_options(kwargs, (), "max_marginal_relevance_search")
        vector = self.embedding.embed_query(query)
        return self.max_marginal_relevance_search_by_vector(vector, k, fetch_k, lambda_mult, filter)

    async def amax_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Filter | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        check_options(kwargs, (), "max_marginal_relevance_search")
        vector = await self.embedding.aembed_query(query)
        return await self.amax_marginal_relevance_search_by_vector(
            vector, k, fetch_k, lambda_mult, filter
        )

    def max_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Filter | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        found = self.max_marginal_relevance_search_with_score_by_vector(
            embedding, k, fetch_k, lambda_mult, filter, **kwargs
        )
        return [doc for doc, _ in found]

    async def amax_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Filter | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        found = await asyncio.to_thread(
            self.max_marginal_relevance_search_with_score_by_vector,
            embedding,
            k,
            fetch_k,
            lambda_mult,
            filter,
            **kwargs,
        )
        return [doc for doc, _ in found]

    def max_marginal_relevance_search_with_score_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Filter | None = None,
        **kwargs: Any,
    ) -> list[tuple[Document, float]]:
        """Diverse documents (MMR) with their similarity to the query vector."""
        check_options(kwargs, (), "max_marginal_relevance_search")
        if not self._ready(embedding):
            return []
        hits = self.store.mmr_query(
            self.vector_name, embedding, k, filter, fetch_k=fetch_k, lambda_mult=lambda_mult
        )
        return _scored(hits)

    # -- construction --------------------------------------------------------------
    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> MSearchVectorStore:
        """A store (constructor arguments in ``kwargs``) holding ``texts``."""
        store = cls(embedding=embedding, **kwargs)
        store.add_texts(texts, metadatas, ids=ids)
        return store

    @classmethod
    def from_existing_collection(
        cls, embedding: Embeddings, collection_name: str = "msearch", **kwargs: Any
    ) -> MSearchVectorStore:
        """A store on a collection that must exist already (constructor arguments in
        ``kwargs``), checked against ``embedding``: another model's collection is refused."""
        store = cls(embedding=embedding, collection_name=collection_name, **kwargs)
        recorded = store.store.schema
        spec = recorded.vectors.get(store.vector_name) if recorded is not None else None
        if spec is None:
            store.close()
            raise InvalidInputError(
                f"collection {collection_name!r} does not exist there (or has no "
                f"{store.vector_name!r} vector); from_texts() or the constructor create one"
            )
        try:
            check_query_model(store.store, store.vector_name, spec.size, embedding)
        except MSearchError:
            store.close()
            raise
        return store

    @classmethod
    async def afrom_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> MSearchVectorStore:
        store = cls(embedding=embedding, **kwargs)
        await store.aadd_texts(texts, metadatas, ids=ids)
        return store


def to_document(hit: Hit) -> Document:
    """A LangChain Document with the caller's id, text and metadata."""
    return Document(id=hit.id, page_content=hit.content or "", metadata=dict(hit.metadata))


def _scored(hits: list[Hit]) -> list[tuple[Document, float]]:
    return [(to_document(hit), float(hit.score or 0.0)) for hit in hits]
