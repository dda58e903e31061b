"""Speech and video: transcription speed, and ``msearch index`` on a ten-minute video.

1. Whisper tiny.en (the packaged CTranslate2 model, int8, 2 threads) on three minutes of the
   bundled text documents read aloud by espeak-ng (needs ``apt-get install espeak-ng``; made
   once and cached): faster-whisper called directly on the whole array beside msearch's
   transcriber (decoded and transcribed in pieces) with its defaults and its two speed
   options, taking turns, in audio seconds per wall second ("x real time"), with the share of
   the read text's words that a transcript holds.
2. ``msearch index`` (the command, a new process, its default text backend) on one generated
   ten-minute 640x360 video at 25 fps: scenes of moving noise that change every 15 s, the
   spoken documents in its sound track. Wall time and peak memory of the process. CLIP and
   CLAP are not on this machine: the image and audio models are the tiny ones the test suite
   builds (their cost is far below the real models'); text is MiniLM, speech tiny.en.

Run: ``python -m bench.bench_media`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import CACHE, header, table

RATE = 16_000


def recording(seconds: float) -> np.ndarray:
    """The bundled text documents read aloud by espeak-ng, one after another with pauses,
    repeated to ``seconds`` (real sentences that do not repeat within Whisper's 30 s window:
    a clip looped every few seconds makes Whisper redo windows at higher temperatures)."""
    cached = CACHE / "spoken-docs.npy"
    if not cached.is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        from tests.support.make_example_media import spoken

        texts = _read_docs()
        pause = np.zeros(RATE, np.float32)
        parts = [np.concatenate([spoken(path.read_text(), RATE), pause]) for path in texts]
        np.save(cached, np.concatenate(parts))
    speech = np.load(cached)
    repeats = int(np.ceil(seconds * RATE / len(speech)))
    return np.tile(speech, repeats)[: int(seconds * RATE)]


def transcription(seconds: float, rounds: int) -> list[dict[str, object]]:
    """Each transcriber in turn on the same recording, best of ``rounds``; word recall is the
    share of the read text's words found in one read of the text's own recording."""
    import re

    import faster_whisper

    from msearch.backends.faster_whisper import model_folder
    from msearch.speech import transcriber

    samples = recording(seconds)
    once = np.load(CACHE / "spoken-docs.npy")
    truth = re.findall(r"[a-z]+", " ".join(p.read_text() for p in _read_docs()).lower())
    default = transcriber(threads=2, show_progress=False)
    direct = faster_whisper.WhisperModel(
        model_folder(default.spec), device="cpu", compute_type="int8", cpu_threads=2
    )

    def faster_whisper_direct(audio: np.ndarray) -> str:
        segments, _ = direct.transcribe(
            audio, beam_size=5, vad_filter=True, condition_on_previous_text=False
        )
        return " ".join(segment.text for segment in segments)

    def with_msearch(model: object) -> object:
        return lambda audio: model.transcribe((audio, RATE)).text  # type: ignore[attr-defined]

    contenders = {
        "faster-whisper called directly (beam 5, VAD)": faster_whisper_direct,
        "msearch defaults (beam 5, timestamps)": with_msearch(default),
        "msearch beam_size=1": with_msearch(transcriber(threads=2, beam_size=1)),
        "msearch timestamps=False": with_msearch(transcriber(threads=2, timestamps=False)),
    }
    timings: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, run in contenders.items():
            start = time.perf_counter()
            run(samples)  # type: ignore[operator]
            timings[name].append(time.perf_counter() - start)
    rows = []
    for name, run in contenders.items():
        heard = set(re.findall(r"[a-z]+", run(once).lower()))  # type: ignore[operator]
        best = min(timings[name])
        rows.append(
            {
                "transcriber (tiny.en, int8, 2 threads)": name,
                "audio s": f"{seconds:.0f}",
                "best wall s": f"{best:.2f}",
                "x real time": f"{seconds / best:.1f}",
                "word recall": f"{sum(word in heard for word in truth) / len(truth):.3f}",
            }
        )
    return rows


def _read_docs() -> list[Path]:
    return sorted(Path("examples/docs").glob("*.txt"))


def ten_minute_video(path: Path, seconds: int, fps: int = 25) -> Path:
    """Moving noise that changes scene every 15 s, with the spoken documents as its sound."""
    from fractions import Fraction

    import av

    if path.is_file():
        return path
    rng = np.random.default_rng(7)
    sound = recording(seconds)
    width, height = 640, 360
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        track = container.add_stream("aac", rate=RATE)
        track.layout = "mono"
        base = None
        for index in range(seconds * fps):
            if index % (15 * fps) == 0:
                base = rng.integers(0, 255, (height // 8, width // 8, 3), dtype=np.uint8)
            assert base is not None
            shifted = np.roll(base, index % 40, axis=1)
            picture = np.kron(shifted, np.ones((8, 8, 1), dtype=np.uint8))
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            container.mux(video.encode(frame))
        container.mux(video.encode())
        for start in range(0, len(sound), 1024):
            piece = np.ascontiguousarray(sound[start : start + 1024].reshape(1, -1))
            frame = av.AudioFrame.from_ndarray(piece, format="flt", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = RATE, start, Fraction(1, RATE)
            container.mux(track.encode(frame))
        container.mux(track.encode())
    return path


def video_indexing(seconds: int) -> list[dict[str, object]]:
    from tests.support.tiny_vision_audio import build_tiny_clap, build_tiny_clip

    CACHE.mkdir(parents=True, exist_ok=True)
    folder = CACHE / f"video-{seconds}s"
    folder.mkdir(exist_ok=True)
    ten_minute_video(folder / "talk.mp4", seconds)
    clip, clap = build_tiny_clip(CACHE), build_tiny_clap(CACHE)
    with tempfile.TemporaryDirectory() as scratch:
        config = Path(scratch) / "msearch.toml"
        config.write_text(
            f'[models]\nimage = "{clip}"\naudio = "{clap}"\n[store]\npath = "{scratch}/store"\n'
        )
        peak_file = Path(scratch) / "peak"
        command = [
            sys.executable,
            "-m",
            "bench.peak_rss",
            str(peak_file),
            "msearch.cli",
            "--config",
            str(config),
            "index",
            str(folder),
            "--quiet",
        ]
        start = time.perf_counter()
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": str(Path.cwd())},
        )
        wall = time.perf_counter() - start
        peak = int(peak_file.read_text())
        points = _point_counts(Path(scratch) / "store")
    return [
        {
            "msearch index, one video": f"{seconds // 60} min 640x360 25 fps, with speech",
            "wall s": f"{wall:.1f}",
            "x real time": f"{seconds / wall:.1f}",
            "peak MiB": f"{peak / 2**20:.0f}",
            "closing line": done.stdout.strip().splitlines()[-1],
            "points by modality": json.dumps(points),
        }
    ]


def _point_counts(folder: Path) -> dict[str, int]:
    from msearch.store import Store

    counts: dict[str, int] = {}
    with Store("msearch", path=folder) as store:
        for hit in store.scan():
            counts[hit.modality] = counts.get(hit.modality, 0) + 1
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    header("Speech: transcription speed")
    table(transcription(30.0 if args.quick else 180.0, 1 if args.quick else 3))
    header("Video: msearch index on one video")
    table(video_indexing(30 if args.quick else 600))


if __name__ == "__main__":
    main()
