"""Frames of a video worth searching: one per scene, and one at least every few seconds.

``video_frames`` decodes the first video stream with PyAV and looks at a frame every
``look_s`` seconds as a tiny colour thumbnail. A frame is kept when it differs from the last
kept one by a scene change's worth (``scene_change``), or when ``every_s`` seconds have passed
and it is not a near-duplicate of it (``duplicate``), so ten thousand identical frames give
one point and a slide show gives one per slide. Each kept frame covers the time until the
next one. Its sound is read separately (``msearch.media.stream_audio``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from msearch._deps import require
from msearch.errors import MediaError

VIDEO_SUFFIXES = frozenset({".mp4", ".mkv", ".webm", ".mov", ".avi", ".m4v"})

#: The side of the thumbnail frames are compared by.
_THUMB = 16


@dataclass(frozen=True)
class FrameSampling:
    """How frames are picked (differences are mean absolute thumbnail differences, 0..1)."""

    every_s: float = 10.0
    scene_change: float = 0.12
    duplicate: float = 0.02
    look_s: float = 0.5
    max_frames: int = 5_000

    def __post_init__(self) -> None:
        if self.every_s <= 0 or self.look_s <= 0 or self.max_frames < 1:
            raise ValueError("every_s and look_s must be > 0 and max_frames >= 1")
        if not 0 <= self.duplicate <= self.scene_change <= 1:
            raise ValueError("need 0 <= duplicate <= scene_change <= 1")


@dataclass(frozen=True)
class Frame:
    """A kept frame: an RGB PIL image and the stretch of the video it stands for, in seconds."""

    image: Any
    start: float
    end: float


def video_frames(path: str | os.PathLike[str], sampling: FrameSampling) -> Iterator[Frame]:
    """The kept frames of ``path``'s first video stream, in time order (none without one)."""
    av = require("av", "speech")
    name = os.fspath(path)
    try:
        container = av.open(name)
    except (av.error.FFmpegError, OSError, ValueError) as err:
        raise MediaError(f"{name} is not a readable video file: {err}") from err
    with container:
        if not container.streams.video:
            return
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        origin = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
        kept: tuple[Any, float, np.ndarray] | None = None
        count = 0
        last_seen = 0.0
        look_at = 0.0
        try:
            for decoded in container.decode(stream):
                if decoded.time is None:
                    continue
                time = max(0.0, float(decoded.time) - origin)
                last_seen = time
                if time < look_at:
                    continue
                look_at = time + sampling.look_s
                thumb = _thumbnail(decoded)
                if kept is not None and not _keeps(kept, time, thumb, sampling):
                    continue
                if kept is not None:
                    yield Frame(kept[0], kept[1], time)
                    count += 1
                    if count >= sampling.max_frames:
                        return
                kept = (decoded.to_image(), time, thumb)
        except av.error.FFmpegError as err:
            raise MediaError(f"{name} is damaged or cut short: {err}") from err
        if kept is not None:
            duration = float(container.duration) / 1_000_000 if container.duration else 0.0
            yield Frame(kept[0], kept[1], max(duration, last_seen, kept[1]))


def _thumbnail(frame: Any) -> np.ndarray:
    small = frame.reformat(width=_THUMB, height=_THUMB, format="rgb24").to_ndarray()
    return np.asarray(small, dtype=np.float32) / 255.0


def _keeps(
    kept: tuple[Any, float, np.ndarray], time: float, thumb: np.ndarray, sampling: FrameSampling
) -> bool:
    difference = float(np.abs(thumb - kept[2]).mean())
    if difference >= sampling.scene_change:
        return True
    return time - kept[1] >= sampling.every_s and difference >= sampling.duplicate
