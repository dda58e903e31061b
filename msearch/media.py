"""Images and audio from whatever callers hold, turned into what models take.

Images come from a path, bytes, a binary file object (``BytesIO``), a PIL image, a numpy
array, a ``data:`` URI or an http(s) URL and leave as RGB PIL images. Audio comes from a path
(anything soundfile reads: wav, flac, ogg, mp3), bytes, a binary file object, an
``(array, sample_rate)`` pair or an ``Audio`` and leaves as mono
float32 at the model's rate, resampled with soxr.

Audio longer than a model's window is cut into fixed windows (``audio_windows``): a window of
``window_s`` seconds every ``window_s - overlap_s`` seconds from the start, the last one
ending at the end of the clip, so the same file always gives the same windows. CLAP's own
feature extractor would instead crop a random 10 s of a longer clip.

Long recordings and the sound of videos are read in pieces (``stream_audio``, with PyAV's
bundled FFmpeg), so a six-hour file never sits in memory whole.

Anything that cannot be read raises ``MediaError`` naming the item (its path, URL or kind).
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from msearch._deps import require
from msearch.errors import MediaError
from msearch.urls import URL_MAX_BYTES, URL_TIMEOUT_S, fetch_url, shown
from msearch.urls import URL_MAX_REDIRECTS as URL_MAX_REDIRECTS  # re-exported

#: Overlap between consecutive audio windows, in seconds (a window starts every
#: ``window_s - overlap_s`` seconds).
DEFAULT_OVERLAP_S = 2.0


def describe(item: Any) -> str:
    """A short name for ``item`` in error messages: its path or URL, else its kind and size."""
    if isinstance(item, str | os.PathLike):
        text = os.fspath(item)
        if text.startswith("data:"):
            return f"data URI ({len(text)} characters)"
        return shown(text) if is_url(text) else text
    if isinstance(item, bytes | bytearray | memoryview):
        return f"bytes ({len(item)} B)"
    if isinstance(item, Audio | AudioWindow):
        return item.source
    if isinstance(item, tuple) and len(item) == 2:
        try:
            shape: Any = np.shape(item[0])
        except ValueError:  # a ragged list has no shape
            shape = type(item[0]).__name__
        return f"audio array {shape} at {item[1]} Hz"
    if isinstance(item, np.ndarray):
        return f"array {item.shape}"
    name = getattr(item, "name", None)
    return name if isinstance(name, str) else type(item).__name__


def is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


# -- images -------------------------------------------------------------------------------


def load_image(item: Any, *, timeout: float = URL_TIMEOUT_S, max_bytes: int = URL_MAX_BYTES) -> Any:
    """An RGB ``PIL.Image`` from a path, bytes, PIL image, numpy array, data URI or URL."""
    pil = require("PIL.Image", "transformers")
    if isinstance(item, pil.Image):
        return item if item.mode == "RGB" else item.convert("RGB")
    if isinstance(item, np.ndarray):
        return _image_from_array(item, pil)
    return _decode_image(_image_bytes(item, timeout, max_bytes), describe(item))


def load_images(
    items: list[Any], *, timeout: float = URL_TIMEOUT_S, max_bytes: int = URL_MAX_BYTES
) -> list[Any]:
    return [load_image(item, timeout=timeout, max_bytes=max_bytes) for item in items]


def _image_bytes(item: Any, timeout: float, max_bytes: int) -> bytes:
    if isinstance(item, bytes | bytearray | memoryview):
        return bytes(item)
    if isinstance(item, io.IOBase):
        return _read_stream(item)
    if isinstance(item, str) and is_url(item):
        return fetch_url(item, timeout=timeout, max_bytes=max_bytes)
    if isinstance(item, str) and item.startswith("data:"):
        return decode_data_uri(item)
    if isinstance(item, str | os.PathLike):
        return _read_file(item)
    raise MediaError(
        f"cannot read an image from {describe(item)}: pass a path, bytes, a PIL image, "
        "a numpy array, a data URI or an http(s) URL"
    )


def _decode_image(data: bytes, name: str) -> Any:
    pil = require("PIL.Image", "transformers")
    ops = require("PIL.ImageOps", "transformers")
    try:
        with pil.open(io.BytesIO(data)) as opened:
            limit = pil.MAX_IMAGE_PIXELS
            # PIL only warns between its limit and twice it; decoding would still allocate.
            if limit is not None and opened.width * opened.height > limit:
                raise MediaError(
                    f"{name} is {opened.width}x{opened.height} pixels, more than PIL's "
                    f"MAX_IMAGE_PIXELS ({limit}): refused as a possible decompression bomb"
                )
            opened.load()
            image = ops.exif_transpose(opened)
            return image.convert("RGB")
    except (OSError, ValueError, SyntaxError, pil.DecompressionBombError) as err:
        raise MediaError(f"{name} is not a readable image: {err}") from err


def _image_from_array(array: np.ndarray, pil: Any) -> Any:
    data = array
    if data.dtype.kind not in "buif" or data.size == 0:
        raise MediaError(f"an image array must hold numbers and pixels, got {describe(array)}")
    if data.ndim == 3 and data.shape[2] == 1:
        data = data[:, :, 0]
    if data.ndim not in (2, 3) or (data.ndim == 3 and data.shape[2] not in (3, 4)):
        raise MediaError(
            f"an image array must be (height, width) or (height, width, 3 or 4), got {array.shape}"
        )
    if data.dtype.kind == "f":
        if not np.all(np.isfinite(data)):
            raise MediaError(f"{describe(array)} holds NaN or infinite pixels")
        data = np.clip(data * 255.0 + 0.5, 0, 255)  # floats are taken as 0..1 intensities
    elif data.dtype.kind in "iu" and (data.min() < 0 or data.max() > 255):
        raise MediaError(
            f"{describe(array)}: integer pixels must be 0..255 (scale 16-bit images to 8 bits)"
        )
    image = pil.fromarray(np.ascontiguousarray(data.astype(np.uint8)))
    return image.convert("RGB")


def encode_png(image: Any) -> bytes:
    """Lossless PNG bytes of a PIL image, so a server sees exactly the pixels loaded here."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def data_uri(data: bytes, mimetype: str) -> str:
    return f"data:{mimetype};base64,{base64.b64encode(data).decode('ascii')}"


