"""Speech in recordings and videos: transcripts with times, and the text chunks they become.

``transcriber`` builds a speech-to-text model (Whisper on faster-whisper, offline: a local
folder, or the tiny.en model that ``msearch[speech]`` installs). ``speech_chunks`` groups a
transcript's segments into the passages the indexer embeds with the text model, each with
its start and end in seconds, so a search for what was said finds where it was said.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from msearch.backends import build_backend
from msearch.datatypes import Segment, Transcript
from msearch.errors import InvalidInputError
from msearch.models import DEFAULT_TRANSCRIBER, Kind, Modality, ModelSpec, get_spec
from msearch.protocols import Transcriber

#: The longest stretch of speech, in seconds, that one indexed passage covers; a passage never
#: splits a segment, so one may run longer when a single segment does.
PASSAGE_S = 30.0


def transcriber(
    model: str = DEFAULT_TRANSCRIBER, backend: str = "faster-whisper", **options: Any
) -> Transcriber:
    """A speech-to-text model: ``transcribe(audio)`` gives a ``Transcript`` of timed segments.

    Options (faster-whisper): ``language``, ``beam_size``, ``vad`` (skip non-speech, on),
    ``precision`` ("int8", "float32"), ``threads``, ``device``, ``piece_s`` (seconds decoded
    at a time), ``allow_download``, ``show_progress``. Nothing loads here.

    >>> from msearch.speech import transcriber
    >>> whisper = transcriber()  # doctest: +SKIP
    >>> transcript = whisper.transcribe("cats.wav")  # doctest: +SKIP
    >>> [(s.start, s.end, s.text) for s in transcript.segments]  # doctest: +SKIP
    [(0.0, 3.72, 'Cats sleep for most of the day, often 12 to 16 hours.')]
    """
    try:
        spec = get_spec(model)
    except KeyError:
        # An unregistered model (a local folder) is taken at its word: a speech model.
        spec = ModelSpec(name=model, modality=Modality.AUDIO, kind=Kind.TRANSCRIBER)
    if spec.kind is not Kind.TRANSCRIBER:
        raise InvalidInputError(
            f"{model!r} is a registered {spec.kind.value} model, not a speech model"
        )
    made: Transcriber = build_backend("speech", backend, spec, dict(options))
    return made


def speech_chunks(transcript: Transcript, passage_s: float = PASSAGE_S) -> Iterator[Segment]:
    """The transcript's segments joined into passages of up to ``passage_s`` seconds."""
    group: list[Segment] = []
    for segment in transcript.segments:
        if group and segment.end - group[0].start > passage_s:
            yield _joined(group)
            group = []
        group.append(segment)
    if group:
        yield _joined(group)


def _joined(group: list[Segment]) -> Segment:
    return Segment(group[0].start, group[-1].end, " ".join(s.text for s in group))


def timestamp(seconds: float) -> str:
    """``m:ss`` (or ``h:mm:ss``) for a place in a recording."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
