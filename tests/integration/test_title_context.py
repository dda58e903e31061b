"""Each chunk is embedded after its document's title (its first line); the stored text stays
the chunk. Real MiniLM, embedded Qdrant."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from msearch import text_embedder
from msearch.indexing import FolderIndexer, IndexOptions, document_title
from msearch.protocols import TextEmbedder
from msearch.store import Store

TITLE = "Kestrel migration notes"
BODY = " ".join(f"Step {n}: move the service and check its health endpoint." for n in range(60))


@pytest.fixture(scope="module")
def embedder(minilm: str) -> TextEmbedder:
    return text_embedder(minilm)


def _chunks(tmp_path: Path, embedder: TextEmbedder, **options: object) -> list:
    folder = tmp_path / "docs"
    folder.mkdir(exist_ok=True)
    (folder / "notes.md").write_text(f"# {TITLE}\n\n{BODY}")
    with Store("t", location=":memory:") as store:
        indexer = FolderIndexer(
            store, embedder, options=IndexOptions(show_progress=False, **options)  # type: ignore[arg-type]
        )
        indexer.index(folder)
        hits = sorted(store.scan(), key=lambda hit: hit.payload["chunk"])
        return [(hit, store.get([hit.id], with_vectors=True)[0].vectors["text"]) for hit in hits]


def test_later_chunks_are_embedded_after_the_title(tmp_path: Path, embedder: TextEmbedder) -> None:
    chunks = _chunks(tmp_path, embedder)
    assert len(chunks) > 2
    first, _ = chunks[0]
    assert first.content.startswith(f"# {TITLE}")
    for hit, vector in chunks[1:]:
        assert TITLE not in hit.content  # what is stored and shown is the chunk itself
        expected = embedder.embed_documents([f"{TITLE}\n{hit.content}"])[0]
        np.testing.assert_allclose(vector, expected, atol=1e-5)


def test_the_option_turns_it_off(tmp_path: Path, embedder: TextEmbedder) -> None:
    for hit, vector in _chunks(tmp_path, embedder, title_context=False)[1:]:
        np.testing.assert_allclose(vector, embedder.embed_documents([hit.content])[0], atol=1e-5)


def test_the_title_is_the_first_line_without_heading_marks() -> None:
    assert document_title("\n\n## Release notes \nbody") == "Release notes"
    assert document_title("x" * 500) == "x" * 120
    assert document_title("   \n") == ""