def decode_data_uri(uri: str) -> bytes:
    header, _, payload = uri.partition(",")
    if not header.endswith(";base64"):
        raise MediaError(f"only base64 data URIs are supported, got {header[:40]!r}")
    try:
        return base64.b64decode(payload, validate=True)
    except binascii.Error as err:
        raise MediaError(f"the data URI is not valid base64: {err}") from err


def _read_stream(stream: io.IOBase) -> bytes:
    """All bytes of an open binary file or BytesIO (from its start, when it can seek)."""
    if stream.seekable():
        stream.seek(0)
    data = stream.read()
    if not isinstance(data, bytes):
        raise MediaError(f"{describe(stream)} is a text stream; open media files in binary mode")
    return data


def _read_file(path: str | os.PathLike[str]) -> bytes:
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as err:
        raise MediaError(f"{os.fspath(path)} could not be read: {err.strerror or err}") from err


# -- audio --------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Audio:
    """A mono float32 clip at ``sample_rate``; ``source`` names where it came from."""

    samples: np.ndarray
    sample_rate: int
    source: str

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


@dataclass(frozen=True, eq=False)
class AudioWindow:
    """One fixed window of a clip: its samples and where it lies in the clip, in seconds."""

    samples: np.ndarray
    sample_rate: int
    source: str
    start: float
    end: float


