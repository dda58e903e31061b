"""Reading files as text, in pieces, so large files never sit whole in memory.

Plain text (.txt, .md, .rst) streams in blocks through an incremental UTF-8 decoder; HTML and
PDF are read per file (HTML) or per page (PDF) and bounded by the indexer's size limit.
"""

from __future__ import annotations

import codecs
import html.parser
from collections.abc import Iterator
from pathlib import Path

from msearch._deps import require
from msearch.errors import FileReadError

PLAIN_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".rst", ".text"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
PDF_SUFFIXES = frozenset({".pdf"})
TEXT_SUFFIXES = PLAIN_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES

BLOCK_BYTES = 64 * 1024


def read_text(path: Path, block_bytes: int = BLOCK_BYTES) -> Iterator[str]:
    """The text of ``path`` in pieces; FileReadError for binary or undecodable content."""
    suffix = path.suffix.lower()
    if suffix in HTML_SUFFIXES:
        yield _html_text("".join(_plain_blocks(path, block_bytes)), path)
    elif suffix in PDF_SUFFIXES:
        yield from _pdf_pages(path)
    else:
        yield from _plain_blocks(path, block_bytes)


def _plain_blocks(path: Path, block_bytes: int) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    with path.open("rb") as stream:
        offset = 0
        while block := stream.read(block_bytes):
            if b"\x00" in block:
                raise FileReadError(f"{path} looks binary (NUL byte near offset {offset})")
            try:
                yield decoder.decode(block)
            except UnicodeDecodeError as err:
                raise FileReadError(
                    f"{path} is not UTF-8 text (bad byte at offset {offset + err.start})"
                ) from err
            offset += len(block)
        try:
            yield decoder.decode(b"", final=True)
        except UnicodeDecodeError as err:
            raise FileReadError(f"{path} ends inside a UTF-8 character") from err


class _TextOfHtml(html.parser.HTMLParser):
    """The visible text of a page. ``<head>`` ends where HTML5 ends it: at ``</head>``, at
    ``<body>`` or at the first tag that cannot be in a head (both end tags are optional)."""

    _SKIPPED = frozenset({"script", "style", "noscript", "template"})
    _IN_HEAD = frozenset({"title", "meta", "link", "base", "style", "script", "noscript"})

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip_depth = 0
        self._in_head = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "head":
            self._in_head = True
        elif self._in_head and (tag == "body" or tag not in self._IN_HEAD):
            self._in_head = False
        if tag in self._SKIPPED:
            self._skip_depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "head":
            self._in_head = False
        if tag in self._SKIPPED and self._skip_depth:
            self._skip_depth -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip_depth and not self._in_head:
            self.parts.append(data)


def _html_text(markup: str, path: Path) -> str:
    parser = _TextOfHtml()
    parser.feed(markup)
    parser.close()
    return " ".join(" ".join(parser.parts).split())


def _pdf_pages(path: Path) -> Iterator[str]:
    pypdf = require("pypdf", "pdf")
    try:
        reader = pypdf.PdfReader(str(path))
        for page in reader.pages:
            yield (page.extract_text() or "") + "\n"
    except Exception as err:  # pypdf on hostile files raises many types: all are this file's
        reason = str(err) or type(err).__name__
        raise FileReadError(f"{path} is not a readable PDF: {reason}") from err
