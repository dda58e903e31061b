"""Frames and sound of videos, decoded with PyAV from videos the tests make."""

from __future__ import annotations

import numpy as np
import pytest

from msearch import media
from msearch.errors import MediaError
from msearch.video import FrameSampling, video_frames
from tests.support.media_fixtures import speech_samples, write_video

RED, GREEN, BLUE, GREY = (220, 30, 30), (30, 200, 30), (30, 30, 220), (128, 128, 128)


def test_one_frame_per_scene_at_its_time(tmp_path) -> None:
    path = write_video(tmp_path / "scenes.mp4", [(RED, 3.0), (GREEN, 2.0), (BLUE, 4.0)])
    frames = list(video_frames(path, FrameSampling()))
    assert [f.image.getpixel((48, 48)) for f in frames] == [
        pytest.approx(c, abs=6) for c in (RED, GREEN, BLUE)
    ]
    look = FrameSampling().look_s
    assert [f.start for f in frames] == [
        0.0,
        pytest.approx(3.0, abs=look),
        pytest.approx(5.0, abs=look),
    ]
    assert [f.end for f in frames[:-1]] == [f.start for f in frames[1:]]
    assert frames[-1].end == pytest.approx(9.0, abs=0.2)


def test_identical_frames_give_one_point_and_every_s_bounds_the_gap(tmp_path) -> None:
    still = write_video(tmp_path / "still.mp4", [(GREY, 1000.0)], fps=10, size=32)  # 10,000
    assert len(list(video_frames(still, FrameSampling()))) == 1
    # A slow fade never makes a scene change, but is sampled at least every 4 s.
    fade = [((c, c, c), 1.0) for c in range(40, 200, 8)]  # 20 one-second steps
    path = write_video(tmp_path / "fade.mp4", fade, fps=5, size=32)
    starts = [f.start for f in video_frames(path, FrameSampling(every_s=4.0))]
    assert len(starts) >= 5
    assert max(np.diff(starts)) <= 4.0 + FrameSampling().look_s


def test_damaged_and_empty_videos_are_media_errors(tmp_path) -> None:
    good = write_video(tmp_path / "good.mp4", [(RED, 2.0), (BLUE, 2.0)])
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    for path in (truncated, empty):
        with pytest.raises(MediaError, match=path.name):
            list(video_frames(path, FrameSampling()))
        with pytest.raises(MediaError, match=path.name):
            list(media.stream_audio(path, 16_000, 30))


def test_sound_track_streams_and_silent_videos_have_none(tmp_path) -> None:
    speech = speech_samples(16_000)
    voiced = write_video(tmp_path / "voiced.mp4", [(RED, 7.0)], sound=(speech, 16_000))
    pieces = list(media.stream_audio(voiced, 16_000, 2.0))
    total = sum(len(p.samples) for p in pieces)
    assert abs(total - len(speech)) < 0.1 * 16_000  # the AAC encoder pads a little
    assert [p.start for p in pieces] == [2.0 * i for i in range(len(pieces))]
    mute = write_video(tmp_path / "mute.mp4", [(RED, 2.0)])
    assert list(media.stream_audio(mute, 16_000, 30)) == []
    assert list(media.stream_windows(mute, 48_000, 10.0)) == []


def test_audio_files_have_no_frames(tmp_path) -> None:
    import soundfile

    path = tmp_path / "tone.wav"
    soundfile.write(path, np.zeros(16_000, dtype=np.float32), 16_000)
    assert list(video_frames(path, FrameSampling())) == []


def test_streamed_windows_equal_whole_clip_windows() -> None:
    rng = np.random.default_rng(3)
    rate = 8_000
    for seconds in (0.1, 5.0, 10.0, 18.0, 26.0, 47.3):
        samples = rng.standard_normal(round(seconds * rate)).astype(np.float32)
        whole = media.audio_windows(media.Audio(samples, rate, "x"), 10.0, 2.0)
        for piece_s in (10.0, 25.0, 600.0):
            streamed = list(media.stream_windows((samples, rate), rate, 10.0, 2.0, piece_s))
            assert [(w.start, w.end) for w in streamed] == [(w.start, w.end) for w in whole]
            assert all(
                np.array_equal(a.samples, b.samples) for a, b in zip(streamed, whole, strict=True)
            )


def test_a_wav_streams_to_its_exact_samples(tmp_path) -> None:
    import soundfile

    rate = 16_000
    samples = (0.5 * np.sin(np.arange(rate * 5) / 7.0)).astype(np.float32)
    path = tmp_path / "exact.wav"
    soundfile.write(path, samples, rate, subtype="FLOAT")
    streamed = np.concatenate([p.samples for p in media.stream_audio(path, rate, 1.3)])
    np.testing.assert_array_equal(streamed, samples)


def test_streamed_sound_equals_the_whole_file_read(tmp_path) -> None:
    """Decoded a piece at a time (PyAV, soxr's stream) or whole (soundfile, soxr): the same
    samples, so streamed windows get the vectors the library's whole-clip path gives."""
    import soundfile

    rng = np.random.default_rng(5)
    stereo = (0.3 * rng.standard_normal((44_100 * 9, 2))).astype(np.float32)
    path = tmp_path / "stereo.flac"
    soundfile.write(path, stereo, 44_100)
    whole = media.load_audio(path, 48_000).samples
    streamed = np.concatenate([p.samples for p in media.stream_audio(path, 48_000, 2.5)])
    assert len(streamed) == len(whole)
    np.testing.assert_allclose(streamed, whole, atol=1e-6)