def load_audio(
    item: Any,
    sample_rate: int | None = None,
    *,
    timeout: float = URL_TIMEOUT_S,
    max_bytes: int = URL_MAX_BYTES,
) -> Audio:
    """Mono float32 audio from a path, bytes, URL, ``(array, rate)``, ``Audio`` or
    ``AudioWindow``.

    With ``sample_rate`` the clip is resampled to it (soxr, high quality). A clip with no
    samples is an error: there is nothing to embed. A URL is fetched as ``msearch.urls``
    says, within ``timeout`` seconds overall and ``max_bytes``.
    """
    name = describe(item)
    if isinstance(item, Audio | AudioWindow):
        samples, rate = item.samples, item.sample_rate
    elif isinstance(item, tuple) and len(item) == 2:
        rate = _check_rate(item[1], name)
        try:
            array = np.asarray(item[0])
        except (TypeError, ValueError) as err:  # ragged lists and the like
            raise MediaError(f"{name}: not an array of audio samples ({err})") from err
        samples = to_mono(array, name)
    elif isinstance(item, np.ndarray):
        raise MediaError(f"{name}: pass audio arrays as (array, sample_rate) pairs")
    else:
        samples, rate = _decode_audio(_audio_bytes(item, timeout, max_bytes), name)
    if samples.size == 0:
        raise MediaError(f"{name} has no audio samples (0 length)")
    if not np.all(np.isfinite(samples)):
        raise MediaError(f"{name} contains NaN or infinite samples")
    if sample_rate is not None and rate != sample_rate:
        samples = resample(samples, rate, sample_rate)
        rate = sample_rate
        if samples.size == 0:
            raise MediaError(f"{name} is too short to leave any sample at {sample_rate} Hz")
    return Audio(np.ascontiguousarray(samples, dtype=np.float32), int(rate), name)


def _check_rate(rate: Any, name: str) -> int:
    if not isinstance(rate, int | np.integer) or rate <= 0:
        raise MediaError(f"{name}: the sample rate must be a positive integer, got {rate!r}")
    return int(rate)


def _audio_bytes(item: Any, timeout: float, max_bytes: int) -> bytes:
    if isinstance(item, bytes | bytearray | memoryview):
        return bytes(item)
    if isinstance(item, io.IOBase):
        return _read_stream(item)
    if isinstance(item, str) and item.startswith("data:"):
        return decode_data_uri(item)
    if isinstance(item, str) and is_url(item):
        return fetch_url(item, timeout=timeout, max_bytes=max_bytes)
    if isinstance(item, str | os.PathLike):
        return _read_file(item)
    raise MediaError(
        f"cannot read audio from {describe(item)}: pass a path, bytes, an (array, sample_rate) "
        "pair or an msearch.media.Audio"
    )


def _decode_audio(data: bytes, name: str) -> tuple[np.ndarray, int]:
    soundfile = require("soundfile", "audio")
    try:
        samples, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError) as err:
        raise MediaError(f"{name} is not readable audio: {err}") from err
    return samples.mean(axis=1), int(rate)


def to_mono(samples: np.ndarray, name: str = "audio") -> np.ndarray:
    """Average the channels of ``samples``; integer PCM is scaled to -1..1.

    A 2-D array is read as (frames, channels) or (channels, frames): the shorter axis is
    taken as the channels, since clips have far more frames than channels.
    """
    data = samples
    if data.dtype.kind not in "iuf":
        raise MediaError(f"{name}: audio samples must be numbers, got dtype {data.dtype}")
    if data.dtype.kind in "iu":
        half = 2.0 ** (data.dtype.itemsize * 8 - 1)
        offset = half if data.dtype.kind == "u" else 0.0
        data = (data.astype(np.float64) - offset) / half
    data = np.asarray(data, dtype=np.float32)
    if data.ndim == 2:
        channel_axis = 1 if data.shape[1] <= data.shape[0] else 0
        data = data.mean(axis=channel_axis)
    if data.ndim != 1:
        raise MediaError(f"{name}: expected a 1-D or 2-D audio array, got shape {samples.shape}")
    return data


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """``samples`` at ``to_rate``, with soxr's high-quality resampler."""
    if from_rate == to_rate:
        return samples
    soxr = require("soxr", "audio")
    return np.asarray(soxr.resample(samples, from_rate, to_rate, quality="HQ"), dtype=np.float32)


