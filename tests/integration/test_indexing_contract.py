"""The folder indexer keeps the store equal to the folder, and keeps to its own points.

Real MiniLM, embedded Qdrant (both engines): a file that is skipped or fails after it was
indexed leaves no stale points; the indexer's bookkeeping stays out of the caller's metadata;
documents a framework wrote with the same ``source`` survive a re-index.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.documents import Document

from langchain_msearch import MSearchEmbeddings, MSearchVectorStore
from msearch import text_embedder
from msearch.indexing import FolderIndexer, IndexOptions
from msearch.protocols import TextEmbedder
from msearch.store import Store
from msearch.store.filters import own_fields


@pytest.fixture(scope="module")
def embedder(minilm: str) -> TextEmbedder:
    return text_embedder(minilm)


@pytest.fixture(params=["qdrant-client", "edge"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s = Store("files", path=tmp_path / "db", engine=request.param)
    yield s
    s.close()


def _indexer(store: Store, embedder: TextEmbedder, **options: int) -> FolderIndexer:
    return FolderIndexer(store, embedder, options=IndexOptions(show_progress=False, **options))


def _sources(store: Store) -> set[str]:
    return {hit.source or "" for hit in store.scan()}


def test_a_file_skipped_or_failing_after_indexing_leaves_no_points(
    store: Store, embedder: TextEmbedder, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    grows, turns_binary, stays = folder / "grows.txt", folder / "binary.txt", folder / "stays.md"
    grows.write_text("Cats sleep for most of the day.")
    turns_binary.write_text("Qdrant stores vectors.")
    stays.write_text("The Rhine flows through Basel.")
    first = _indexer(store, embedder, max_file_bytes=200).index(folder)
    assert len(first.indexed) == 3
    assert _sources(store) == {str(grows), str(turns_binary), str(stays)}

    grows.write_text("Cats sleep. " * 40)  # now over max_file_bytes
    turns_binary.write_bytes(b"\x00\x01\x02 binary \xff\xfe")
    second = _indexer(store, embedder, max_file_bytes=200).index(folder)
    assert [source for source, _ in second.skipped] == [str(grows)]
    assert [source for source, _ in second.failed] == [str(turns_binary)]
    assert second.unchanged == [str(stays)]
    assert _sources(store) == {str(stays)}


def test_bookkeeping_is_not_in_the_callers_metadata(
    store: Store, embedder: TextEmbedder, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    note = folder / "note.txt"
    note.write_text("word " * 500)
    _indexer(store, embedder, chunk_tokens=100, chunk_overlap=0).index(folder)
    hits = sorted(store.scan(), key=lambda hit: hit.payload["chunk"])
    assert len(hits) > 2
    for number, hit in enumerate(hits):
        assert hit.metadata == {"source": str(note), "chunk": number}
        assert len(hit.payload["file_hash"]) == 64
    assert [hit.payload.get("last_chunk") for hit in hits] == [None] * (len(hits) - 1) + [True]
    # unchanged on a re-run: the bookkeeping in msearch's fields is what the indexer reads
    again = _indexer(store, embedder, chunk_tokens=100, chunk_overlap=0).index(folder)
    assert again.unchanged == [str(note)] and not again.indexed


def test_reindexing_a_file_keeps_framework_documents_with_its_source(
    store: Store, minilm: str, embedder: TextEmbedder, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    paper = folder / "paper.txt"
    paper.write_text("A first draft about cats.")
    notes = MSearchVectorStore(embedding=MSearchEmbeddings(model=minilm), store=store)
    _indexer(store, embedder).index(folder)
    notes.add_documents(
        [
            Document(page_content=f"note {i} on the paper", metadata={"source": str(paper)})
            for i in range(3)
        ],
        ids=["n0", "n1", "n2"],
    )
    paper.write_text("A second draft about dogs.")
    summary = _indexer(store, embedder).index(folder)
    assert summary.indexed == [str(paper)]
    assert sorted(doc.id or "" for doc in notes.get_by_ids(["n0", "n1", "n2"])) == [
        "n0",
        "n1",
        "n2",
    ]
    paper.unlink()
    assert _indexer(store, embedder).index(folder).removed == [str(paper)]
    assert store.count() == 3  # the notes, and nothing of the file
    assert store.count(own_fields(source=str(paper))) == 3
