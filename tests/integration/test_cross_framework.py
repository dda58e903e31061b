"""One collection, both frameworks: what LangChain writes LlamaIndex reads, and the reverse,
with the same ids and metadata (real MiniLM on both sides, one embedded Qdrant client)."""

from __future__ import annotations

import pytest
from llama_index.core import Document as LlamaDocument
from llama_index.core import VectorStoreIndex
from qdrant_client import QdrantClient

from langchain_msearch import MSearchEmbeddings, MSearchVectorStore
from llamaindex_msearch import MSearchEmbedding, MSearchRetriever
from llamaindex_msearch import MSearchVectorStore as LlamaStore

TEXTS = ["Qdrant is a vector database.", "Cats sleep all day.", "Basel lies on the Rhine."]
METADATAS = [{"kind": "tech", "tags": ["db"]}, {"kind": "pets"}, {"kind": "travel", "n": 3}]


@pytest.fixture(scope="module")
def models(minilm: str) -> tuple[MSearchEmbeddings, MSearchEmbedding]:
    return MSearchEmbeddings(model=minilm), MSearchEmbedding(model=minilm)


def test_langchain_writes_llamaindex_reads(
    models: tuple[MSearchEmbeddings, MSearchEmbedding],
) -> None:
    client = QdrantClient(":memory:")
    lc = MSearchVectorStore(models[0], "shared", client=client)
    ids = lc.add_texts(TEXTS, METADATAS, ids=["id-db", "id-cats", "Basel/Rhine #3"])
    li = LlamaStore("shared", client=client, embed_model=models[1])
    nodes = MSearchRetriever(li, k=3).retrieve("Which river flows past Basel?")
    top = nodes[0].node
    assert top.node_id == "Basel/Rhine #3" and top.get_content() == TEXTS[2]
    assert {k: v for k, v in top.metadata.items() if k not in ("modality", "score")} == METADATAS[2]
    assert top.metadata["score"] == pytest.approx(nodes[0].score)  # msearch.hits: score shown
    assert {n.node.node_id for n in nodes} == set(ids)
    by_id = {n.node_id: n.metadata for n in li.get_nodes(ids)}
    assert by_id == dict(zip(ids, METADATAS, strict=True))


def test_llamaindex_writes_langchain_reads(
    models: tuple[MSearchEmbeddings, MSearchEmbedding],
) -> None:
    client = QdrantClient(":memory:")
    li = LlamaStore("shared", client=client, embed_model=models[1])
    index = VectorStoreIndex.from_vector_store(li, embed_model=models[1])
    for n, (text, metadata) in enumerate(zip(TEXTS, METADATAS, strict=True)):
        index.insert(LlamaDocument(text=text, id_=f"doc-{n}", metadata=metadata))
    written = {n.node_id: n.metadata for n in li.get_nodes()}
    lc = MSearchVectorStore(models[0], "shared", client=client)
    docs = lc.similarity_search("a database for vectors", k=3)
    assert docs[0].page_content == TEXTS[0] and docs[0].metadata == METADATAS[0]
    assert {d.id: d.metadata for d in docs} == written
    assert {d.id for d in lc.get_by_ids(list(written))} == set(written)
    lc.delete(doc_id="doc-1")  # LlamaIndex's ref_doc_id is msearch's doc_id
    assert li.store.count() == 2
