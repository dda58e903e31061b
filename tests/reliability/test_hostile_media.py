"""Hostile images and audio: every case loads, or fails with MediaError, within a time limit.

Generated cases (hypothesis) cut valid files at random points and feed random bytes; the
hand-made ones cover decompression bombs, wrong extensions, unusual modes, broken samples and
extreme sample rates. The last tests push some of them through real embedders (tiny CLIP and
CLAP on transformers): a batch with one bad item fails as a whole with MediaError.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from msearch import media
from msearch.errors import MediaError
from msearch.multimodal import audio_embedder, image_embedder
from tests.reliability._mode import examples, within

LIMIT_S = 30.0


def _png(image: Image.Image, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **options)
    return buffer.getvalue()


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def _wav(samples: np.ndarray, rate: int, subtype: str = "PCM_16") -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format="WAV", subtype=subtype)
    return buffer.getvalue()


def _gradient(size: int = 48) -> Image.Image:
    ramp = np.linspace(0, 255, size * size * 3).reshape(size, size, 3).astype(np.uint8)
    return Image.fromarray(ramp)


def _claimed_size_png(width: int, height: int) -> bytes:
    """A 1x1 PNG whose header claims ``width`` x ``height`` (a bomb PIL sees at open)."""
    data = _png(Image.new("L", (1, 1)))
    chunk = b"IHDR" + struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        data[:8] + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk)) + data[33:]
    )


def _image_or_media_error(item: Any) -> Any:
    try:
        image = within(LIMIT_S, media.load_image, item)
    except MediaError:
        return None
    assert image.mode == "RGB" and image.width > 0 and image.height > 0
    return image


def _audio_or_media_error(item: Any, rate: int | None = 48_000) -> Any:
    try:
        audio = within(LIMIT_S, media.load_audio, item, rate)
    except MediaError:
        return None
    assert audio.samples.ndim == 1 and audio.samples.size > 0
    assert audio.samples.dtype == np.float32 and np.all(np.isfinite(audio.samples))
    return audio


# -- images ---------------------------------------------------------------------------------

PNG = _png(_gradient())
JPEG = _jpeg(_gradient())


@given(cut=st.integers(0, len(PNG) - 1))
@examples(bounded=25, soaked=len(PNG))
def test_truncated_png(cut: int) -> None:
    _image_or_media_error(PNG[:cut])


@given(cut=st.integers(0, len(JPEG) - 1))
@examples(bounded=25, soaked=len(JPEG))
def test_truncated_jpeg(cut: int) -> None:
    _image_or_media_error(JPEG[:cut])


@given(
    data=st.binary(max_size=2048),
    header=st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"\xff\xd8\xff", b"RIFF"]),
)
@examples(bounded=25, soaked=500)
def test_random_bytes_behind_real_magic_numbers(data: bytes, header: bytes) -> None:
    _image_or_media_error(header + data)


PIL_LIMIT = Image.MAX_IMAGE_PIXELS or 89_478_485


@pytest.mark.parametrize("pixels", [PIL_LIMIT + 1, 2 * PIL_LIMIT + 1])
def test_decompression_bombs_are_refused_before_decoding(pixels: int) -> None:
    side = int(pixels**0.5) + 1
    with pytest.raises(MediaError, match="decompression bomb"):
        within(LIMIT_S, media.load_image, _claimed_size_png(side, side))


def test_wrong_extensions(tmp_path: Path) -> None:
    png_as_jpg = tmp_path / "picture.jpg"
    png_as_jpg.write_bytes(PNG)  # the content decides, not the name
    assert _image_or_media_error(png_as_jpg).size == (48, 48)
    wav_as_png = tmp_path / "sound.png"
    wav_as_png.write_bytes(_wav(np.zeros(100), 16_000))
    with pytest.raises(MediaError, match=r"sound\.png"):
        media.load_image(wav_as_png)
    text_as_wav = tmp_path / "notes.wav"
    text_as_wav.write_text("not audio at all")
    with pytest.raises(MediaError, match=r"notes\.wav"):
        media.load_audio(text_as_wav)
    with pytest.raises(MediaError, match=r"missing\.png"):
        media.load_image(tmp_path / "missing.png")
    with pytest.raises(MediaError):
        media.load_image(tmp_path)  # a folder


def _modes() -> dict[str, bytes]:
    base = _gradient(32)
    cmyk = io.BytesIO()
    base.convert("CMYK").save(cmyk, format="JPEG")
    tiff16 = io.BytesIO()
    Image.fromarray((np.arange(32 * 32).reshape(32, 32) * 60).astype(np.uint16)).save(
        tiff16, format="TIFF"
    )
    frames = [Image.new("RGB", (32, 32), color) for color in ("red", "green", "blue")]
    gif = io.BytesIO()
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:], loop=0)
    float_tiff = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).random((32, 32)).astype(np.float32)).save(
        float_tiff, format="TIFF"
    )
    return {
        "cmyk-jpeg": cmyk.getvalue(),
        "16-bit-png": _png(
            Image.fromarray((np.arange(32 * 32).reshape(32, 32) * 60).astype(np.uint16))
        ),
        "16-bit-tiff": tiff16.getvalue(),
        "animated-gif": gif.getvalue(),
        "palette-transparency": _png(base.convert("P"), transparency=0),
        "la": _png(base.convert("LA")),
        "1-bit": _png(base.convert("1")),
        "float-tiff": float_tiff.getvalue(),
    }


@pytest.mark.parametrize(("mode", "data"), _modes().items(), ids=_modes().keys())
def test_unusual_modes_become_rgb(mode: str, data: bytes) -> None:
    image = within(LIMIT_S, media.load_image, data)
    assert image.mode == "RGB" and image.size == (32, 32)


ODD_ARRAYS = {
    "empty": np.zeros((0, 0, 3), np.uint8),
    "two-channels": np.zeros((4, 4, 2), np.uint8),
    "nan": np.full((4, 4, 3), np.nan),
    "inf": np.full((4, 4), np.inf, np.float32),
    "objects": np.array([["a"]], dtype=object),
    "complex": np.ones((4, 4), complex),
    "16-bit-values": np.full((4, 4), 40_000, np.uint16),
    "negative": np.full((4, 4), -5, np.int16),
    "4-d": np.zeros((1, 4, 4, 3), np.uint8),
    "strings": np.array([["x", "y"]]),
}


@pytest.mark.parametrize("array", ODD_ARRAYS.values(), ids=ODD_ARRAYS.keys())
def test_odd_image_arrays_are_media_errors(array: np.ndarray) -> None:
    with pytest.raises(MediaError):
        within(LIMIT_S, media.load_image, array)


def test_fine_image_arrays_still_load() -> None:
    for array in (np.zeros((4, 4), bool), np.ones((4, 4, 1), np.uint8), np.ones((3, 5, 4)) / 2):
        assert _image_or_media_error(array).mode == "RGB"


# -- audio ----------------------------------------------------------------------------------

TONE = np.sin(np.linspace(0, 200 * np.pi, 8000)).astype(np.float32)
WAV = _wav(TONE, 16_000)


@given(cut=st.integers(0, len(WAV) - 1))
@examples(bounded=25, soaked=400)
def test_truncated_wav(cut: int) -> None:
    _audio_or_media_error(WAV[:cut])


@given(data=st.binary(max_size=4096))
@examples(bounded=25, soaked=500)
def test_random_bytes_as_audio(data: bytes) -> None:
    _audio_or_media_error(data)
    _audio_or_media_error(b"RIFF" + data)


@given(
    samples=st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), max_size=64),
    rate=st.integers(-10, 2**40),
)
@examples(bounded=40, soaked=1000)
def test_generated_sample_arrays_and_rates(samples: list[float], rate: int) -> None:
    array = np.asarray(samples, dtype=np.float32)
    audio = _audio_or_media_error((array, rate))
    if audio is not None:  # only finite, non-empty clips at a positive rate get through
        assert rate > 0 and array.size > 0 and np.all(np.isfinite(array))


BAD_AUDIO: dict[str, Any] = {
    "nan": (np.array([0.0, np.nan, 0.1], np.float32), 16_000),
    "inf": (np.array([np.inf] * 10, np.float32), 16_000),
    "zero-length": (np.zeros(0, np.float32), 16_000),
    "zero-rate": (TONE, 0),
    "negative-rate": (TONE, -16_000),
    "float-rate": (TONE, 16_000.5),
    "strings": ("abc", 16_000),
    "objects": (np.array([object()]), 16_000),
    "ragged": ([[0.1, 0.2], [0.3]], 16_000),
    "complex": (np.ones(10, complex), 16_000),
    "3-d": (np.zeros((2, 2, 2)), 16_000),
    "too-short-for-the-rate": (np.ones(3, np.float32), 2**40),
    "bare-array": TONE,
    "empty-wav": _wav(np.zeros(0), 16_000),
    "nan-float-wav": _wav(np.array([0.0, np.nan, 0.5]), 16_000, "FLOAT"),
}


@pytest.mark.parametrize("item", BAD_AUDIO.values(), ids=BAD_AUDIO.keys())
def test_broken_audio_is_a_media_error(item: Any) -> None:
    with pytest.raises(MediaError):
        within(LIMIT_S, media.load_audio, item, 48_000)


def test_eight_channels_and_extreme_rates_load_as_mono_at_the_model_rate() -> None:
    rng = np.random.default_rng(0)
    eight = rng.uniform(-0.5, 0.5, (16_000, 8)).astype(np.float32)
    from_array = _audio_or_media_error((eight, 16_000))
    from_wav = _audio_or_media_error(_wav(eight, 16_000, "FLOAT"))
    assert from_array is not None and from_wav is not None
    np.testing.assert_allclose(from_array.samples, from_wav.samples, atol=1e-6)
    one_hertz = _audio_or_media_error((rng.uniform(-1, 1, 12).astype(np.float32), 1))
    assert one_hertz is not None and one_hertz.samples.size == 12 * 48_000
    megahertz = _audio_or_media_error((rng.uniform(-1, 1, 500_000).astype(np.float32), 1_000_000))
    assert megahertz is not None and megahertz.samples.size == 24_000
    mhz_wav = _audio_or_media_error(_wav(rng.uniform(-1, 1, 100_000), 1_000_000))
    assert mhz_wav is not None and mhz_wav.samples.size == 4_800


# -- through real embedders -----------------------------------------------------------------


def test_image_embedder_with_hostile_items(tiny_clip: str) -> None:
    embedder = image_embedder(tiny_clip, "transformers")
    good = within(LIMIT_S * 2, embedder.embed_images, [PNG])
    assert good.shape[0] == 1 and np.all(np.isfinite(good))
    for bad in (PNG[:40], _claimed_size_png(30_000, 30_000), np.full((4, 4), np.nan), b""):
        with pytest.raises(MediaError):
            within(LIMIT_S, embedder.embed_images, [PNG, bad])
    odd = [data for name, data in _modes().items() if name != "float-tiff"]
    vectors = within(LIMIT_S * 2, embedder.embed_images, odd)
    assert vectors.shape[0] == len(odd) and np.all(np.isfinite(vectors))


def test_audio_embedder_with_hostile_items(tiny_clap: str) -> None:
    embedder = audio_embedder(tiny_clap, "transformers")
    rng = np.random.default_rng(1)
    clips = [
        (rng.uniform(-1, 1, 12).astype(np.float32), 1),
        (rng.uniform(-1, 1, (4000, 8)).astype(np.float32), 8_000),
        WAV,
    ]
    vectors = within(LIMIT_S * 2, embedder.embed_audio, clips)
    assert vectors.shape[0] == len(clips) and np.all(np.isfinite(vectors))
    for bad in (BAD_AUDIO["nan"], BAD_AUDIO["zero-length"], WAV[:30]):
        with pytest.raises(MediaError):
            within(LIMIT_S, embedder.embed_audio, [WAV, bad])
