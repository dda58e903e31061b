"""msearch.media: loading images and audio from every accepted form, and failing clearly."""

from __future__ import annotations

import http.server
import io
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile
from PIL import Image

from msearch import media
from msearch.errors import MediaError
from tests.support.media_fixtures import MediaFolder, draw_shape, write_media_folder


@pytest.fixture(autouse=True)
def _local_test_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    """This module's test servers listen on 127.0.0.1, which URLs may not reach by default."""
    monkeypatch.setenv("MSEARCH_ALLOW_PRIVATE_URLS", "1")

@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> MediaFolder:
    return write_media_folder(tmp_path_factory.mktemp("media"))


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.uint8)


# -- images -------------------------------------------------------------------------------


def test_image_from_path_bytes_pil_array_and_data_uri_are_the_same_pixels(
    folder: MediaFolder,
) -> None:
    path = folder.images[0]
    data = path.read_bytes()
    reference = pixels(media.load_image(path))
    assert reference.shape == (64, 64, 3)
    forms = [
        str(path),
        data,
        Image.open(path),
        np.asarray(Image.open(path)),
        media.data_uri(data, "image/png"),
    ]
    for form in forms:
        np.testing.assert_array_equal(pixels(media.load_image(form)), reference)


def test_image_modes_become_rgb() -> None:
    rgba = draw_shape("circle", (10, 200, 30), (0, 0, 0)).convert("RGBA")
    grey = np.full((8, 8), 128, dtype=np.uint8)
    floats = np.full((8, 8, 3), 0.5, dtype=np.float32)
    assert media.load_image(rgba).mode == "RGB"
    assert pixels(media.load_image(grey))[0, 0].tolist() == [128, 128, 128]
    assert pixels(media.load_image(floats))[0, 0].tolist() == [128, 128, 128]


def test_corrupt_and_missing_images_name_the_file(folder: MediaFolder, tmp_path: Path) -> None:
    with pytest.raises(MediaError, match=re.escape(str(folder.corrupt_image))):
        media.load_image(folder.corrupt_image)
    missing = tmp_path / "nope.png"
    with pytest.raises(MediaError, match=r"nope\.png"):
        media.load_image(missing)
    with pytest.raises(MediaError, match="image array"):
        media.load_image(np.zeros((4, 4, 7), dtype=np.uint8))
    with pytest.raises(MediaError, match="cannot read an image"):
        media.load_image(3.5)


