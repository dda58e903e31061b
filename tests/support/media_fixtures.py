"""Generated media for tests: PIL-drawn shapes, synthetic tones and noise, corrupt files.

Everything is drawn or synthesised from fixed parameters, so each run gets the same files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: (name, shape, fill colour, background colour)
SHAPES = [
    ("red-circle", "circle", (220, 30, 30), (255, 255, 255)),
    ("blue-square", "square", (30, 60, 220), (250, 250, 240)),
    ("green-triangle", "triangle", (30, 180, 60), (20, 20, 20)),
    ("yellow-star", "star", (240, 220, 20), (40, 40, 120)),
    ("purple-stripes", "stripes", (140, 40, 160), (230, 230, 230)),
]

#: (name, kind, frequency in Hz or None, seconds, sample rate, format)
SOUNDS = [
    ("tone-440", "tone", 440.0, 1.5, 48_000, "WAV"),
    ("tone-1000", "tone", 1000.0, 0.7, 22_050, "FLAC"),
    ("chirp", "chirp", 200.0, 2.0, 16_000, "WAV"),
    ("white-noise", "noise", None, 1.0, 44_100, "FLAC"),
    ("beeps", "beeps", 880.0, 3.0, 48_000, "WAV"),
]


def draw_shape(
    shape: str, fill: tuple[int, int, int], background: tuple[int, int, int], size: int = 64
):
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(image)
    lo, hi = size // 8, size - size // 8
    if shape == "circle":
        draw.ellipse((lo, lo, hi, hi), fill=fill)
    elif shape == "square":
        draw.rectangle((lo, lo, hi, hi), fill=fill)
    elif shape == "triangle":
        draw.polygon([(size // 2, lo), (hi, hi), (lo, hi)], fill=fill)
    elif shape == "star":
        angles = np.linspace(-np.pi / 2, 3 * np.pi / 2, 11)[:-1]
        radii = np.where(np.arange(10) % 2 == 0, size * 0.45, size * 0.18)
        points = [
            (size / 2 + r * np.cos(a), size / 2 + r * np.sin(a))
            for r, a in zip(radii, angles, strict=True)
        ]
        draw.polygon(points, fill=fill)
    elif shape == "stripes":
        for x in range(0, size, 8):
            draw.rectangle((x, 0, x + 3, size), fill=fill)
    else:
        raise ValueError(shape)
    return image


def synth(
    kind: str, frequency: float | None, seconds: float, rate: int, seed: int = 0
) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    if kind == "tone":
        signal = 0.5 * np.sin(2 * np.pi * float(frequency or 440.0) * t)
    elif kind == "chirp":
        start = float(frequency or 200.0)
        signal = 0.5 * np.sin(2 * np.pi * (start * t + 0.5 * (2000.0 - start) / seconds * t**2))
    elif kind == "noise":
        signal = 0.3 * np.random.default_rng(seed).standard_normal(t.size)
    elif kind == "beeps":
        gate = (np.floor(t * 4) % 2 == 0).astype(float)
        signal = 0.5 * gate * np.sin(2 * np.pi * float(frequency or 880.0) * t)
    else:
        raise ValueError(kind)
    return signal.astype(np.float32)


@dataclass(frozen=True)
class MediaFolder:
    root: Path
    images: list[Path]
    audio: list[Path]
    corrupt_image: Path
    corrupt_audio: Path


def write_media_folder(root: Path) -> MediaFolder:
    """Five PNG/JPEG images, five WAV/FLAC clips, one corrupt image and one corrupt clip."""
    import soundfile

    root.mkdir(parents=True, exist_ok=True)
    images = []
    for index, (name, shape, fill, background) in enumerate(SHAPES):
        suffix = ".jpg" if index == 1 else ".png"
        path = root / "images" / f"{name}{suffix}"
        path.parent.mkdir(exist_ok=True)
        draw_shape(shape, fill, background).save(path, quality=95)
        images.append(path)
    audio = []
    for index, (name, kind, frequency, seconds, rate, fmt) in enumerate(SOUNDS):
        path = root / "audio" / f"{name}.{fmt.lower()}"
        path.parent.mkdir(exist_ok=True)
        soundfile.write(path, synth(kind, frequency, seconds, rate, seed=index), rate, format=fmt)
        audio.append(path)
    corrupt_image = root / "images" / "broken.png"
    corrupt_image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 8)
    corrupt_audio = root / "audio" / "broken.wav"
    corrupt_audio.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 12)
    return MediaFolder(root, images, audio, corrupt_image, corrupt_audio)


#: The shipped spoken clip (espeak-ng, made by tests/support/make_example_media.py).
SPEECH_CLIP = Path(__file__).parents[2] / "examples" / "media" / "cats-speech.flac"
#: Words of SPEECH_CLIP's text that a transcript should hold (tiny.en gets most of them).
SPEECH_WORDS = ("sleep", "most", "day", "often", "hours", "kittens", "even", "more")


def write_video(
    path: Path,
    scenes: list[tuple[tuple[int, int, int], float]],
    *,
    fps: int = 10,
    size: int = 96,
    sound: tuple[np.ndarray, int] | None = None,
    codec: str = "libx264",
) -> Path:
    """A video of solid-colour scenes ((colour, seconds) each), with ``sound`` (mono float32
    samples and their rate) as an AAC track when given."""
    from fractions import Fraction

    import av

    with av.open(str(path), "w") as container:
        video = container.add_stream(codec, rate=fps)
        video.width = video.height = size
        video.pix_fmt = "yuv420p"
        track = None
        if sound is not None:
            track = container.add_stream("aac", rate=sound[1])
            track.layout = "mono"
        for colour, seconds in scenes:
            picture = np.zeros((size, size, 3), dtype=np.uint8)
            picture[:] = colour
            for _ in range(round(seconds * fps)):
                frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
                container.mux(video.encode(frame))
        container.mux(video.encode())
        if track is not None and sound is not None:
            samples, rate = sound
            for start in range(0, len(samples), 1024):
                piece = np.ascontiguousarray(samples[start : start + 1024].reshape(1, -1))
                frame = av.AudioFrame.from_ndarray(piece, format="flt", layout="mono")
                frame.sample_rate = rate
                frame.pts = start
                frame.time_base = Fraction(1, rate)
                container.mux(track.encode(frame))
            container.mux(track.encode())
    return path


def speech_samples(rate: int = 16_000) -> np.ndarray:
    """SPEECH_CLIP's samples, mono float32 at ``rate``."""
    import soundfile
    import soxr

    samples, source_rate = soundfile.read(SPEECH_CLIP, dtype="float32")
    return np.asarray(soxr.resample(samples, source_rate, rate), dtype=np.float32)
