"""Index a folder into the store: text chunks, images and audio, incrementally and idempotently.

Each file's points carry its path as ``source`` (in msearch's payload and in the metadata a
framework shows, with the ``chunk`` number) and its SHA-256 as msearch's ``file_hash``, which
also marks them as the indexer's own: it deletes and replaces only those, never points that a
LangChain or LlamaIndex store wrote with the same ``source``. A re-run skips files whose points
are complete and unchanged, re-embeds changed files, removes the points of files that are gone,
and removes the points of a file that is now skipped or fails (too large, unreadable, not
text...), so the store always equals the folder. Point ids derive from (source, chunk), so
writing a file twice gives the same points: an interrupted run, re-run to the end, equals a
clean run. A text file's last chunk is marked (msearch's ``last_chunk``), so a file cut off
mid-write is seen as incomplete and written again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qdrant_client import models

from msearch.adapters.models import model_id
from msearch.chunking import TokenCounter, approximate_tokens, chunk_stream
from msearch.crossmodal import AUDIO_SUFFIXES, IMAGE_SUFFIXES, MediaCollection
from msearch.errors import FileReadError, InvalidInputError, MSearchError
from msearch.protocols import AudioEmbedder, ImageEmbedder, SparseEmbedder, TextEmbedder
from msearch.readers import TEXT_SUFFIXES, read_text
from msearch.store import (
    AUDIO,
    IMAGE,
    TEXT,
    TEXT_SPARSE,
    Distance,
    Record,
    Schema,
    SparseSpec,
    Store,
    VectorSpec,
    chunk_id,
)
from msearch.store import schema as s
from msearch.store.filters import merge, own

logger = logging.getLogger(__name__)


def _has(key: str) -> models.Filter:
    return models.Filter(must_not=[models.IsEmptyCondition(is_empty=models.PayloadField(key=key))])


#: The indexer's own points: those with msearch's ``file_hash`` (or, written by msearch 0.1,
#: ``metadata.file_hash``; such points are replaced by the new form on the next run).
INDEXED = models.Filter(should=[_has(s.FILE_HASH), _has(f"{s.METADATA}.{s.FILE_HASH}")])


@dataclass
class IndexSummary:
    """What one indexing run did, file by file."""

    indexed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    def line(self) -> str:
        """The counts of this run, and how many files the store holds after it (a run that
        resumes an interrupted one counts the files done before as unchanged)."""
        held = len(self.indexed) + len(self.unchanged)
        return (
            f"indexed {len(self.indexed)}, unchanged {len(self.unchanged)}, "
            f"removed {len(self.removed)}, skipped {len(self.skipped)}, failed {len(self.failed)}"
            f"; {held} file{'' if held == 1 else 's'} in the store"
        )


@dataclass
class IndexOptions:
    chunk_tokens: int = 200
    chunk_overlap: int = 40
    max_file_bytes: int = 50 * 1024 * 1024
    batch_size: int = 32
    show_progress: bool | None = None
    verbose: bool = False  # report each file as it is done, not only failures
    #: Follow symbolic links whose target lies outside the indexed folder. Off by default: a
    #: link must not make a file elsewhere on the machine searchable.
    follow_links: bool = False
    #: Embed each chunk after its document's title (its first line), so a chunk from the
    #: middle of a document still carries what the document is about; the stored and shown
    #: text stays the chunk itself. Measured in bench/bench_quality.py.
    title_context: bool = True

    def __post_init__(self) -> None:
        if self.chunk_tokens < 1 or not 0 <= self.chunk_overlap < self.chunk_tokens:
            raise InvalidInputError(
                f"chunk_overlap ({self.chunk_overlap}) must be >= 0 and smaller than "
                f"chunk_tokens ({self.chunk_tokens})"
            )
        if self.batch_size < 1 or self.max_file_bytes < 1:
            raise InvalidInputError("batch_size and max_file_bytes must be >= 1")


class FolderIndexer:
    """Walks a folder and keeps a store's points equal to what the folder holds.

    ``unavailable`` maps a modality (``"image"``, ``"audio"``) whose model cannot be loaded to
    the reason; its files are skipped with that reason, and its named vector is still created
    when the registry knows the model's size, so the files can be indexed later.

    >>> from msearch import text_embedder
    >>> from msearch.store import Store
    >>> store = Store("docs", location=":memory:")
    >>> indexer = FolderIndexer(store, text_embedder("sentence-transformers/all-MiniLM-L6-v2"))
    >>> indexer.index("examples/").line()  # doctest: +SKIP
    'indexed 9, unchanged 0, removed 0, skipped 0, failed 0; 9 files in the store'
    """

    def __init__(
        self,
        store: Store,
        text: TextEmbedder,
        *,
        sparse: SparseEmbedder | None = None,
        image: ImageEmbedder | None = None,
        audio: AudioEmbedder | None = None,
        unavailable: dict[str, str] | None = None,
        count_tokens: TokenCounter = approximate_tokens,
        options: IndexOptions | None = None,
        report: Callable[[str], None] = logger.info,
    ) -> None:
        self.store = store
        self.text = text
        self.sparse = sparse
        self.image = image
        self.audio = audio
        self.unavailable = dict(unavailable or {})
        self.count_tokens = count_tokens
        self.options = options or IndexOptions()
        self.report = report

    def schema(self) -> Schema:
        vectors = {TEXT: VectorSpec(self.text.dim, Distance.COSINE, model=model_id(self.text))}
        for name, embedder in ((IMAGE, self.image), (AUDIO, self.audio)):
            if embedder is None:
                continue
            size = embedder.spec.dim if name in self.unavailable else embedder.dim
            if size is not None:
                vectors[name] = VectorSpec(size, Distance.COSINE, model=model_id(embedder))
        sparse = {}
        if self.sparse is not None:
            idf = bool(getattr(self.sparse, "idf", False))  # BM25's weights need Qdrant's IDF
            sparse[TEXT_SPARSE] = SparseSpec(model=model_id(self.sparse), idf=idf)
        return Schema(vectors=vectors, sparse=sparse)

    def index(self, root: str | Path) -> IndexSummary:
        folder = Path(root).expanduser().resolve()
        if not folder.exists():
            raise InvalidInputError(f"{root} does not exist")
        summary = IndexSummary()
        if folder.is_file():
            files = [folder]
        else:
            files, left_out = _walk(folder, self.options.follow_links)
            summary.skipped.extend(left_out)
        self.store.ensure_schema(self.schema())
        media = self._media()
        for path in _progress(files, self.options.show_progress):
            self._index_file(path, summary, media)
        if folder.is_dir():
            self._remove_gone(folder, {str(path) for path in files}, summary)
        if summary.indexed:
            self.store.optimize()  # Qdrant Edge builds its HNSW index after bulk loads
        return summary

    # -- one file ---------------------------------------------------------------------
    def _index_file(self, path: Path, summary: IndexSummary, media: MediaCollection | None) -> None:
        source = str(path)
        suffix = path.suffix.lower()
        kind = (
            TEXT
            if suffix in TEXT_SUFFIXES
            else IMAGE
            if suffix in IMAGE_SUFFIXES
            else AUDIO
            if suffix in AUDIO_SUFFIXES
            else None
        )
        if kind is None:  # never indexed, so there is nothing of it to remove
            summary.skipped.append((source, "not a supported file type"))
            return
        try:
            size = path.stat().st_size
            if size > self.options.max_file_bytes:
                reason = f"{size} bytes is over max_file_bytes={self.options.max_file_bytes}"
                self._skip(summary, source, reason)
                return
            no_model = kind != TEXT and (
                media is None
                or kind in self.unavailable
                or {IMAGE: self.image, AUDIO: self.audio}[kind] is None
            )
            digest = file_hash(path, self.options.max_file_bytes)
            if self._is_complete(source, digest, kind):
                summary.unchanged.append(source)
                return
            if no_model:
                self._skip(summary, source, self.unavailable.get(kind, f"no {kind} model"))
                return
            self._forget(source)
            if kind == TEXT:
                if not self._write_text(path, digest):
                    # nothing to remember it by, so every run says the same: no points
                    summary.skipped.append((source, "no text (empty or whitespace only)"))
                    return
            else:
                self._write_media(path, digest, kind, media)
        except (OSError, MSearchError) as err:
            summary.failed.append((source, _reason(err)))
            self.report(f"failed: {source}: {_reason(err)}")
            self._forget(source)  # a file that fails half-way leaves none of its points
            return
        summary.indexed.append(source)
        if self.options.verbose:
            self.report(f"indexed: {source}")

    def _skip(self, summary: IndexSummary, source: str, reason: str) -> None:
        """A file left out of this run: its earlier points go too, so the store equals the
        folder whatever the reason (a file that grew too large, turned binary ...)."""
        summary.skipped.append((source, reason))
        self._forget(source)

    def _forget(self, source: str) -> None:
        self.store.delete(source=source, filter=INDEXED)

    def _own_points(self, source: str) -> list[Any]:
        return list(self.store.scan(merge(own(source=source), INDEXED)))

    def _is_complete(self, source: str, digest: str, kind: str) -> bool:
        hits = self._own_points(source)
        if not hits or any(hit.payload.get(s.FILE_HASH) != digest for hit in hits):
            return False
        if kind != TEXT:
            return True
        last = [hit for hit in hits if hit.payload.get(s.LAST_CHUNK)]
        return len(last) == 1 and last[0].payload.get(s.CHUNK) == len(hits) - 1

    def _write_text(self, path: Path, digest: str) -> int:
        """Write the file's chunks; how many there were (0 for a file with no text)."""
        source = str(path)
        chunks = chunk_stream(
            read_text(path),
            self.count_tokens,
            self.options.chunk_tokens,
            self.options.chunk_overlap,
        )
        batch: list[str] = []
        position = 0
        title = ""
        for chunk in _with_last(chunks):
            text, last = chunk
            if position == 0 and not batch and self.options.title_context:
                title = document_title(text)
            batch.append(text)
            if last or len(batch) >= self.options.batch_size * 4:
                self._upsert_chunks(source, digest, position, batch, last, title)
                position += len(batch)
                batch = []
        return position

    def _upsert_chunks(
        self, source: str, digest: str, start: int, texts: list[str], ends_file: bool, title: str
    ) -> None:
        # the first chunk begins with the title already
        embedded = [
            text if not title or start + offset == 0 else f"{title}\n{text}"
            for offset, text in enumerate(texts)
        ]
        dense = self.text.embed_documents(embedded)
        sparse = None if self.sparse is None else self.sparse.embed_documents_sparse(embedded)
        records = []
        for offset, text in enumerate(texts):
            number = start + offset
            vectors: dict[str, Any] = {TEXT: dense[offset]}
            if sparse is not None:
                vectors[TEXT_SPARSE] = sparse[offset]
            records.append(
                Record(
                    id=chunk_id(source, number),
                    vectors=vectors,
                    content=text,
                    metadata={s.SOURCE: source, s.CHUNK: number},
                    source=source,
                    modality=TEXT,
                    doc_id=source,
                    chunk=number,
                    content_hash=hashlib.sha256(text.encode()).hexdigest(),
                    file_hash=digest,
                    last_chunk=True if ends_file and offset == len(texts) - 1 else None,
                )
            )
        self.store.upsert(records)

    def _write_media(
        self, path: Path, digest: str, kind: str, media: MediaCollection | None
    ) -> None:
        if media is None:
            raise InvalidInputError(f"no {kind} model is available for {path}")
        build = media.image_records if kind == IMAGE else media.audio_records
        report, records = build([path], skip_errors=False)
        if not records:
            raise FileReadError(f"{path} gave no {kind} points")
        media.write(report, [dataclasses.replace(r, file_hash=digest) for r in records])

    def _media(self) -> MediaCollection | None:
        image = None if IMAGE in self.unavailable else self.image
        audio = None if AUDIO in self.unavailable else self.audio
        if image is None and audio is None:
            return None
        return MediaCollection(self.store, image=image, audio=audio)

    # -- files that are gone ---------------------------------------------------------
    def _remove_gone(self, folder: Path, present: set[str], summary: IndexSummary) -> None:
        """Remove the indexer's points of files under ``folder`` this walk did not find: deleted,
        moved, now behind a folder that cannot be searched, or now left out (a link that leaves
        the folder, a second name of a file)."""
        prefix = str(folder) + "/"
        gone = sorted(
            {
                hit.source
                for hit in self.store.scan(INDEXED)
                if hit.source and hit.source.startswith(prefix) and hit.source not in present
            }
        )
        for source in gone:
            self._forget(source)
            summary.removed.append(source)


