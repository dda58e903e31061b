"""The public image and audio embedding API, written once over each backend's encoders.

``ImageEmbedderBase`` and ``AudioEmbedderBase`` extend ``TextEmbedderBase`` (the text side:
queries in text go through the same model's text tower) with ``embed_images`` and
``embed_audio``. Loading media (files, URLs, decoding, resampling) happens here, in the
caller's thread or, for async callers, in a worker thread; backends only see decoded RGB PIL
images or mono float32 windows at the model's rate.

Audio longer than the model's window is cut into fixed windows (``msearch.media``); a clip's
vector from ``embed_audio`` is the normalized mean of its windows' vectors. To keep one vector
per window (one point per window in a store), cut the windows yourself with
``msearch.media.audio_windows`` and embed each.
"""

from __future__ import annotations

import abc
import asyncio
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from msearch import media
from msearch.backends.base import EmbedOptions, TextEmbedderBase, l2_normalize
from msearch.models import ModelSpec

#: CLAP's audio format: 48 kHz, a 10 s window.
CLAP_SAMPLE_RATE = 48_000
CLAP_WINDOW_S = 10.0


def check_items(items: Sequence[Any], what: str) -> list[Any]:
    """A list copy of ``items``; a single path or bytes object is refused, not iterated."""
    if isinstance(items, str | bytes):
        raise TypeError(f"{what} must be a list, not a single {type(items).__name__}")
    return list(items)


@dataclass(frozen=True, kw_only=True)
class ImageOptions(EmbedOptions):
    """An embedder's options, plus ``url_timeout`` and ``max_image_bytes``, which bound
    downloads of image URLs."""

    url_timeout: float = media.URL_TIMEOUT_S
    max_image_bytes: int = media.URL_MAX_BYTES


@dataclass(frozen=True, kw_only=True)
class AudioOptions(EmbedOptions):
    """An embedder's options, plus the model's input format (``sample_rate``, ``window_s``;
    CLAP: 48 kHz, 10 s) and ``overlap_s``, the overlap between windows of longer clips."""

    sample_rate: int = CLAP_SAMPLE_RATE
    window_s: float = CLAP_WINDOW_S
    overlap_s: float = media.DEFAULT_OVERLAP_S


class ImageEmbedderBase(TextEmbedderBase):
    """Text embeddings plus ``embed_images`` in the same vector space (options:
    ``ImageOptions``)."""

    Options: ClassVar[type[ImageOptions]] = ImageOptions
    options: ImageOptions

    def __init__(self, spec: ModelSpec, options: ImageOptions | None = None) -> None:
        TextEmbedderBase.__init__(self, spec, options)
        self.url_timeout = self.options.url_timeout
        self.max_image_bytes = self.options.max_image_bytes

    @abc.abstractmethod
    def _encode_images(self, images: list[Any]) -> Any:
        """Vectors (n, dim) for RGB PIL images; sync or async per the execution base."""

    def _load_images(self, items: list[Any]) -> list[Any]:
        return media.load_images(items, timeout=self.url_timeout, max_bytes=self.max_image_bytes)

    def embed_images(self, images: Sequence[Any]) -> np.ndarray:
        items = check_items(images, "images")
        if not items:
            return self._empty()
        return self._finish(self._sync(self._encode_images, self._load_images(items)))

    async def aembed_images(self, images: Sequence[Any]) -> np.ndarray:
        items = check_items(images, "images")
        if not items:
            return self._empty()
        loaded = await asyncio.to_thread(self._load_images, items)
        return self._finish(await self._async(self._encode_images, loaded))


class AudioEmbedderBase(TextEmbedderBase):
    """Text embeddings plus ``embed_audio`` in the same vector space (options:
    ``AudioOptions``)."""

    Options: ClassVar[type[AudioOptions]] = AudioOptions
    options: AudioOptions

    def __init__(self, spec: ModelSpec, options: AudioOptions | None = None) -> None:
        TextEmbedderBase.__init__(self, spec, options)
        overlap_s, window_s = self.options.overlap_s, self.options.window_s
        if not 0 <= overlap_s < window_s:
            raise ValueError(f"need 0 <= overlap_s < window_s, got {overlap_s} and {window_s}")
        self.sample_rate = self.options.sample_rate
        self.window_s = window_s
        self.overlap_s = overlap_s

    @abc.abstractmethod
    def _encode_audio(self, clips: list[np.ndarray]) -> Any:
        """Vectors (n, dim) for mono float32 clips at ``sample_rate``, each at most one window."""

    @property
    def window_samples(self) -> int:
        return round(self.window_s * self.sample_rate)

    def load_windows(self, item: Any) -> list[media.AudioWindow]:
        """The fixed windows ``item`` is embedded as, at the model's sample rate."""
        clip = media.load_audio(item, self.sample_rate)
        return media.audio_windows(clip, self.window_s, self.overlap_s)

    def _prepare(self, items: list[Any]) -> tuple[list[np.ndarray], list[int]]:
        windows = [self.load_windows(item) for item in items]
        return [w.samples for ws in windows for w in ws], [len(ws) for ws in windows]

    def _pool(self, vectors: np.ndarray, counts: list[int]) -> np.ndarray:
        if all(count == 1 for count in counts):
            return vectors
        bounds = np.cumsum([0, *counts])
        pooled = np.stack(
            [vectors[start:stop].mean(axis=0) for start, stop in itertools.pairwise(bounds)]
        )
        return l2_normalize(pooled) if self.normalize else pooled

    def embed_audio(self, audios: Sequence[Any]) -> np.ndarray:
        items = check_items(audios, "audios")
        if not items:
            return self._empty()
        clips, counts = self._prepare(items)
        return self._pool(self._finish(self._sync(self._encode_audio, clips)), counts)

    async def aembed_audio(self, audios: Sequence[Any]) -> np.ndarray:
        items = check_items(audios, "audios")
        if not items:
            return self._empty()
        clips, counts = await asyncio.to_thread(self._prepare, items)
        return self._pool(self._finish(await self._async(self._encode_audio, clips)), counts)
