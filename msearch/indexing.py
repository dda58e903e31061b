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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from qdrant_client import models

from msearch import media as media_module
from msearch.adapters.models import model_id
from msearch.chunking import TokenCounter, approximate_tokens, chunk_stream
from msearch.crossmodal import AUDIO_SUFFIXES, IMAGE_SUFFIXES, MediaCollection
from msearch.errors import FileReadError, InvalidInputError, MSearchError
from msearch.protocols import (
    AudioEmbedder,
    ImageEmbedder,
    SparseEmbedder,
    TextEmbedder,
    Transcriber,
)
from msearch.readers import TEXT_SUFFIXES, read_text
from msearch.speech import speech_chunks, timestamp
from msearch.store import (
    AUDIO,
    IMAGE,
    SPEECH,
    TEXT,
    TEXT_SPARSE,
    VIDEO,
    Distance,
    Record,
    Schema,
    SparseSpec,
    Store,
    VectorSpec,
    chunk_id,
)
from msearch.store import schema as s
from msearch.store.filters import merge_filters, own_fields
from msearch.video import VIDEO_SUFFIXES, FrameSampling, video_frames

logger = logging.getLogger(__name__)
T = TypeVar("T")

#: The part of the indexer that reads a video's frames (points of modality ``VIDEO``), beside
#: ``IMAGE`` (image files), ``AUDIO`` (sound windows) and ``SPEECH`` (transcripts).
FRAMES = "frames"
#: The parts that read a file of each kind, and the model each part needs.
FILE_PARTS = {IMAGE: (IMAGE,), AUDIO: (AUDIO, SPEECH), VIDEO: (FRAMES, AUDIO, SPEECH)}
_MODEL_OF = {IMAGE: IMAGE, FRAMES: IMAGE, AUDIO: AUDIO, SPEECH: SPEECH}


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
    #: Seconds of audio and video indexed in this run.
    media_s: float = 0.0

    def line(self) -> str:
        """The counts of this run, and how many files the store holds after it (a run that
        resumes an interrupted one counts the files done before as unchanged)."""
        held = len(self.indexed) + len(self.unchanged)
        media = f", {timestamp(self.media_s)} of audio and video" if self.media_s else ""
        return (
            f"indexed {len(self.indexed)}{media}, unchanged {len(self.unchanged)}, "
            f"removed {len(self.removed)}, skipped {len(self.skipped)}, failed {len(self.failed)}"
            f"; {held} file{'' if held == 1 else 's'} in the store"
        )


