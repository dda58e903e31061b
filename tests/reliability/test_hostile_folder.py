"""Hostile folders into the real indexer (MiniLM, embedded Qdrant): every entry ends, the
store equals what the folder may show, and nothing outside the folder becomes searchable.

Cases from the red-team report: links to a FIFO and to /dev/zero (a hang and an endless read
before), a link to a secret outside the folder, a file under three names, text with no
whitespace (chunked in quadratic time before), HTML5 without ``</head>`` (indexed as empty),
a file that grows past the limit or turns binary after it was indexed (stale points), and
documents a framework wrote with an indexed file's ``source`` (deleted by a re-index).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from msearch import text_embedder
from msearch.chunking import chunk_stream
from msearch.indexing import FolderIndexer, IndexOptions, IndexSummary
from msearch.protocols import TextEmbedder
from msearch.store import Record, Store
from msearch.store.filters import own_fields
from tests.reliability._mode import soak, within

LIMIT_S = 120.0


@pytest.fixture(scope="module")
def embedder(minilm: str) -> TextEmbedder:
    return text_embedder(minilm)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store("hostile", path=tmp_path / "db")
    yield s
    s.close()


def _index(store: Store, embedder: TextEmbedder, folder: Path, **options: object) -> IndexSummary:
    indexer = FolderIndexer(
        store,
        embedder,
        options=IndexOptions(show_progress=False, **options),  # type: ignore[arg-type]
    )
    return within(LIMIT_S, indexer.index, folder)


def _contents(store: Store) -> str:
    return " ".join(hit.content or "" for hit in store.scan())


def test_special_files_and_links_end_and_stay_inside(
    store: Store, embedder: TextEmbedder, tmp_path: Path
) -> None:
    folder, outside = tmp_path / "docs", tmp_path / "private"
    folder.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text("the launch code is 0000")
    (folder / "note.txt").write_text("Cats sleep most of the day.")
    os.mkfifo(folder / "pipe.txt")
    os.symlink(folder / "pipe.txt", folder / "to-pipe.txt")
    os.symlink("/dev/zero", folder / "zero.txt")
    os.symlink(outside / "secret.txt", folder / "secret-link.txt")
    os.symlink(outside, folder / "private-dir")
    os.symlink(tmp_path / "missing.txt", folder / "broken.txt")
    os.link(folder / "note.txt", folder / "hard.txt")
    os.symlink(folder / "note.txt", folder / "soft.txt")

    summary = _index(store, embedder, folder)
    skipped = dict(summary.skipped)
    assert summary.indexed == [str(folder / "hard.txt")]  # one file, three names: indexed once
    assert "not a regular file" in skipped[str(folder / "pipe.txt")]
    assert "not a regular file" in skipped[str(folder / "to-pipe.txt")]
    assert "not a regular file" in skipped[str(folder / "zero.txt")]
    assert "outside the folder" in skipped[str(folder / "secret-link.txt")]
    assert str(folder / "private-dir" / "secret.txt") not in skipped  # linked folders: not walked
    assert "broken link" in skipped[str(folder / "broken.txt")]
    assert "same file" in skipped[str(folder / "note.txt")]
    assert "launch code" not in _contents(store)

    allowed = _index(store, embedder, folder, follow_links=True)
    assert str(folder / "secret-link.txt") in allowed.indexed  # the option allows it
    assert "launch code" in _contents(store)


def test_text_without_whitespace_is_chunked_in_linear_time() -> None:
    sizes = (2, 8) if not soak() else (2, 8, 32)
    seconds = []
    for megabytes in sizes:
        text = "x" * (megabytes * 1024 * 1024)
        pieces = (text[i : i + 65_536] for i in range(0, len(text), 65_536))
        started = time.perf_counter()
        chunks = within(LIMIT_S, lambda p=pieces: list(chunk_stream(p, size=200, overlap=40)))
        seconds.append(time.perf_counter() - started)
        assert max(len(chunk) for chunk in chunks) <= 64 * 200  # no chunk holds the whole run
    # four times the input costs about four times the time, not sixteen (with noise headroom)
    assert seconds[1] < 10 * max(seconds[0], 0.01)


def test_html5_without_head_end_tag_is_indexed(
    store: Store, embedder: TextEmbedder, tmp_path: Path
) -> None:
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "page.html").write_text(
        "<!doctype html><html><head><title>Cats</title><meta charset=utf-8>"
        "<p>Cats sleep twelve to sixteen hours a day.</p>"
    )
    summary = _index(store, embedder, folder)
    assert summary.indexed == [str(folder / "page.html")]
    assert "twelve to sixteen hours" in _contents(store)


def test_a_file_that_turns_bad_loses_its_points_and_others_keep_theirs(
    store: Store, embedder: TextEmbedder, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    paper = folder / "paper.txt"
    paper.write_text("A first draft about cats.")
    _index(store, embedder, folder, max_file_bytes=1000)
    store.upsert(  # a note a framework adapter wrote about the same file
        [
            Record(
                id="note",
                vectors={"text": embedder.embed_query("note")},
                content="note",
                metadata={"source": str(paper)},
                source=str(paper),
            )
        ]
    )
    paper.write_bytes(b"\x00binary now")
    summary = _index(store, embedder, folder, max_file_bytes=1000)
    assert [source for source, _ in summary.failed] == [str(paper)]
    assert [hit.id for hit in store.scan(own_fields(source=str(paper)))] == ["note"]
    paper.write_text("cats " * 500)  # now over max_file_bytes
    _index(store, embedder, folder, max_file_bytes=1000)
    assert [hit.id for hit in store.scan()] == ["note"]


# -- where the data lives: one precedence rule for every pair of settings -----------------------


@pytest.mark.parametrize(("low", "high"), [("file", "env"), ("file", "flag"), ("env", "flag")])
@pytest.mark.parametrize(("low_key", "high_key"), [("path", "url"), ("url", "path")])
def test_a_higher_location_setting_replaces_a_lower_one(
    low: str,
    high: str,
    low_key: str,
    high_key: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from msearch.config import load_config

    values = {"path": str(tmp_path / "folder"), "url": "http://127.0.0.1:9"}
    config_file = tmp_path / "msearch.toml"
    config_file.write_text("")
    overrides: dict[str, str] = {}
    for layer, key in ((low, low_key), (high, high_key)):
        if layer == "file":
            config_file.write_text(f'[store]\n{key} = "{values[key]}"\n')
        elif layer == "env":
            monkeypatch.setenv(
                "MSEARCH_STORE_PATH" if key == "path" else "MSEARCH_URL", values[key]
            )
        else:
            overrides["store_path" if key == "path" else "url"] = values[key]
    config = load_config(config_file, **overrides)
    if high_key == "path":
        assert (str(config.store_path), config.url) == (values["path"], "")
    else:
        assert (config.url, config.store_path) == (values["url"], "")


def test_a_folder_that_cannot_be_searched_is_reported_and_its_points_go(
    store: Store, embedder: TextEmbedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "docs"
    closed = folder / "closed"
    closed.mkdir(parents=True)
    (folder / "open.txt").write_text("Cats sleep most of the day.")
    (closed / "inside.txt").write_text("The Rhine flows through Basel.")
    assert len(_index(store, embedder, folder).indexed) == 2
    # mode 000: as root (CI) permissions do not bind, so the listing fails as it would for a user
    real_scandir = os.scandir

    def scandir(path: object = ".") -> object:
        if Path(os.fsdecode(path)) == closed:  # type: ignore[arg-type]
            raise PermissionError(13, "Permission denied", str(closed))
        return real_scandir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", scandir)
    summary = _index(store, embedder, folder)
    assert summary.skipped == [(str(closed), "a folder that cannot be read (Permission denied)")]
    assert summary.removed == [str(closed / "inside.txt")]
    assert {hit.source for hit in store.scan()} == {str(folder / "open.txt")}


def test_pdfs_pypdf_cannot_read_are_each_a_files_failure(
    store: Store, embedder: TextEmbedder, tmp_path: Path
) -> None:
    import io
    import random

    import pypdf

    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=200, height=200)
    buffer = io.BytesIO()
    writer.write(buffer)
    good = buffer.getvalue()
    folder = tmp_path / "pdfs"
    folder.mkdir()
    rng = random.Random(7)
    count = 200 if soak() else 40
    for number in range(count):
        data = bytearray(good)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        (folder / f"mutated-{number:03d}.pdf").write_bytes(bytes(data))
    (folder / "note.txt").write_text("Cats sleep most of the day.")
    summary = _index(store, embedder, folder)  # no exception escapes the run
    assert str(folder / "note.txt") in summary.indexed
    # a mutated PDF that still reads holds a blank page: no text, so it is skipped as such
    assert all("no text" in reason for _, reason in summary.skipped)
    assert len(summary.indexed) + len(summary.failed) + len(summary.skipped) == count + 1
    assert all("not a readable PDF" in reason for _, reason in summary.failed)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[index]\nchunk_tokens = true\n", "chunk_tokens (from "),
        ("[index]\nchunk_tokens = [1, 2]\n", "must be a whole number"),
        ('[models]\nallow_download = "flase"\n', "must be true or false"),
        ("[store]\npath = 5\n", "store_path (from "),
        ("[models]\nbatch_size = 1.5\n", "must be a whole number"),
        ('[models]\ntext = ["a"]\n', "must be a string"),
    ],
)
def test_configuration_values_of_the_wrong_type_are_errors(
    toml: str, message: str, tmp_path: Path
) -> None:
    from msearch.config import load_config
    from msearch.errors import InvalidInputError

    file = tmp_path / "msearch.toml"
    file.write_text(toml)
    with pytest.raises(InvalidInputError, match=re.escape(message)) as caught:
        load_config(file)
    assert str(file) in str(caught.value)


def test_configuration_variables_must_spell_their_type(monkeypatch: pytest.MonkeyPatch) -> None:
    from msearch.config import load_config
    from msearch.errors import InvalidInputError

    monkeypatch.setenv("MSEARCH_ALLOW_DOWNLOAD", "flase")
    with pytest.raises(InvalidInputError, match="MSEARCH_"):
        load_config()
    monkeypatch.setenv("MSEARCH_ALLOW_DOWNLOAD", "off")
    assert load_config().allow_download is False


def test_an_inline_image_in_markdown_is_not_indexed_as_text(
    store: Store, embedder: TextEmbedder, tmp_path: Path
) -> None:
    import base64

    folder = tmp_path / "notes"
    folder.mkdir()
    blob = base64.b64encode(os.urandom(100_000)).decode()  # a 100 KB inline image, 133 KB text
    key = base64.b64encode(os.urandom(300)).decode()
    (folder / "note.md").write_text(
        "# Cats\n\nCats sleep most of the day.\n\n"
        f"![a cat](data:image/png;base64,{blob})\n\nThey purr when content. token {key}\n"
    )
    summary = _index(store, embedder, folder, chunk_tokens=64, chunk_overlap=8)
    assert summary.indexed == [str(folder / "note.md")]
    hits = list(store.scan())
    stored = " ".join(hit.content or "" for hit in hits)
    assert len(hits) == 1 and "base64" not in stored and key not in stored
    assert "Cats sleep most of the day." in stored and "They purr when content." in stored


def test_follow_links_is_read_from_the_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from msearch.config import load_config

    file = tmp_path / "msearch.toml"
    file.write_text("[index]\nfollow_links = true\n")
    assert load_config(file).follow_links is True
    monkeypatch.setenv("MSEARCH_FOLLOW_LINKS", "0")
    assert load_config(file).follow_links is False
    file.write_text("")
    monkeypatch.delenv("MSEARCH_FOLLOW_LINKS")
    assert load_config(file).follow_links is False


def test_files_with_no_text_are_reported_alike_on_every_run(
    store: Store, embedder: TextEmbedder, tmp_path: Path
) -> None:
    folder = tmp_path / "blank"
    folder.mkdir()
    (folder / "empty.txt").write_text("")
    (folder / "spaces.md").write_text("  \n\t \n")
    (folder / "note.txt").write_text("Cats sleep twelve to sixteen hours a day.")
    first = _index(store, embedder, folder)
    second = _index(store, embedder, folder)
    blank = sorted(str(folder / name) for name in ("empty.txt", "spaces.md"))
    assert first.indexed == [str(folder / "note.txt")]
    assert second.indexed == [] and second.unchanged == [str(folder / "note.txt")]
    for summary in (first, second):
        assert sorted(source for source, _ in summary.skipped) == blank
        assert all("no text" in reason for _, reason in summary.skipped)
    assert store.count() == 1
