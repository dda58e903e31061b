"""Results by file: the command's default and the retrievers' ``group_by="source"``.

One long file about cats (many chunks, all close to the query) beside short files: by chunk,
the long file fills the top; by file, each file shows once, with its best chunk and how many
of its chunks matched. Real MiniLM, embedded Qdrant.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from msearch.cli import main
from msearch.errors import InvalidInputError
from msearch.hits import CHUNKS_PER_FILE, by_source, fetch_size
from msearch.store import Hit

QUERY = "How long do cats sleep?"
LONG = " ".join(
    f"Cats sleep for many hours, part {n}: a cat naps in the sun and dozes at night."
    for n in range(60)
)
SHORT = {
    "kittens.txt": "Kittens sleep even more than adult cats, up to twenty hours a day.",
    "dogs.txt": "Dogs sleep about twelve hours a day and love long walks.",
    "bread.txt": "Bread rises when yeast ferments the sugars in the dough.",
    "solar.txt": "Solar panels turn sunlight into electricity on the roof.",
}


def _hit(point: str, source: str | None, score: float) -> Hit:
    payload = {"source": source} if source else {}
    return Hit(id=point, score=score, content=point, metadata={}, payload=payload, point_id=point)


def test_by_source_keeps_each_files_best_hit_in_rank_order() -> None:
    hits = [_hit("a1", "a", 0.9), _hit("a2", "a", 0.8), _hit("b1", "b", 0.7), _hit("x", None, 0.6)]
    hits += [_hit("a3", "a", 0.5), _hit("y", None, 0.4)]
    assert [(hit.id, n) for hit, n in by_source(hits, 10)] == [
        ("a1", 3),
        ("b1", 1),
        ("x", 1),
        ("y", 1),
    ]
    assert [hit.id for hit, _ in by_source(hits, 2)] == ["a1", "b1"]
    assert fetch_size(5, None, False, "source") == CHUNKS_PER_FILE * 5
    assert fetch_size(5, 17, False, "source") == 17
    assert fetch_size(5, None, False, None) == 5


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("by-file") / "notes"
    root.mkdir()
    (root / "cats.txt").write_text(LONG)
    for name, text in SHORT.items():
        (root / name).write_text(text)
    return root


@pytest.fixture(scope="module")
def store_folder(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    store = str(tmp_path_factory.mktemp("by-file-store") / "store")
    assert main(["index", str(folder), "--store", store, "--quiet"]) == 0
    return store


def _search(capsys: pytest.CaptureFixture[str], store: str, *argv: str) -> list[dict[str, Any]]:
    capsys.readouterr()
    assert main(["search", QUERY, "--store", store, "--json", *argv]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_the_command_returns_files_by_default(
    store_folder: str, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chunks = _search(capsys, store_folder, "--by", "chunk", "-k", "4")
    assert [hit["source"] for hit in chunks].count(str(folder / "cats.txt")) >= 2
    assert all(hit["matches"] is None for hit in chunks)

    files = _search(capsys, store_folder, "-k", "4")
    sources = [hit["source"] for hit in files]
    assert len(files) == 4 and len(set(sources)) == 4
    assert sources[0] == chunks[0]["source"] and files[0]["score"] == chunks[0]["score"]
    cats = files[sources.index(str(folder / "cats.txt"))]
    assert cats["matches"] > 1  # its other chunks matched too
    assert all(hit["matches"] == 1 for hit in files if hit is not cats)

    capsys.readouterr()
    assert main(["search", QUERY, "--store", store_folder, "-k", "4"]) == 0
    assert "more matching" in capsys.readouterr().out


def test_the_command_refuses_an_unknown_grouping(
    store_folder: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["search", QUERY, "--store", store_folder, "--by", "folder"])
    assert "--by" in capsys.readouterr().err


@pytest.fixture(scope="module")
def texts() -> tuple[list[str], list[dict[str, Any]]]:
    pieces = [LONG[i : i + 300] for i in range(0, 3000, 300)]
    texts = pieces + list(SHORT.values())
    metadatas = [{"source": "cats.txt"} for _ in pieces] + [{"source": n} for n in SHORT]
    return texts, metadatas


def test_langchain_retriever_groups_by_source(
    minilm: str, texts: tuple[list[str], list[dict[str, Any]]], tiny_cross_encoder: str
) -> None:
    from langchain_msearch import MSearchEmbeddings, MSearchRetriever, MSearchVectorStore
    from msearch.rerank import reranker

    store = MSearchVectorStore(embedding=MSearchEmbeddings(model=minilm), location=":memory:")
    store.add_texts(*texts)
    chunks = MSearchRetriever(vectorstore=store, k=3).invoke(QUERY)
    assert [doc.metadata["source"] for doc in chunks].count("cats.txt") >= 2
    files = MSearchRetriever(vectorstore=store, k=3, group_by="source").invoke(QUERY)
    assert len({doc.metadata["source"] for doc in files}) == 3
    assert files[0].page_content == chunks[0].page_content
    cats = next(doc for doc in files if doc.metadata["source"] == "cats.txt")
    assert cats.metadata["matches"] > 1
    per_call = MSearchRetriever(vectorstore=store, k=3).invoke(QUERY, group_by="source")
    assert [doc.id for doc in per_call] == [doc.id for doc in files]

    ranker = reranker(tiny_cross_encoder)
    reranked = MSearchRetriever(
        vectorstore=store, k=3, group_by="source", reranker=ranker
    ).invoke(QUERY)
    assert len({doc.metadata["source"] for doc in reranked}) == 3
    assert all("relevance_score" in doc.metadata for doc in reranked)
    scores = [doc.metadata["relevance_score"] for doc in reranked]
    assert scores == sorted(scores, reverse=True)

    with pytest.raises(InvalidInputError, match="group_by"):
        MSearchRetriever(vectorstore=store, group_by="folder")
    with pytest.raises(InvalidInputError, match="group_by"):
        MSearchRetriever(vectorstore=store).invoke(QUERY, group_by="folder")


async def test_llamaindex_retriever_groups_by_source(
    minilm: str, texts: tuple[list[str], list[dict[str, Any]]]
) -> None:
    from llama_index.core.schema import TextNode

    from llamaindex_msearch import MSearchEmbedding, MSearchRetriever, MSearchVectorStore

    embed_model = MSearchEmbedding(model=minilm)
    store = MSearchVectorStore("files", location=":memory:", embed_model=embed_model)
    nodes = [
        TextNode(text=text, metadata=meta, embedding=embed_model.get_text_embedding(text))
        for text, meta in zip(*texts, strict=True)
    ]
    store.add(nodes)
    chunks = MSearchRetriever(store, k=3).retrieve(QUERY)
    assert [n.node.metadata["source"] for n in chunks].count("cats.txt") >= 2
    files = MSearchRetriever(store, k=3, group_by="source").retrieve(QUERY)
    assert len({n.node.metadata["source"] for n in files}) == 3
    cats = next(n for n in files if n.node.metadata["source"] == "cats.txt")
    assert cats.node.metadata["matches"] > 1
    assert "matches" in cats.node.excluded_llm_metadata_keys
    again = await MSearchRetriever(store, k=3, group_by="source").aretrieve(QUERY)
    assert [n.node.node_id for n in again] == [n.node.node_id for n in files]
    with pytest.raises(InvalidInputError, match="group_by"):
        MSearchRetriever(store, group_by="folder")
