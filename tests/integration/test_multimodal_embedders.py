"""Image and audio embedders on every backend against direct transformers outputs.

The tiny CLIP, SigLIP and CLAP models are built by the suite; the ``infinity-server`` cases
run against the real Infinity server process of the session (``infinity_url``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from msearch import media
from msearch.multimodal import audio_embedder, image_embedder
from msearch.protocols import AudioEmbedder, ImageEmbedder
from tests.support.infinity_server import served_name
from tests.support.media_fixtures import MediaFolder, synth, write_media_folder
from tests.support.stacks import backends

BACKENDS = ["transformers", "infinity", "infinity-server"]
# infinity truncates text at its config's generic max_length (20 tokens) and these tiny
# tokenizers spend one token per byte, so parity texts stay short.
TEXTS = ["red circle", "a beep", "blue square", "white noise"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> MediaFolder:
    return write_media_folder(tmp_path_factory.mktemp("media"))


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)


def options(backend: str, request: pytest.FixtureRequest, path: str) -> dict[str, Any]:
    if backend == "infinity-server":
        return {"url": request.getfixturevalue("infinity_url"), "server_model": served_name(path)}
    return {}


def _array(features: Any) -> np.ndarray:
    """A ``get_*_features`` result as an array: transformers 5 wraps the tensor in an output
    object (as ``pooler_output``), transformers 4 returns it bare."""
    return getattr(features, "pooler_output", features).numpy()  # type: ignore[no-any-return]


class Direct:
    """The reference: the model called the documented transformers way."""

    def __init__(self, path: str) -> None:
        from transformers import AutoModel, AutoProcessor

        self.model = AutoModel.from_pretrained(path).eval()
        self.processor = AutoProcessor.from_pretrained(path)
        self.siglip = self.model.config.model_type == "siglip"

    def text(self, texts: list[str]) -> np.ndarray:
        import torch

        padding: dict[str, Any] = (
            {"padding": "max_length", "max_length": 64} if self.siglip else {"padding": True}
        )
        inputs = self.processor(text=texts, return_tensors="pt", **padding)
        with torch.no_grad():
            return _array(self.model.get_text_features(**inputs))

    def images(self, paths: list[Path]) -> np.ndarray:
        import torch

        images = [Image.open(path).convert("RGB") for path in paths]
        with torch.no_grad():
            inputs = self.processor(images=images, return_tensors="pt")
            return _array(self.model.get_image_features(**inputs))

    def audio(self, clips: list[np.ndarray]) -> np.ndarray:
        import torch

        inputs = self.processor.feature_extractor(clips, sampling_rate=48_000, return_tensors="pt")
        with torch.no_grad():
            return _array(self.model.get_audio_features(**inputs))


@pytest.fixture(scope="module", params=["tiny_clip", "tiny_siglip"])
def image_model(request: pytest.FixtureRequest) -> tuple[str, Direct]:
    path = request.getfixturevalue(request.param)
    return path, Direct(path)


@pytest.fixture(scope="module")
def clap(tiny_clap: str) -> Direct:
    return Direct(tiny_clap)


@pytest.mark.parametrize("backend", backends(*BACKENDS))
def test_image_embedders_equal_transformers(
    backend: str,
    image_model: tuple[str, Direct],
    folder: MediaFolder,
    request: pytest.FixtureRequest,
) -> None:
    path, direct = image_model
    embedder: ImageEmbedder = image_embedder(path, backend, **options(backend, request, path))

    images = embedder.embed_images(folder.images)
    texts = embedder.embed_documents(TEXTS)
    query = embedder.embed_query(TEXTS[0])

    assert images.dtype == np.float32 and images.shape == (len(folder.images), embedder.dim)
    assert cosines(images, direct.images(folder.images)).min() >= 0.9999
    assert cosines(texts, direct.text(TEXTS)).min() >= 0.9999
    assert cosines(query, texts[0]) >= 0.9999
    np.testing.assert_allclose(np.linalg.norm(images, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("backend", backends(*BACKENDS))
def test_every_form_of_an_image_gives_the_same_vector(
    backend: str, tiny_clip: str, folder: MediaFolder, request: pytest.FixtureRequest
) -> None:
    embedder = image_embedder(tiny_clip, backend, **options(backend, request, tiny_clip))
    path = folder.images[2]
    data = path.read_bytes()
    forms = [
        path,
        str(path),
        data,
        Image.open(path),
        np.asarray(Image.open(path)),
        media.data_uri(data, "image/png"),
    ]
    vectors = embedder.embed_images(forms)
    assert cosines(vectors, vectors[0]).min() >= 0.99999


def test_the_server_decodes_a_raw_data_uri_as_msearch_does(
    tiny_clip: str, folder: MediaFolder, infinity_url: str
) -> None:
    path = folder.images[3]
    answer = httpx.post(
        f"{infinity_url}/embeddings",
        json={
            "model": served_name(tiny_clip),
            "input": [media.data_uri(path.read_bytes(), "image/png")],
            "modality": "image",
        },
        timeout=60,
    ).json()
    theirs = np.asarray(answer["data"][0]["embedding"], dtype=np.float32)
    ours = image_embedder(
        tiny_clip, "infinity-server", url=infinity_url, server_model=served_name(tiny_clip)
    ).embed_images([path])[0]
    assert cosines(ours, theirs) >= 0.99999


@pytest.mark.parametrize("backend", backends(*BACKENDS))
def test_siglip_text_does_not_depend_on_its_batch(
    backend: str, tiny_siglip: str, request: pytest.FixtureRequest
) -> None:
    embedder = image_embedder(tiny_siglip, backend, **options(backend, request, tiny_siglip))
    alone = embedder.embed_query("red")
    with_long_neighbours = embedder.embed_documents(
        ["red", "a green triangle and a yellow star on a blue square"]
    )[0]
    assert cosines(alone, with_long_neighbours) >= 0.99999


@pytest.mark.legacy_stack("infinity_emb")
def test_siglip_text_on_infinity_really_is_padded_differently(tiny_siglip: str) -> None:
    """Why SigLIP text avoids infinity by default: infinity's own text vectors differ."""
    padded = image_embedder(tiny_siglip, "transformers").embed_query("red circle")
    unpadded = image_embedder(tiny_siglip, "infinity", text_backend="infinity").embed_query(
        "red circle"
    )
    assert cosines(padded, unpadded) < 0.999