#: The most characters of a document's first line that go before each of its chunks.
TITLE_CHARS = 120


def document_title(first_chunk: str) -> str:
    """A document's title: its first non-empty line (Markdown heading marks dropped), cut to
    ``TITLE_CHARS`` characters."""
    for line in first_chunk.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line[:TITLE_CHARS]
    return ""


def file_hash(path: Path, max_bytes: int | None = None) -> str:
    """The SHA-256 of ``path``; FileReadError past ``max_bytes`` (a file growing as it is read)."""
    digest = hashlib.sha256()
    read = 0
    with path.open("rb") as stream:
        while block := stream.read(1024 * 1024):
            read += len(block)
            if max_bytes is not None and read > max_bytes:
                raise FileReadError(f"{path} grew past max_file_bytes={max_bytes} while read")
            digest.update(block)
    return digest.hexdigest()


def _walk(folder: Path, follow_links: bool) -> tuple[list[Path], list[tuple[str, str]]]:
    """The regular files under ``folder`` (sorted, hidden ones left out), each file once, and
    the entries left out with the reason.

    Only regular files are read: a FIFO, a device or a socket (or a link to one) would block
    or never end. A link whose target is outside ``folder`` is left out unless
    ``follow_links``; a linked folder is not walked; a file reached by several names (hard or
    symbolic links) is indexed once, under the first name in sorted order.
    """
    files: list[Path] = []
    left_out: list[tuple[str, str]] = []
    seen: set[tuple[int, int]] = set()
    for path in _entries(folder, left_out):
        try:
            info = path.stat()  # follows links
        except OSError:
            if path.is_symlink():
                left_out.append((str(path), "a broken link"))
            continue
        if not stat.S_ISREG(info.st_mode):
            if not stat.S_ISDIR(info.st_mode):
                left_out.append((str(path), "not a regular file (a FIFO, device or socket)"))
            continue
        if not follow_links and not path.resolve().is_relative_to(folder):
            left_out.append((str(path), "a link to a file outside the folder (follow_links)"))
            continue
        if (info.st_dev, info.st_ino) in seen:
            left_out.append((str(path), "the same file as another name already indexed"))
            continue
        seen.add((info.st_dev, info.st_ino))
        files.append(path)
    return files, left_out


