"""Hybrid (dense + sparse) search through msearch's BGE-M3 in the stock Qdrant stores of
LangChain and LlamaIndex, on embedded Qdrant (``:memory:``)."""

from __future__ import annotations

import pytest

from tests.support.tiny_bge_m3 import tiny_bge_m3_path

TEXTS = [
    "Paris is the capital city of France.",
    "Cats purr when they are happy.",
    "Qdrant stores dense and sparse vectors for hybrid search.",
    "Python code runs fast when the inner loop is vectorized.",
]


@pytest.fixture(scope="module")
def m3() -> str:
    return tiny_bge_m3_path()


def test_langchain_qdrant_hybrid_mode_indexes_and_queries(m3: str) -> None:
    from langchain_qdrant import QdrantVectorStore, RetrievalMode

    from langchain_msearch import MSearchEmbeddings, MSearchSparseEmbeddings

    dense = MSearchEmbeddings(m3, backend="transformers")
    sparse = MSearchSparseEmbeddings(m3, backend="transformers")
    passes = [0]
    encoder = dense.embedder.loaded.model["encoder"]  # type: ignore[attr-defined]
    hook = encoder.register_forward_hook(lambda *_: passes.__setitem__(0, passes[0] + 1))
    store = QdrantVectorStore.from_texts(
        TEXTS,
        embedding=dense,
        sparse_embedding=sparse,
        retrieval_mode=RetrievalMode.HYBRID,
        location=":memory:",
        collection_name="hybrid",
        metadatas=[{"n": i} for i in range(len(TEXTS))],
    )
    hook.remove()
    # the store embedded dense, then sparse, one batch of texts (plus a probe text to size
    # the collection): the shared BGE-M3 ran once per distinct batch, not once per kind
    assert passes[0] == 2
    # an exact copy of a stored text matches it on both vectors, so fusion ranks it first
    hits = store.similarity_search(TEXTS[2], k=2)
    assert hits[0].page_content == TEXTS[2] and hits[0].metadata["n"] == 2
    sparse_only = QdrantVectorStore(
        client=store.client,
        collection_name="hybrid",
        sparse_embedding=sparse,
        retrieval_mode=RetrievalMode.SPARSE,
    )
    assert sparse_only.similarity_search(TEXTS[1], k=1)[0].page_content == TEXTS[1]


async def test_langchain_qdrant_hybrid_async(m3: str) -> None:
    from langchain_qdrant import QdrantVectorStore, RetrievalMode

    from langchain_msearch import MSearchEmbeddings, MSearchSparseEmbeddings

    sparse = MSearchSparseEmbeddings(m3, backend="transformers")
    vectors = await sparse.aembed_documents(TEXTS)
    assert [v.indices for v in vectors] == [v.indices for v in sparse.embed_documents(TEXTS)]
    store = QdrantVectorStore.from_texts(
        TEXTS,
        embedding=MSearchEmbeddings(m3, backend="transformers"),
        sparse_embedding=sparse,
        retrieval_mode=RetrievalMode.HYBRID,
        location=":memory:",
        collection_name="hybrid-async",
    )
    hits = await store.asimilarity_search(TEXTS[0], k=1)
    assert hits[0].page_content == TEXTS[0]


def test_llamaindex_qdrant_enable_hybrid_indexes_and_queries(m3: str) -> None:
    from llama_index.core import Document, StorageContext, VectorStoreIndex
    from llama_index.vector_stores.qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient

    from llamaindex_msearch import MSearchEmbedding, MSearchSparseEmbedding

    sparse = MSearchSparseEmbedding(m3, backend="transformers")
    store = QdrantVectorStore(
        collection_name="hybrid",
        client=QdrantClient(location=":memory:"),
        enable_hybrid=True,
        sparse_doc_fn=sparse.sparse_doc_fn,
        sparse_query_fn=sparse.sparse_query_fn,
    )
    index = VectorStoreIndex.from_documents(
        [
            # metadata kept out of the embedded text, so a stored text and the same query
            # get the same vectors and the top hit is certain even on a random model
            Document(text=text, metadata={"n": i}, excluded_embed_metadata_keys=["n"])
            for i, text in enumerate(TEXTS)
        ],
        storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=MSearchEmbedding(m3, backend="transformers"),
    )
    retriever = index.as_retriever(
        vector_store_query_mode="hybrid", similarity_top_k=2, sparse_top_k=2
    )
    hits = retriever.retrieve(TEXTS[3])
    assert hits[0].node.get_content() == TEXTS[3] and hits[0].node.metadata["n"] == 3


def test_llamaindex_sparse_embedding_api(m3: str) -> None:
    from llamaindex_msearch import MSearchSparseEmbedding, sparse_encoders

    sparse = MSearchSparseEmbedding(m3, backend="transformers")
    query = sparse.get_query_embedding("capital of France")
    assert query and all(isinstance(k, int) and v > 0 for k, v in query.items())
    documents = sparse.get_text_embedding_batch(TEXTS)
    doc_fn, query_fn = sparse_encoders(m3)
    indices, values = doc_fn(TEXTS)
    assert [dict(zip(i, v, strict=True)) for i, v in zip(indices, values, strict=True)] == documents
    assert dict(zip(*(part[0] for part in query_fn(["capital of France"])), strict=True)) == query


async def test_async_sparse_adapters_match_sync(m3: str) -> None:
    from langchain_msearch import MSearchSparseEmbeddings
    from llamaindex_msearch import MSearchSparseEmbedding

    llama = MSearchSparseEmbedding(m3, backend="transformers")
    assert await llama.aget_query_embedding("cats") == llama.get_query_embedding("cats")
    assert await llama.aget_text_embedding_batch(TEXTS) == llama.get_text_embedding_batch(TEXTS)
    chain = MSearchSparseEmbeddings(m3, backend="transformers")
    assert await chain.aembed_query("cats") == chain.embed_query("cats")
    assert await chain.aembed_documents([]) == []