def audio_windows(
    audio: Audio, window_s: float, overlap_s: float = DEFAULT_OVERLAP_S
) -> list[AudioWindow]:
    """``audio`` cut into windows of ``window_s`` seconds, one every ``window_s - overlap_s``.

    A clip no longer than one window is a single window; otherwise windows start at 0, hop,
    2*hop ... until one reaches the end of the clip (that last one may be shorter).
    """
    rate = audio.sample_rate
    size, hop = _window_steps(window_s, overlap_s, rate)
    total = len(audio.samples)
    count = 1 if total <= size else 1 + math.ceil((total - size) / hop)
    windows = []
    for index in range(count):
        start = index * hop
        stop = min(start + size, total)
        windows.append(
            AudioWindow(audio.samples[start:stop], rate, audio.source, start / rate, stop / rate)
        )
    return windows


def _window_steps(window_s: float, overlap_s: float, rate: int) -> tuple[int, int]:
    """A window's length and the step between window starts, in samples."""
    if window_s <= 0 or not 0 <= overlap_s < window_s:
        raise ValueError(
            f"need window_s > 0 and 0 <= overlap_s < window_s ({window_s}, {overlap_s})"
        )
    return round(window_s * rate), round((window_s - overlap_s) * rate)


def repeat_pad(samples: np.ndarray, length: int) -> np.ndarray:
    """Tile a short clip as many whole times as fit in ``length``, zero-fill the rest.

    This is CLAP's ``"repeatpad"``; doing it before sending audio to infinity (which would
    zero-pad) makes infinity's vectors equal transformers'.
    """
    if len(samples) >= length:
        return samples[:length]
    tiled = np.tile(samples, length // len(samples))
    return np.pad(tiled, (0, length - len(tiled))).astype(np.float32)


def encode_wav(samples: np.ndarray, sample_rate: int) -> bytes:
    """A float32 WAV file of ``samples``: lossless, so a server decodes exactly these values."""
    soundfile = require("soundfile", "audio")
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, sample_rate, format="WAV", subtype="FLOAT")
    return buffer.getvalue()


def stream_audio(item: Any, sample_rate: int, piece_s: float) -> Iterator[AudioWindow]:
    """The sound of ``item`` as mono float32 at ``sample_rate``, in pieces of ``piece_s``
    seconds (the last one shorter), each with its place in the recording.

    A path, bytes or binary file of any format FFmpeg reads (audio files, and the first audio
    track of a video) is decoded a piece at a time; a file with no audio track gives no
    pieces. An ``(array, rate)`` pair or an ``Audio`` is already in memory and is cut up.
    """
    if piece_s <= 0:
        raise ValueError(f"piece_s must be > 0, got {piece_s}")
    size = max(1, round(piece_s * sample_rate))
    if isinstance(item, Audio | AudioWindow | tuple):
        audio = load_audio(item, sample_rate)
        for start in range(0, len(audio.samples), size):
            piece = audio.samples[start : start + size]
            begins, ends = start / sample_rate, (start + len(piece)) / sample_rate
            yield AudioWindow(piece, sample_rate, audio.source, begins, ends)
        return
    yield from _decoded_pieces(item, sample_rate, size)


