"""Hostile recordings and videos: cut at any byte they load or fail with MediaError, in time;
six hours of silence index in bounded memory (streamed, never decoded whole).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import soundfile
from hypothesis import given
from hypothesis import strategies as st

from msearch import media
from msearch.errors import MediaError
from msearch.video import FrameSampling, video_frames
from tests.reliability._mode import examples, within
from tests.support.media_fixtures import speech_samples, write_video

LIMIT_S = 30.0
ROOT = Path(__file__).parents[2]


@cache
def _video_bytes(folder: str) -> bytes:
    path = Path(folder) / "source.mp4"
    scenes = [((200, 40, 40), 2.0), ((40, 200, 40), 2.0)]
    return write_video(path, scenes, sound=(speech_samples(), 16_000)).read_bytes()


def _read_all(path: Path) -> None:
    list(video_frames(path, FrameSampling()))
    list(media.stream_audio(path, 16_000, 30.0))


@given(cut=st.integers(min_value=0, max_value=10**6))
@examples(bounded=15, soaked=300)
def test_a_video_cut_anywhere_loads_or_is_a_media_error(tmp_path_factory, cut: int) -> None:
    folder = tmp_path_factory.getbasetemp() / "cut-videos"
    folder.mkdir(exist_ok=True)
    data = _video_bytes(str(folder))
    path = folder / "cut.mp4"
    path.write_bytes(data[: cut % (len(data) + 1)])
    try:
        within(LIMIT_S, _read_all, path)
    except MediaError as err:
        assert "cut.mp4" in str(err)


@given(noise=st.binary(min_size=0, max_size=4096))
@examples(bounded=15, soaked=300)
def test_random_bytes_named_as_a_video(tmp_path_factory, noise: bytes) -> None:
    path = tmp_path_factory.getbasetemp() / "noise.mkv"
    path.write_bytes(noise)
    try:
        within(LIMIT_S, _read_all, path)
    except MediaError as err:
        assert "noise.mkv" in str(err)


_SIX_HOURS = """
import json, sys
from pathlib import Path
from msearch import text_embedder
from msearch.indexing import FolderIndexer, IndexOptions
from msearch.multimodal import audio_embedder
from msearch.speech import transcriber
from msearch.store import Store
folder, db, clap, minilm = sys.argv[1:]
with Store("six", path=db) as store:
    summary = FolderIndexer(
        store, text_embedder(minilm), audio=audio_embedder(clap),
        speech=transcriber(show_progress=False), options=IndexOptions(show_progress=False),
    ).index(folder)
    modalities = sorted({hit.modality for hit in store.scan()})
    count = store.count()
# VmHWM starts afresh at exec; ru_maxrss would carry the pytest parent's size from the fork
status = Path("/proc/self/status").read_text().splitlines()
peak = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
print(json.dumps({"line": summary.line(), "modalities": modalities, "count": count, "peak": peak}))
"""


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("MSEARCH_TEST_STACK") == "legacy",
    reason="2.5 minutes, stack-independent (PyAV, soxr, faster-whisper): runs in the tests session",
)
def test_six_hours_of_silence_index_in_bounded_memory(tmp_path, tiny_clap, minilm) -> None:
    """2,700 sound windows and no transcript. Decoding the file whole would hold 1.4 GB at
    Whisper's 16 kHz and 4.1 GB at CLAP's 48 kHz; the whole process stays under 1.5 GiB."""
    folder = tmp_path / "long"
    folder.mkdir()
    rate = 16_000
    with soundfile.SoundFile(folder / "silence.flac", "w", rate, 1, format="FLAC") as out:
        for _ in range(36):  # 36 blocks of ten minutes
            out.write(np.zeros(rate * 600, dtype=np.float32))
    child = subprocess.run(
        [sys.executable, "-c", _SIX_HOURS, str(folder), str(tmp_path / "db"), tiny_clap, minilm],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
        check=False,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    report = json.loads(child.stdout.splitlines()[-1])
    assert report["line"].startswith("indexed 1, 6:00:00 of audio and video,")
    assert report["modalities"] == ["audio"] and report["count"] == 2_700  # 1 + (21600-10)/8
    assert report["peak"] < 1.5 * 1024**3, report["peak"]
