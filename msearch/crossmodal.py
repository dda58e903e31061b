"""Images and audio in msearch's collection: indexing, same-modality and cross-modal search.

``MediaCollection`` sits on a ``Store`` and the embedders of each modality. Images become one
point each on the ``image`` named vector; audio becomes one point per fixed window on the
``audio`` named vector, with the window's ``start``/``end`` in its metadata; text written
by the text adapters lives on ``text`` in the same collection.

Cross-modal search (``search``) embeds the text query once per model (the text model for
``text``, the CLIP/SigLIP text tower for ``image``, the CLAP text tower for ``audio``),
searches each named vector, and fuses the ranked lists with reciprocal rank fusion inside
Qdrant. Ranks, not scores, are fused because cosine scores of different models are not on one
scale: a CLAP 0.3 and a MiniLM 0.3 mean different things.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from msearch import media
from msearch.adapters.models import model_id
from msearch.errors import InvalidInputError, MediaError
from msearch.protocols import AudioEmbedder, ImageEmbedder, TextEmbedder
from msearch.store import AUDIO, IMAGE, TEXT, Distance, Hit, Record, Schema, Store, VectorSpec
from msearch.store.schema import chunk_id

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"})
AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".opus"})


@dataclass
class IndexReport:
    """What an indexing call did: ids written, and the items skipped with the reason."""

    added: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def merge(self, other: IndexReport) -> IndexReport:
        return IndexReport(self.added + other.added, self.skipped + other.skipped)


class MediaCollection:
    """Index images and audio into one msearch collection and search it by text or example.

    >>> from msearch.crossmodal import MediaCollection
    >>> from msearch.multimodal import audio_embedder, image_embedder
    >>> from msearch.store import Store
    >>> media = MediaCollection(  # doctest: +SKIP
    ...     Store("media", location=":memory:"),
    ...     image=image_embedder("openai/clip-vit-base-patch32"),
    ...     audio=audio_embedder("laion/clap-htsat-unfused"),
    ... )
    >>> report = media.add_folder("my_media/")  # doctest: +SKIP
    >>> report.skipped  # doctest: +SKIP
    [('my_media/broken.png', 'my_media/broken.png is not a readable image: ...')]
    >>> [hit.source for hit in media.search_images("a red circle", k=3)]  # doctest: +SKIP
    ['my_media/red-circle.png', ...]
    """

    def __init__(
        self,
        store: Store,
        *,
        image: ImageEmbedder | None = None,
        audio: AudioEmbedder | None = None,
        text: TextEmbedder | None = None,
        distance: Distance | str = Distance.COSINE,
    ) -> None:
        if image is None and audio is None and text is None:
            raise InvalidInputError("give at least one of image=, audio= or text= embedders")
        self.store = store
        self.image = image
        self.audio = audio
        self.text = text
        self.distance = Distance(distance)
        self._ready = False

    def schema(self) -> Schema:
        """The named vectors this collection needs: one per embedder given."""
        embedders = {TEXT: self.text, IMAGE: self.image, AUDIO: self.audio}
        return Schema(
            vectors={
                name: VectorSpec(embedder.dim, self.distance, model=model_id(embedder))
                for name, embedder in embedders.items()
                if embedder is not None
            }
        )

    def ensure_schema(self) -> None:
        """Create the collection with every modality's named vector (or check it matches).

        Call it before other writers (a LlamaIndex ``MSearchVectorStore`` on ``text`` or
        ``image``) add to the collection: its named vectors are fixed when it is created.
        """
        if not self._ready:
            self.store.ensure_schema(self.schema())
            self._ready = True

    # -- indexing ------------------------------------------------------------------
    def add_images(
        self,
        images: Sequence[Any],
        *,
        ids: Sequence[str] | None = None,
        metadatas: Sequence[Mapping[str, Any]] | None = None,
        skip_errors: bool = True,
    ) -> IndexReport:
        """Embed and store images; unreadable ones are skipped and reported (or raise).

        An image from a file or URL has it as ``source``, in ``metadata`` too (unless the
        caller's metadata names its own ``source``).
        """
        return self.write(
            *self.image_records(images, ids=ids, metadatas=metadatas, skip_errors=skip_errors)
        )

    def image_records(
        self,
        images: Sequence[Any],
        *,
        ids: Sequence[str] | None = None,
        metadatas: Sequence[Mapping[str, Any]] | None = None,
        skip_errors: bool = True,
    ) -> tuple[IndexReport, list[Record]]:
        """The records ``add_images`` writes, and the report of what was skipped."""
        embedder = self._need(self.image, "image")
        _check_lengths(images, ids=ids, metadatas=metadatas)
        report, records = IndexReport(), []
        loaded = []
        for position, item in enumerate(images):
            name = media.describe(item)
            try:
                picture = media.load_image(
                    item,
                    timeout=getattr(embedder, "url_timeout", media.URL_TIMEOUT_S),
                    max_bytes=getattr(embedder, "max_image_bytes", media.URL_MAX_BYTES),
                )
            except MediaError as err:
                self._skip(report, name, err, skip_errors)
                continue
            loaded.append((position, name, picture))
        if loaded:
            vectors = embedder.embed_images([picture for _, _, picture in loaded])
            for (position, name, picture), vector in zip(loaded, vectors, strict=True):
                source = _source(images[position])
                digest = hashlib.sha256(picture.tobytes()).hexdigest()
                records.append(
                    Record(
                        id=_pick(ids, position) or (source or f"image:{digest}"),
                        vectors={IMAGE: vector},
                        content=source or name,
                        metadata=_cited(_pick(metadatas, position), source),
                        source=source,
                        modality=IMAGE,
                        doc_id=source,
                        chunk=0,
                        content_hash=digest,
                    )
                )
        return report, records

    def add_audio(
        self,
        audios: Sequence[Any],
        *,
        ids: Sequence[str] | None = None,
        metadatas: Sequence[Mapping[str, Any]] | None = None,
        skip_errors: bool = True,
    ) -> IndexReport:
        """Embed and store audio, one point per fixed window (``start``/``end`` in metadata).

        A clip's points have ids ``"<id>#<window>"``, where ``<id>`` is the caller's id, else
        the file's path, else a hash of the samples. A clip from a file or URL has it as
        ``source``, in ``metadata`` too, with the window number as ``chunk``.
        """
        return self.write(
            *self.audio_records(audios, ids=ids, metadatas=metadatas, skip_errors=skip_errors)
        )

    def audio_records(
        self,
        audios: Sequence[Any],
        *,
        ids: Sequence[str] | None = None,
        metadatas: Sequence[Mapping[str, Any]] | None = None,
        skip_errors: bool = True,
    ) -> tuple[IndexReport, list[Record]]:
        """The records ``add_audio`` writes, and the report of what was skipped."""
        embedder = self._need(self.audio, "audio")
        _check_lengths(audios, ids=ids, metadatas=metadatas)
        report, records = IndexReport(), []
        windows: list[tuple[int, int, media.AudioWindow]] = []
        for position, item in enumerate(audios):
            try:
                parts = embedder.load_windows(item)  # type: ignore[attr-defined]
            except MediaError as err:
                self._skip(report, media.describe(item), err, skip_errors)
                continue
            windows.extend((position, index, window) for index, window in enumerate(parts))
        if windows:
            vectors = embedder.embed_audio([window for _, _, window in windows])
            digests: dict[int, str] = {}
            for (position, index, window), vector in zip(windows, vectors, strict=True):
                source = _source(audios[position])
                digest = hashlib.sha256(window.samples.tobytes()).hexdigest()
                base = _pick(ids, position) or source or digests.setdefault(position, digest)
                records.append(
                    Record(
                        id=chunk_id(base, index),
                        vectors={AUDIO: vector},
                        content=source or window.source,
                        metadata={
                            **_cited(_pick(metadatas, position), source, index),
                            "start": window.start,
                            "end": window.end,
                        },
                        source=source,
                        modality=AUDIO,
                        doc_id=source or base,
                        chunk=index,
                        content_hash=digest,
                    )
                )
        return report, records

    def add_folder(self, folder: str | os.PathLike[str], *, recursive: bool = True) -> IndexReport:
        """Index every image and audio file under ``folder`` (by suffix), skipping bad ones."""
        root = Path(folder)
        if not root.is_dir():
            raise InvalidInputError(f"{folder} is not a folder")
        files = sorted(path for path in (root.rglob("*") if recursive else root.iterdir()))
        images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
        audio = [p for p in files if p.suffix.lower() in AUDIO_SUFFIXES]
        report = IndexReport()
        if images and self.image is not None:
            report = report.merge(self.add_images(images))
        if audio and self.audio is not None:
            report = report.merge(self.add_audio(audio))
        return report

    async def aadd_images(self, images: Sequence[Any], **options: Any) -> IndexReport:
        return await asyncio.to_thread(self.add_images, images, **options)

    async def aadd_audio(self, audios: Sequence[Any], **options: Any) -> IndexReport:
        return await asyncio.to_thread(self.add_audio, audios, **options)

    async def aadd_folder(self, folder: str | os.PathLike[str], **options: Any) -> IndexReport:
        return await asyncio.to_thread(self.add_folder, folder, **options)

    # -- searching -----------------------------------------------------------------
    def search_images(self, query: Any, k: int = 4, filter: Any = None) -> list[Hit]:
        """Images nearest to a text query or to an example image.

        A ``str`` is always text, even one that names a file; an example is any other image
        form (``Path``, bytes, PIL image, array). ``similar_images`` takes a path or URL string.
        """
        if isinstance(query, str):
            vector = self._need(self.image, "image").embed_query(query)
            return self.store.query(IMAGE, vector, k, filter)
        return self.similar_images(query, k, filter)

    def similar_images(self, example: Any, k: int = 4, filter: Any = None) -> list[Hit]:
        """Images nearest to an example image in any form (a ``str`` is its path or URL)."""
        vector = self._need(self.image, "image").embed_images([example])[0]
        return self.store.query(IMAGE, vector, k, filter)

    def search_audio(self, query: Any, k: int = 4, filter: Any = None) -> list[Hit]:
        """Audio windows nearest to a text query (a ``str`` is always text) or to an example
        clip (``Path``, bytes, ``(array, sample_rate)``); ``similar_audio`` takes a path string."""
        if isinstance(query, str):
            vector = self._need(self.audio, "audio").embed_query(query)
            return self.store.query(AUDIO, vector, k, filter)
        return self.similar_audio(query, k, filter)

    def similar_audio(self, example: Any, k: int = 4, filter: Any = None) -> list[Hit]:
        """Audio windows nearest to an example clip in any form (a ``str`` is its path or URL)."""
        vector = self._need(self.audio, "audio").embed_audio([example])[0]
        return self.store.query(AUDIO, vector, k, filter)

    def search(self, text: str, k: int = 4, filter: Any = None) -> list[Hit]:
        """Text, images and audio for one text query, fused by rank (RRF) across modalities."""
        vectors = {
            name: embedder.embed_query(text)
            for name, embedder in ((TEXT, self.text), (IMAGE, self.image), (AUDIO, self.audio))
            if embedder is not None
        }
        return self.store.fused_query(vectors, k, filter, fusion="rrf")

    async def asearch_images(self, query: Any, k: int = 4, filter: Any = None) -> list[Hit]:
        return await asyncio.to_thread(self.search_images, query, k, filter)

    async def asearch_audio(self, query: Any, k: int = 4, filter: Any = None) -> list[Hit]:
        return await asyncio.to_thread(self.search_audio, query, k, filter)

    async def asearch(self, text: str, k: int = 4, filter: Any = None) -> list[Hit]:
        return await asyncio.to_thread(self.search, text, k, filter)

    # -- helpers -------------------------------------------------------------------
    @staticmethod
    def _need(embedder: Any, what: str) -> Any:
        if embedder is None:
            raise InvalidInputError(f"this MediaCollection has no {what} embedder ({what}=...)")
        return embedder

    @staticmethod
    def _skip(report: IndexReport, name: str, err: MediaError, skip_errors: bool) -> None:
        if not skip_errors:
            raise err
        log.warning("skipped %s: %s", name, err)
        report.skipped.append((name, str(err)))

    def write(self, report: IndexReport, records: list[Record]) -> IndexReport:
        """Store records built by ``image_records`` / ``audio_records``; returns ``report``
        with their ids added."""
        if records:
            self.ensure_schema()
            report.added.extend(self.store.upsert(records))
        return report


def _source(item: Any) -> str | None:
    """The path or URL an item came from, if it has one."""
    if isinstance(item, os.PathLike) or (isinstance(item, str) and not item.startswith("data:")):
        return os.fspath(item)
    return None


def _cited(
    metadata: Mapping[str, Any] | None, source: str | None, chunk: int | None = None
) -> dict[str, Any]:
    """The caller's metadata, with the item's ``source`` (and ``chunk``) where it has none."""
    cited = dict(metadata or {})
    if source is not None:
        cited.setdefault("source", source)
        if chunk is not None:
            cited.setdefault("chunk", chunk)
    return cited


def _pick(values: Sequence[Any] | None, position: int) -> Any:
    return None if values is None else values[position]


def _check_lengths(items: Sequence[Any], **columns: Sequence[Any] | None) -> None:
    for name, values in columns.items():
        if values is not None and len(values) != len(items):
            raise InvalidInputError(f"{name} has {len(values)} entries for {len(items)} items")