def _decoded_pieces(item: Any, sample_rate: int, size: int) -> Iterator[AudioWindow]:
    av = require("av", "speech")
    name = describe(item)
    local = isinstance(item, os.PathLike) or (
        isinstance(item, str) and not is_url(item) and not item.startswith("data:")
    )
    # a file is read by FFmpeg a piece at a time; anything else arrives as bytes first
    opened: Any = (
        os.fspath(Path(item).expanduser())
        if local
        else io.BytesIO(_audio_bytes(item, URL_TIMEOUT_S, URL_MAX_BYTES))
    )
    try:
        container = av.open(opened)
    except (av.error.FFmpegError, OSError, ValueError) as err:
        raise MediaError(f"{name} is not a readable audio or video file: {err}") from err
    with container:
        if not container.streams.audio:
            return
        # as load_audio reads a file: its own rate, channels averaged, then soxr (a stream of
        # it gives exactly the one-shot result), so both paths give the same samples
        planar = av.AudioResampler(format="fltp")
        stream: Any = None
        held: list[np.ndarray] = []
        count = done = 0
        try:
            for frame in container.decode(container.streams.audio[0]):
                for out in planar.resample(frame):
                    if stream is None:
                        stream = _Resampled(out.sample_rate, sample_rate)
                    held.append(stream.push(out.to_ndarray().mean(axis=0)))
                    count += len(held[-1])
                while count >= size:
                    piece, held, count = _take(held, size)
                    begins, ends = done / sample_rate, (done + size) / sample_rate
                    yield AudioWindow(piece, sample_rate, name, begins, ends)
                    done += size
        except av.error.FFmpegError as err:
            raise MediaError(f"{name} is damaged or cut short: {err}") from err
        if stream is not None:
            held.append(stream.push(np.zeros(0, dtype=np.float32), last=True))
            count += len(held[-1])
        while count:
            piece, held, count = _take(held, min(size, count))
            begins, ends = done / sample_rate, (done + len(piece)) / sample_rate
            yield AudioWindow(piece, sample_rate, name, begins, ends)
            done += len(piece)


class _Resampled:
    """soxr's streaming resampler (high quality), or nothing to do at the same rate."""

    def __init__(self, from_rate: int, to_rate: int) -> None:
        self._stream = None
        if from_rate != to_rate:
            soxr = require("soxr", "audio")
            self._stream = soxr.ResampleStream(from_rate, to_rate, 1, dtype="float32", quality="HQ")

    def push(self, samples: np.ndarray, last: bool = False) -> np.ndarray:
        data = np.ascontiguousarray(samples, dtype=np.float32)
        if self._stream is None:
            return data
        return np.asarray(self._stream.resample_chunk(data, last=last), dtype=np.float32)


def _take(held: list[np.ndarray], size: int) -> tuple[np.ndarray, list[np.ndarray], int]:
    """The first ``size`` samples of ``held``, and what is left (as a list and its length)."""
    joined = np.concatenate(held)
    rest = joined[size:]
    return joined[:size].astype(np.float32, copy=False), [rest] if rest.size else [], rest.size


def media_duration(item: Any) -> float | None:
    """A media file's length in seconds from its header, or None when it does not say."""
    if not isinstance(item, str | os.PathLike):
        return None
    av = require("av", "speech")
    try:
        with av.open(os.fspath(item)) as container:
            if container.duration is not None:
                return float(container.duration) / 1_000_000  # av.time_base
    except (av.error.FFmpegError, OSError):
        return None
    return None


def stream_windows(
    item: Any,
    sample_rate: int,
    window_s: float,
    overlap_s: float = DEFAULT_OVERLAP_S,
    piece_s: float = 60.0,
) -> Iterator[AudioWindow]:
    """The windows ``audio_windows`` cuts, decoded ``piece_s`` seconds at a time: the same
    windows for a file of any length, with only a piece and a window held in memory."""
    size, hop = _window_steps(window_s, overlap_s, sample_rate)
    held = np.zeros(0, dtype=np.float32)
    first = 0  # the sample number of held[0], which is where the next window starts
    total = 0
    name = describe(item)
    for piece in stream_audio(item, sample_rate, max(piece_s, window_s)):
        held = np.concatenate([held, piece.samples])
        total += len(piece.samples)
        while first + size <= total:  # a whole window is here
            begins, ends = first / sample_rate, (first + size) / sample_rate
            yield AudioWindow(held[:size].copy(), sample_rate, name, begins, ends)
            held = held[hop:]
            first += hop
    # the last window ends at the end of the clip, unless the last whole one did
    if total and (first == 0 or first - hop + size < total):
        yield AudioWindow(held.copy(), sample_rate, name, first / sample_rate, total / sample_rate)