@dataclass
class IndexOptions:
    chunk_tokens: int = 200
    chunk_overlap: int = 40
    max_file_bytes: int = 50 * 1024 * 1024
    #: Recordings and videos are read a piece at a time, so they may be far larger.
    max_media_bytes: int = 4 * 1024**3
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
    #: Which frames of a video become points (msearch.video).
    frames: FrameSampling = field(default_factory=FrameSampling)

    def __post_init__(self) -> None:
        if self.chunk_tokens < 1 or not 0 <= self.chunk_overlap < self.chunk_tokens:
            raise InvalidInputError(
                f"chunk_overlap ({self.chunk_overlap}) must be >= 0 and smaller than "
                f"chunk_tokens ({self.chunk_tokens})"
            )
        if self.batch_size < 1 or self.max_file_bytes < 1 or self.max_media_bytes < 1:
            raise InvalidInputError("batch_size, max_file_bytes and max_media_bytes must be >= 1")


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
        speech: Transcriber | None = None,
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
        self.speech = speech
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
        for path in _progress(files, self.options.show_progress):
            self._index_file(path, summary)
        if folder.is_dir():
            self._remove_gone(folder, {str(path) for path in files}, summary)
        if summary.indexed:
            self.store.optimize()  # Qdrant Edge builds its HNSW index after bulk loads
        return summary

    # -- one file ---------------------------------------------------------------------
    def _index_file(self, path: Path, summary: IndexSummary) -> None:
        source = str(path)
        suffix = path.suffix.lower()
        kind = (
            TEXT
            if suffix in TEXT_SUFFIXES
            else IMAGE
            if suffix in IMAGE_SUFFIXES
            else AUDIO
            if suffix in AUDIO_SUFFIXES
            else VIDEO
            if suffix in VIDEO_SUFFIXES
            else None
        )
        if kind is None:  # never indexed, so there is nothing of it to remove
            summary.skipped.append((source, "not a supported file type"))
            return
        try:
            size = path.stat().st_size
            streamed = kind in (AUDIO, VIDEO)
            limit = self.options.max_media_bytes if streamed else self.options.max_file_bytes
            if size > limit:
                setting = "max_media_bytes" if streamed else "max_file_bytes"
                self._skip(summary, source, f"{size} bytes is over {setting}={limit}")
                return
            parts = self._parts(kind)
            digest = file_hash(path, limit)
            if self._is_complete(source, digest, kind, parts):
                summary.unchanged.append(source)
                return
            if not parts:
                self._skip(summary, source, self._missing(kind))
                return
            self._forget(source)
            # a recording's or video's length, from its header, for bars and the summary
            duration = media_module.media_duration(path) if streamed else None
            written = (
                self._write_text(path, digest)
                if kind == TEXT
                else self._write_media(path, digest, parts, duration)
            )
            if not written:
                # nothing to remember it by, so every run says the same: no points
                nothing = "no text (empty or whitespace only)" if kind == TEXT else "no speech"
                summary.skipped.append((source, nothing))
                return
        except (OSError, MSearchError) as err:
            summary.failed.append((source, _reason(err)))
            self.report(f"failed: {source}: {_reason(err)}")
            self._forget(source)  # a file that fails half-way leaves none of its points
            return
        summary.indexed.append(source)
        summary.media_s += duration or 0.0
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
        return list(self.store.scan(merge_filters(own_fields(source=source), INDEXED)))

    def _parts(self, kind: str) -> tuple[str, ...]:
        """What reads a file of ``kind`` in this run: the text model for text; for media,
        each of its parts whose model is here (``FILE_PARTS``)."""
        if kind == TEXT:
            return (TEXT,)
        models = {IMAGE: self.image, FRAMES: self.image, AUDIO: self.audio, SPEECH: self.speech}
        return tuple(
            part
            for part in FILE_PARTS[kind]
            if models[part] is not None and _MODEL_OF[part] not in self.unavailable
        )

    def _missing(self, kind: str) -> str:
        """Why no part of a file of ``kind`` can be read in this run."""
        reasons = dict.fromkeys(
            self.unavailable[_MODEL_OF[part]]
            for part in FILE_PARTS[kind]
            if _MODEL_OF[part] in self.unavailable
        )
        return "; ".join(reasons) or f"no {kind} model"

    def _is_complete(self, source: str, digest: str, kind: str, parts: tuple[str, ...]) -> bool:
        """Whether the file's points are all there, from this content, and read by every model
        of this run (a file indexed before the speech model was installed is read again)."""
        hits = self._own_points(source)
        if not hits or any(hit.payload.get(s.FILE_HASH) != digest for hit in hits):
            return False
        last = [hit for hit in hits if hit.payload.get(s.LAST_CHUNK)]
        if len(last) != 1 or last[0].payload.get(s.CHUNK) != len(hits) - 1:
            return False
        return kind == TEXT or set(parts) <= set(last[0].payload.get(s.PARTS) or ())

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
        self, path: Path, digest: str, parts: tuple[str, ...], duration: float | None
    ) -> int:
        """Write an image's, a recording's or a video's points, numbered as one file's chunks,
        the last one marked with the parts that read it; how many there were."""
        records: list[Record] = []
        if IMAGE in parts and self.image is not None:
            picture = MediaCollection(self.store, image=self.image)
            records.extend(picture.image_records([path], skip_errors=False)[1])
        if FRAMES in parts and self.image is not None:
            records.extend(self._frame_records(path, self.image, duration))
        if AUDIO in parts and self.audio is not None:
            records.extend(self._window_records(path, self.audio, duration))
        if SPEECH in parts and self.speech is not None:
            records.extend(self._speech_records(path, self.speech))
        if not records:
            return 0
        source = str(path)
        numbered = [
            dataclasses.replace(
                record,
                id=chunk_id(source, number),
                metadata={**record.metadata, s.SOURCE: source, s.CHUNK: number},
                source=source,
                doc_id=source,
                chunk=number,
                file_hash=digest,
            )
            for number, record in enumerate(records)
        ]
        numbered[-1] = dataclasses.replace(numbered[-1], last_chunk=True, parts=parts)
        self.store.upsert(numbered)
        return len(numbered)

    def _frame_records(
        self, path: Path, image: ImageEmbedder, duration: float | None
    ) -> Iterator[Record]:
        """A video's kept frames as ``image`` points (``modality="video"``)."""
        frames = video_frames(path, self.options.frames)
        for batch in _batches(
            _seconds(frames, f"{path.name}: frames", duration, self.options.show_progress),
            self.options.batch_size,
        ):
            vectors = image.embed_images([frame.image for frame in batch])
            for frame, vector in zip(batch, vectors, strict=True):
                yield _timed(
                    path,
                    {IMAGE: vector},
                    VIDEO,
                    frame.start,
                    frame.end,
                    hashlib.sha256(frame.image.tobytes()).hexdigest(),
                )

    def _window_records(
        self, path: Path, audio: AudioEmbedder, duration: float | None
    ) -> Iterator[Record]:
        """A recording's (or a video's sound track's) fixed windows as ``audio`` points."""
        windows = media_module.stream_windows(
            path, audio.sample_rate, audio.window_s, audio.overlap_s
        )
        for batch in _batches(
            _seconds(windows, f"{path.name}: sound", duration, self.options.show_progress),
            self.options.batch_size,
        ):
            vectors = audio.embed_audio(batch)
            for window, vector in zip(batch, vectors, strict=True):
                yield _timed(
                    path,
                    {AUDIO: vector},
                    AUDIO,
                    window.start,
                    window.end,
                    hashlib.sha256(window.samples.tobytes()).hexdigest(),
                )

    def _speech_records(self, path: Path, speech: Transcriber) -> list[Record]:
        """The transcript's passages as text points (``modality="speech"``)."""
        passages = list(speech_chunks(speech.transcribe(path)))
        if not passages:
            return []
        texts = [passage.text for passage in passages]
        dense = self.text.embed_documents(texts)
        sparse = None if self.sparse is None else self.sparse.embed_documents_sparse(texts)
        records = []
        for offset, passage in enumerate(passages):
            vectors: dict[str, Any] = {TEXT: dense[offset]}
            if sparse is not None:
                vectors[TEXT_SPARSE] = sparse[offset]
            digest = hashlib.sha256(passage.text.encode()).hexdigest()
            records.append(
                _timed(path, vectors, SPEECH, passage.start, passage.end, digest, passage.text)
            )
        return records

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


def _timed(
    path: Path,
    vectors: dict[str, Any],
    modality: str,
    start: float,
    end: float,
    content_hash: str,
    content: str | None = None,
) -> Record:
    """A point for a stretch of a recording or video (numbered later, with the file's)."""
    return Record(
        id="",
        vectors=vectors,
        content=content if content is not None else str(path),
        metadata={"start": round(start, 2), "end": round(end, 2)},
        modality=modality,
        content_hash=content_hash,
    )


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _seconds(
    items: Iterable[Any], desc: str, total: float | None, show: bool | None
) -> Iterator[Any]:
    """``items`` (each with an ``end`` in seconds), with a bar of media seconds done for a
    long file (``total`` ten minutes or more) or when ``show`` is True."""
    if show is False or (show is None and (total is None or total < LONG_MEDIA_S)):
        yield from items
        return
    from tqdm.auto import tqdm

    with tqdm(total=round(total or 0) or None, desc=desc, unit="s", leave=False) as bar:
        for item in items:
            bar.update(max(0, round(item.end) - bar.n))
            yield item


#: Media at least this long, in seconds, shows its progress in seconds.
LONG_MEDIA_S = 600.0

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
                raise FileReadError(f"{path} grew past its size limit ({max_bytes} B) while read")
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