@pytest.fixture()
def silent_server() -> Iterator[str]:
    """A TCP server on 127.0.0.1 that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/cat.png"
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


def test_image_url_that_never_answers_fails_within_its_timeout(silent_server: str) -> None:
    started = time.monotonic()
    with pytest.raises(MediaError, match=r"did not answer within 0\.5 s") as caught:
        media.load_image(silent_server, timeout=0.5)
    assert silent_server in str(caught.value)
    assert time.monotonic() - started < 5.0  # the timeout, not some library default


class _Handler(http.server.BaseHTTPRequestHandler):
    png = b""

    def do_GET(self) -> None:
        if self.path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.end_headers()
            return
        if self.path == "/missing":
            self.send_error(404)
            return
        body = self.png if self.path == "/shape.png" else b"x" * 5000
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def http_server(folder: MediaFolder) -> Iterator[str]:
    _Handler.png = folder.images[0].read_bytes()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_image_urls_download_with_limits(http_server: str, folder: MediaFolder) -> None:
    image = media.load_image(f"{http_server}/shape.png")
    np.testing.assert_array_equal(pixels(image), pixels(media.load_image(folder.images[0])))
    with pytest.raises(MediaError, match="larger than the 1000 B limit"):
        media.load_image(f"{http_server}/big", max_bytes=1000)
    with pytest.raises(MediaError, match="redirected more than"):
        media.load_image(f"{http_server}/loop")
    with pytest.raises(MediaError, match="HTTP 404"):
        media.load_image(f"{http_server}/missing")


# -- audio --------------------------------------------------------------------------------


def test_audio_from_path_bytes_and_array_agree(folder: MediaFolder) -> None:
    path = folder.audio[0]  # 48 kHz mono WAV
    samples, rate = soundfile.read(path, dtype="float32")
    from_path = media.load_audio(path)
    from_bytes = media.load_audio(path.read_bytes())
    from_array = media.load_audio((samples, rate))
    assert from_path.sample_rate == rate == 48_000
    assert from_path.source == str(path)
    np.testing.assert_array_equal(from_path.samples, from_bytes.samples)
    np.testing.assert_array_equal(from_path.samples, from_array.samples)
    assert from_path.duration == pytest.approx(1.5)


def test_stereo_16k_is_mixed_down_and_resampled_against_a_known_signal(tmp_path: Path) -> None:
    rate, target, seconds = 16_000, 48_000, 1.0

    def left(t: np.ndarray) -> np.ndarray:
        return 0.6 * np.sin(2 * np.pi * 440.0 * t)

    def right(t: np.ndarray) -> np.ndarray:
        return 0.2 * np.sin(2 * np.pi * 1000.0 * t + 0.3)

    t_in = np.arange(int(seconds * rate)) / rate
    path = tmp_path / "stereo.wav"
    soundfile.write(path, np.stack([left(t_in), right(t_in)], axis=1), rate, subtype="FLOAT")

    audio = media.load_audio(path, target)

    assert audio.sample_rate == target
    assert len(audio.samples) == int(seconds * target)
    t_out = np.arange(len(audio.samples)) / target
    expected = (left(t_out) + right(t_out)) / 2
    middle = slice(target // 10, -target // 10)  # resampler edges are not the signal's
    assert np.max(np.abs(audio.samples[middle] - expected[middle])) < 1e-3


def test_audio_arrays_in_either_orientation_and_int_pcm() -> None:
    t = np.arange(8000) / 8000
    wave = 0.5 * np.sin(2 * np.pi * 100 * t)
    frames_first = np.stack([wave, wave], axis=1)
    pcm = (frames_first.T * 32768).astype(np.int16)  # (channels, frames), int16
    a = media.load_audio((frames_first, 8000)).samples
    b = media.load_audio((pcm, 8000)).samples
    assert a.shape == b.shape == (8000,)
    assert np.max(np.abs(a - b)) < 1e-4


def test_bad_audio_is_a_clear_media_error(folder: MediaFolder, tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    soundfile.write(empty, np.zeros(0, dtype=np.float32), 16_000)
    with pytest.raises(MediaError, match=r"empty\.wav has no audio samples \(0 length\)"):
        media.load_audio(empty)
    with pytest.raises(MediaError, match="no audio samples"):
        media.load_audio((np.zeros(0, dtype=np.float32), 16_000))
    with pytest.raises(MediaError, match=re.escape(str(folder.corrupt_audio))):
        media.load_audio(folder.corrupt_audio)
    with pytest.raises(MediaError, match="sample rate"):
        media.load_audio((np.zeros(10, dtype=np.float32), 0))
    with pytest.raises(MediaError, match="sample_rate"):
        media.load_audio(np.zeros(10, dtype=np.float32))
    with pytest.raises(MediaError, match="NaN"):
        media.load_audio((np.array([0.0, np.nan]), 16_000))


def test_windows_are_fixed_and_cover_the_clip() -> None:
    rate = 1000
    clip = media.Audio(np.arange(25 * rate, dtype=np.float32), rate, "long.wav")
    windows = media.audio_windows(clip, window_s=10.0, overlap_s=2.0)
    assert [(w.start, w.end) for w in windows] == [(0.0, 10.0), (8.0, 18.0), (16.0, 25.0)]
    assert windows[1].samples[0] == 8 * rate
    assert all(w.source == "long.wav" for w in windows)
    again = media.audio_windows(clip, window_s=10.0, overlap_s=2.0)
    for first, second in zip(windows, again, strict=True):
        np.testing.assert_array_equal(first.samples, second.samples)
    short = media.Audio(np.ones(3 * rate, dtype=np.float32), rate, "short.wav")
    assert [(w.start, w.end) for w in media.audio_windows(short, 10.0)] == [(0.0, 3.0)]
    with pytest.raises(ValueError, match="overlap_s"):
        media.audio_windows(clip, window_s=5.0, overlap_s=5.0)


def test_repeat_pad_matches_claps_repeatpad() -> None:
    from transformers import ClapFeatureExtractor

    clip = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    assert media.repeat_pad(clip, 8).tolist() == [1, 2, 3, 1, 2, 3, 0, 0]
    extractor = ClapFeatureExtractor(truncation="rand_trunc", padding="repeatpad")
    wave = (0.3 * np.sin(np.arange(30_000) / 7.0)).astype(np.float32)
    limit = extractor.nb_max_samples
    theirs = extractor([wave], sampling_rate=48_000, return_tensors="np")["input_features"]
    ours = extractor(
        [media.repeat_pad(wave, limit)], sampling_rate=48_000, padding=True, return_tensors="np"
    )["input_features"]
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_wav_encoding_is_lossless() -> None:
    wave = np.random.default_rng(0).standard_normal(1000).astype(np.float32) * 0.1
    decoded, rate = soundfile.read(io.BytesIO(media.encode_wav(wave, 48_000)), dtype="float32")
    assert rate == 48_000
    np.testing.assert_array_equal(decoded, wave)