def _entries(folder: Path, left_out: list[tuple[str, str]]) -> list[Path]:
    """Every entry under ``folder`` but hidden ones, sorted; a folder that cannot be listed
    (no search or read permission) is reported in ``left_out`` and the walk goes on."""

    def unreadable(err: OSError) -> None:
        left_out.append((str(err.filename), f"a folder that cannot be read ({err.strerror})"))

    entries: list[Path] = []
    for top, folders, names in os.walk(folder, onerror=unreadable):
        folders[:] = [name for name in folders if not name.startswith(".")]
        base = Path(top)
        entries.extend(base / name for name in folders if (base / name).is_symlink())
        entries.extend(base / name for name in names if not name.startswith("."))
    return sorted(entries)


def _with_last(items: Iterator[str]) -> Iterator[tuple[str, bool]]:
    """Each item with a flag that is True for the last one."""
    previous: str | None = None
    for item in items:
        if previous is not None:
            yield previous, False
        previous = item
    if previous is not None:
        yield previous, True


def _progress(files: list[Path], show: bool | None) -> Any:
    if show is False or (show is None and len(files) < 20):
        return files
    from tqdm.auto import tqdm

    return tqdm(files, desc="indexing", unit="file")


def _reason(err: BaseException) -> str:
    if isinstance(err, MSearchError):
        return str(err)
    if isinstance(err, FileNotFoundError):
        return "the file vanished or is a broken link"
    if isinstance(err, PermissionError):
        return "permission denied"
    return str(err)
