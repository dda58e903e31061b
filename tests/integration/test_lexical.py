"""BM25 lexical search with no model: the weights, Qdrant's IDF on both engines, the command's
default hybrid search, and the frameworks' sparse adapters."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from msearch.cli import main
from msearch.errors import InvalidInputError
from msearch.lexical import BM25, word_index, words
from msearch.sparse import sparse_embedder
from msearch.store import Record, Schema, Store
from msearch.store.schema import SparseSpec


def test_words_and_their_indexes_are_stable() -> None:
    assert words("Ｃats, CATS and café!") == ["cats", "cats", "and", "café"]
    assert word_index("cats") == word_index("cats") != word_index("cat")
    assert (
        word_index("cats")
        == int.from_bytes(__import__("hashlib").blake2b(b"cats", digest_size=4).digest(), "little")
        & 0x7FFFFFFF
    )


def test_document_weights_follow_bm25_and_queries_count_words() -> None:
    bm25 = sparse_embedder(BM25)
    (doc,) = bm25.embed_documents_sparse(["cats cats dogs"])
    k1, b, avg = 1.2, 0.75, 150.0
    norm = k1 * (1 - b + b * 3 / avg)
    weights = doc.as_dict()
    assert weights[word_index("cats")] == pytest.approx(2 * (k1 + 1) / (2 + norm))
    assert weights[word_index("dogs")] == pytest.approx(1 * (k1 + 1) / (1 + norm))
    assert bm25.embed_query_sparse("cats and cats").as_dict() == {
        word_index("cats"): 2.0,
        word_index("and"): 1.0,
    }
    assert bm25.embed_documents_sparse([""])[0].indices.size == 0
    with pytest.raises(Exception, match="BM25 needs"):
        sparse_embedder(BM25, b=2.0)


def test_batch_size_and_show_progress_are_honoured(capsys: pytest.CaptureFixture[str]) -> None:
    texts = [f"cats purr {n} times a day" for n in range(50)]
    quiet = sparse_embedder(BM25, show_progress=False).embed_documents_sparse(texts)
    assert capsys.readouterr().err == ""
    shown = sparse_embedder(BM25, batch_size=5, show_progress=True)
    vectors = shown.embed_documents_sparse(texts)
    bar = capsys.readouterr().err
    assert "BM25 weights" in bar and "/10 " in bar  # 50 texts, 5 a step
    for a, b in zip(vectors, quiet, strict=True):
        assert a.as_dict() == b.as_dict()
    with pytest.raises(InvalidInputError, match="batch_size"):
        sparse_embedder(BM25, batch_size=0)


@pytest.mark.parametrize("engine", ["qdrant-client", "edge"])
def test_qdrant_weighs_rare_words_up_on_both_engines(engine: str) -> None:
    bm25 = sparse_embedder(BM25)
    texts = [f"the cat sat on the mat number {n}" for n in range(20)] + ["the zebra sat"]
    schema = Schema(sparse={"lex": SparseSpec(model=BM25, idf=True)})
    with Store("bm25", schema, location=":memory:", engine=engine) as store:
        vectors = bm25.embed_documents_sparse(texts)
        store.upsert(
            [
                Record(id=str(i), content=t, vectors={"lex": v})
                for i, (t, v) in enumerate(zip(texts, vectors, strict=True))
            ]
        )
        hits = store.query("lex", bm25.embed_query_sparse("the zebra"), 3)
    assert hits[0].content == "the zebra sat"
    assert hits[0].score > 2 * hits[1].score  # "zebra" is rare, "the" is everywhere


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lexical") / "notes"
    root.mkdir()
    notes = {
        "errors.md": "When the build fails with error QX-7731, clear the cache and retry.",
        "cache.md": "Caches make builds faster; clear a cache when it is stale.",
        "cats.md": "Cats sleep twelve to sixteen hours a day.",
        "bread.md": "Bread rises when yeast ferments the dough.",
    }
    for name, text in notes.items():
        (root / name).write_text(text)
    return root


def _search(capsys: pytest.CaptureFixture[str], store: str, query: str, *argv: str) -> list:
    capsys.readouterr()
    code = main(["search", query, "--store", store, "--json", *argv])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)  # type: ignore[no-any-return]


def test_the_command_indexes_bm25_and_searches_hybrid_by_default(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "store")
    assert main(["index", str(folder), "--store", store, "--quiet"]) == 0
    with Store(path=store) as opened:
        assert opened.schema is not None
        spec = opened.schema.sparse["text_sparse"]
        assert (spec.model, spec.idf) == (BM25, True)
    query = "QX-7731"
    hybrid = _search(capsys, store, query)
    assert hybrid[0]["source"] == str(folder / "errors.md")
    assert _search(capsys, store, query, "--mode", "sparse")[0]["source"] == hybrid[0]["source"]
    dense = _search(capsys, store, query, "--mode", "dense")
    assert [hit["score"] for hit in dense] != [hit["score"] for hit in hybrid]


def test_a_store_without_lexical_vectors_says_how_to_get_them(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    store = str(tmp_path / "dense-only")
    monkeypatch.setenv("MSEARCH_SPARSE_MODEL", "none")
    assert main(["index", str(folder), "--store", store, "--quiet"]) == 0
    monkeypatch.delenv("MSEARCH_SPARSE_MODEL")
    assert len(_search(capsys, store, "cats")) > 0  # auto: dense here
    capsys.readouterr()
    assert main(["search", "cats", "--store", store, "--mode", "hybrid"]) == 2
    assert "index the folder again into a new store" in capsys.readouterr().err
    assert main(["index", str(folder), "--store", store, "--quiet"]) == 0  # no crash, a note
    assert "no lexical vectors" in capsys.readouterr().out


def test_the_frameworks_take_bm25_as_their_sparse_model(minilm: str) -> None:
    from langchain_msearch import MSearchEmbeddings, MSearchSparseEmbeddings, MSearchVectorStore
    from llamaindex_msearch import MSearchSparseEmbedding

    store = MSearchVectorStore(
        embedding=MSearchEmbeddings(model=minilm),
        location=":memory:",
        sparse_embedding=MSearchSparseEmbeddings(model=BM25),
        retrieval_mode="hybrid",
    )
    store.add_texts(["error QX-7731 means a stale cache", "cats sleep a lot", "bread rises"])
    assert store.store.schema is not None and store.store.schema.sparse["text_sparse"].idf
    assert store.similarity_search("QX-7731", k=1)[0].page_content.startswith("error QX-7731")
    llama = MSearchSparseEmbedding(BM25)
    query = llama.get_query_embedding("cats cats")
    assert query == {word_index("cats"): 2.0}
    assert np.isclose(
        sum(llama.get_text_embedding("cats").values()), 2.2 / (1 + 1.2 * (0.25 + 0.75 / 150))
    )


def test_the_stock_store_factories_give_bm25_its_idf(minilm: str) -> None:
    from langchain_msearch import MSearchEmbeddings, MSearchSparseEmbeddings
    from langchain_msearch.qdrant import qdrant_vectorstore
    from llamaindex_msearch import MSearchEmbedding, MSearchSparseEmbedding
    from llamaindex_msearch.qdrant import qdrant_vector_store

    texts = ["error QX-7731 means a stale cache"] + [f"cats sleep, note {n}" for n in range(8)]
    chain = qdrant_vectorstore(
        MSearchEmbeddings(model=minilm),
        location=":memory:",
        sparse_embedding=MSearchSparseEmbeddings(model=BM25),
    )
    chain.add_texts(texts)
    params = chain.client.get_collection("langchain").config.params.sparse_vectors
    assert params["langchain-sparse"].modifier == "idf"
    assert any(doc.page_content == texts[0] for doc in chain.similarity_search("QX-7731", k=2))

    from llama_index.core import StorageContext, VectorStoreIndex
    from llama_index.core.schema import TextNode

    llama = qdrant_vector_store(
        "li", location=":memory:", sparse_embedding=MSearchSparseEmbedding(BM25)
    )
    VectorStoreIndex(
        [TextNode(text=text) for text in texts],
        storage_context=StorageContext.from_defaults(vector_store=llama),
        embed_model=MSearchEmbedding(model=minilm),
    )
    sparse = llama.client.get_collection("li").config.params.sparse_vectors
    assert sparse and all(spec.modifier == "idf" for spec in sparse.values())
    # a dense-only or learned sparse model keeps the stock default (no IDF)
    plain = qdrant_vectorstore(MSearchEmbeddings(model=minilm), "plain", location=":memory:")
    plain.add_texts(texts[:1])
    assert plain.client.get_collection("plain").config.params.sparse_vectors is None