@pytest.mark.parametrize("backend", backends(*BACKENDS))
def test_audio_embedders_equal_transformers(
    backend: str, tiny_clap: str, clap: Direct, folder: MediaFolder, request: pytest.FixtureRequest
) -> None:
    embedder: AudioEmbedder = audio_embedder(
        tiny_clap, backend, **options(backend, request, tiny_clap)
    )

    vectors = embedder.embed_audio(folder.audio)
    clips = [media.load_audio(path, 48_000).samples for path in folder.audio]

    assert vectors.shape == (len(folder.audio), embedder.dim)
    assert cosines(vectors, clap.audio(clips)).min() >= 0.9999
    assert cosines(embedder.embed_documents(TEXTS), clap.text(TEXTS)).min() >= 0.9999


@pytest.mark.parametrize("backend", backends(*BACKENDS))
def test_long_audio_is_windowed_not_cropped(
    backend: str, tiny_clap: str, clap: Direct, request: pytest.FixtureRequest
) -> None:
    clip = synth("chirp", 100.0, 23.0, 16_000)
    embedder = audio_embedder(tiny_clap, backend, **options(backend, request, tiny_clap))

    first = embedder.embed_audio([(clip, 16_000)])[0]
    again = embedder.embed_audio([(clip, 16_000)])[0]

    windows = embedder.load_windows((clip, 16_000))  # type: ignore[attr-defined]
    assert [(w.start, w.end) for w in windows] == [(0.0, 10.0), (8.0, 18.0), (16.0, 23.0)]
    reference = clap.audio([w.samples for w in windows])
    reference /= np.linalg.norm(reference, axis=1, keepdims=True)
    assert cosines(first, reference.mean(axis=0)) >= 0.9999
    np.testing.assert_array_equal(first, again)


@pytest.mark.parametrize("backend", backends(*BACKENDS))
async def test_async_twins_and_empty_input(
    backend: str,
    tiny_clip: str,
    tiny_clap: str,
    folder: MediaFolder,
    request: pytest.FixtureRequest,
) -> None:
    images = image_embedder(tiny_clip, backend, **options(backend, request, tiny_clip))
    audio = audio_embedder(tiny_clap, backend, **options(backend, request, tiny_clap))

    np.testing.assert_allclose(
        await images.aembed_images(folder.images[:2]),
        images.embed_images(folder.images[:2]),
        atol=1e-6,
    )
    np.testing.assert_allclose(
        await audio.aembed_audio(folder.audio[:2]), audio.embed_audio(folder.audio[:2]), atol=1e-6
    )
    assert images.embed_images([]).shape[0] == 0
    assert (await audio.aembed_audio([])).shape[0] == 0


def test_audio_forms_give_the_same_vector(tiny_clap: str, folder: MediaFolder) -> None:
    import soundfile

    path = folder.audio[1]  # 22.05 kHz FLAC, resampled to 48 kHz
    samples, rate = soundfile.read(path, dtype="float32")
    embedder = audio_embedder(tiny_clap, "transformers")
    vectors = embedder.embed_audio([path, str(path), path.read_bytes(), (samples, rate)])
    assert cosines(vectors, vectors[0]).min() >= 0.99999
