"""Make the spoken clip and the short video in examples/media (synthetic, free to ship).

    apt-get install espeak-ng
    python -m tests.support.make_example_media

``cats-speech.flac``: espeak-ng reading two sentences, 16 kHz mono FLAC. ``shapes.mp4``: six
seconds of 96x96 H.264, two seconds each of a red, a green and a blue screen, with espeak-ng
saying what it shows as its AAC sound track. The tests read the clip and make their own
videos with the same writer, so they need no espeak-ng.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile
import soxr

from tests.support.media_fixtures import SPEECH_CLIP, write_video

SPEECH = "Cats sleep for most of the day, often twelve to sixteen hours. Kittens sleep even more."
NARRATION = "This short video shows a red screen, then a green screen, then a blue screen."


def spoken(text: str, rate: int = 16_000) -> np.ndarray:
    """``text`` said by espeak-ng, mono float32 at ``rate``."""
    with tempfile.TemporaryDirectory() as folder:
        wav = Path(folder) / "speech.wav"
        subprocess.run(["espeak-ng", "-s", "150", "-w", str(wav), text], check=True)
        samples, source_rate = soundfile.read(wav, dtype="float32")
    return np.asarray(soxr.resample(samples, source_rate, rate), dtype=np.float32)


def main() -> None:
    soundfile.write(SPEECH_CLIP, spoken(SPEECH), 16_000)
    scenes = [((220, 30, 30), 2.0), ((30, 200, 30), 2.0), ((30, 30, 220), 2.0)]
    write_video(SPEECH_CLIP.parent / "shapes.mp4", scenes, sound=(spoken(NARRATION), 16_000))


if __name__ == "__main__":
    main()
