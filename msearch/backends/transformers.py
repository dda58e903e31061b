"""The ``"transformers"`` backend: CLIP, SigLIP/SigLIP2 and CLAP with transformers in-process.

Each model's own processor prepares its inputs, with two corrections to what a plain call
would do:

- SigLIP and SigLIP2 text is padded to ``max_length`` (64 tokens unless the model says
  otherwise), as these models were trained, because their text tower pools a fixed position:
  padded to the longest text of a batch, a text's vector would depend on its batch.
- CLAP audio arrives already cut into windows no longer than the model's 10 s
  (``msearch.media``), so the feature extractor never crops at random.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from msearch._deps import require
from msearch.backends._loading import locate_model, model_not_found, torch_dtype
from msearch.backends.base import BlockingModel
from msearch.backends.media_base import (
    AudioEmbedderBase,
    AudioOptions,
    ImageEmbedderBase,
    ImageOptions,
)
from msearch.batching import sorted_batches, with_progress
from msearch.errors import BackendError, InvalidInputError, MSearchError
from msearch.models import ModelSpec

SIGLIP_TYPES = ("siglip", "siglip2")
#: SigLIP's training text length, used when neither the spec nor the config gives one.
SIGLIP_TEXT_LENGTH = 64
_TEXT_KEYS = ("input_ids", "attention_mask", "position_ids")
_IMAGE_KEYS = ("pixel_values", "pixel_attention_mask", "spatial_shapes")


def model_type(name: str) -> str:
    """The ``model_type`` in a local model folder's config.json, else a guess from the name."""
    config = Path(name).expanduser() / "config.json"
    if config.is_file():
        return str(json.loads(config.read_text()).get("model_type", ""))
    lowered = name.lower()
    return next((kind for kind in ("siglip2", "siglip", "clap", "clip") if kind in lowered), "")


def is_siglip(name: str) -> bool:
    return model_type(name) in SIGLIP_TYPES


@dataclass(frozen=True, kw_only=True)
class TorchLoading:
    """How a two-tower model loads on transformers: ``device``, ``dtype``."""

    device: str | None = None
    dtype: str = "float32"
    trust_remote_code: bool = False


@dataclass(frozen=True, kw_only=True)
class TransformersImageOptions(ImageOptions, TorchLoading):
    """The options of ``TransformersImageEmbedder``."""


@dataclass(frozen=True, kw_only=True)
class TransformersAudioOptions(AudioOptions, TorchLoading):
    """The options of ``TransformersAudioEmbedder``."""


class TwoTowers:
    """One two-tower model (``AutoModel`` + ``AutoProcessor``) run in batches on transformers:
    what the image and audio embedders compose."""

    def __init__(
        self, spec: ModelSpec, loading: TorchLoading, batch_size: int, show_progress: bool | None
    ) -> None:
        self.spec = spec
        self.loading = loading
        self.device = loading.device or "cpu"
        self.batch_size = batch_size
        self.show_progress = show_progress

    def load(self) -> tuple[Any, Any]:
        transformers = require("transformers", "transformers")
        path = locate_model(self.spec.name)
        trust = self.loading.trust_remote_code
        try:
            model = transformers.AutoModel.from_pretrained(
                path, trust_remote_code=trust, dtype=torch_dtype(self.loading.dtype)
            )
            processor = transformers.AutoProcessor.from_pretrained(path, trust_remote_code=trust)
        except MSearchError:
            raise
        except OSError as err:
            raise model_not_found(self.spec.name, err) from err
        model.to(self.device).eval()
        return model, processor

    def run(
        self,
        loaded: tuple[Any, Any],
        what: str,
        fn: Callable[[Any, Any, list[Any]], Any],
        items: list[Any],
    ) -> Any:
        """``fn(model, processor, batch)``'s features for every item, batched by length."""
        import torch

        model, processor = loaded
        key: Callable[[Any], int] | None = len if what == "text" else (lambda _: 0)
        batches = sorted_batches(items, self.batch_size, key=key)
        out: np.ndarray | None = None
        for positions in with_progress(batches, self.show_progress, f"embedding {what}"):
            try:
                with torch.inference_mode():
                    vectors = fn(model, processor, [items[i] for i in positions])
            except Exception as err:  # torch/processor failures become one typed error
                raise BackendError(
                    f"transformers failed on {what} with {self.spec.name}: {err}"
                ) from err
            array = _features(vectors).float().cpu().numpy()
            if out is None:
                out = np.empty((len(items), array.shape[1]), dtype=np.float32)
            out[positions] = array
        if out is None:
            raise InvalidInputError("nothing to embed")
        return out

    def inputs(self, inputs: Any, keys: tuple[str, ...]) -> dict[str, Any]:
        """The tensors named ``keys`` that ``inputs`` has, on the model's device."""
        return {key: inputs[key].to(self.device) for key in keys if key in inputs}


def projection_dim(model: Any) -> int:
    # CLIP and CLAP project both towers to projection_dim; SigLIP has no projection.
    projection = getattr(model.config, "projection_dim", None)
    return int(projection or model.config.text_config.hidden_size)


class TransformersImageEmbedder(BlockingModel, ImageEmbedderBase):
    """CLIP or SigLIP/SigLIP2 images and texts, with transformers in-process.

    >>> from msearch.multimodal import image_embedder
    >>> embedder = image_embedder("openai/clip-vit-base-patch32", "transformers")
    >>> embedder.embed_images(["photo.jpg"]).shape  # doctest: +SKIP
    (1, 512)
    >>> embedder.embed_query("a photo of a cat").shape  # doctest: +SKIP
    (512,)
    """

    Options: ClassVar[type[TransformersImageOptions]] = TransformersImageOptions
    options: TransformersImageOptions

    def __init__(self, spec: ModelSpec, options: TransformersImageOptions | None = None) -> None:
        super().__init__(spec, options)
        self.towers = TwoTowers(spec, self.options, self.batch_size, self.show_progress)

    def _load(self) -> tuple[Any, Any]:
        model, processor = self.towers.load()
        if not hasattr(model, "get_image_features"):
            raise InvalidInputError(
                f"{self.spec.name} ({type(model).__name__}) is not an image-text model"
            )
        return model, processor

    def _model_dim(self) -> int:
        return projection_dim(self.loaded[0])

    def _text_options(self, model: Any) -> dict[str, Any]:
        limit = self.spec.max_tokens
        if model.config.model_type in SIGLIP_TYPES:
            return dict(
                padding="max_length", truncation=True, max_length=limit or SIGLIP_TEXT_LENGTH
            )
        positions = int(model.config.text_config.max_position_embeddings)
        return dict(padding=True, truncation=True, max_length=min(limit or positions, positions))

    def _encode(self, texts: list[str]) -> np.ndarray:
        def run(model: Any, processor: Any, batch: list[str]) -> Any:
            inputs = processor(text=batch, return_tensors="pt", **self._text_options(model))
            return model.get_text_features(**self.towers.inputs(inputs, _TEXT_KEYS))

        return self.towers.run(self.loaded, "text", run, texts)  # type: ignore[no-any-return]

    def _encode_images(self, images: list[Any]) -> np.ndarray:
        def run(model: Any, processor: Any, batch: list[Any]) -> Any:
            inputs = processor(images=batch, return_tensors="pt")
            features = self.towers.inputs(inputs, _IMAGE_KEYS)
            features["pixel_values"] = features["pixel_values"].to(model.dtype)
            return model.get_image_features(**features)

        return self.towers.run(self.loaded, "images", run, images)  # type: ignore[no-any-return]


class TransformersAudioEmbedder(BlockingModel, AudioEmbedderBase):
    """CLAP audio and texts, with transformers in-process.

    >>> from msearch.multimodal import audio_embedder
    >>> embedder = audio_embedder("laion/clap-htsat-unfused", "transformers")
    >>> embedder.embed_audio(["dog_bark.wav"]).shape  # doctest: +SKIP
    (1, 512)
    >>> embedder.embed_query("a dog barking").shape  # doctest: +SKIP
    (512,)
    """

    Options: ClassVar[type[TransformersAudioOptions]] = TransformersAudioOptions
    options: TransformersAudioOptions

    def __init__(self, spec: ModelSpec, options: TransformersAudioOptions | None = None) -> None:
        super().__init__(spec, options)
        self.towers = TwoTowers(spec, self.options, self.batch_size, self.show_progress)

    def _load(self) -> tuple[Any, Any]:
        model, processor = self.towers.load()
        if not hasattr(model, "get_audio_features"):
            raise InvalidInputError(
                f"{self.spec.name} ({type(model).__name__}) is not an audio-text model"
            )
        extractor = processor.feature_extractor
        window = extractor.nb_max_samples / extractor.sampling_rate
        if extractor.sampling_rate != self.sample_rate or window < self.window_s:
            raise InvalidInputError(
                f"{self.spec.name} takes {extractor.sampling_rate} Hz audio in {window:g} s "
                f"windows; pass sample_rate={extractor.sampling_rate}, window_s={window:g}"
            )
        return model, processor

    def _model_dim(self) -> int:
        return projection_dim(self.loaded[0])

    def _encode(self, texts: list[str]) -> np.ndarray:
        def run(model: Any, processor: Any, batch: list[str]) -> Any:
            tokenizer = processor.tokenizer
            limit = self.spec.max_tokens or tokenizer.model_max_length
            positions = int(model.config.text_config.max_position_embeddings) - 2
            inputs = tokenizer(
                batch,
                padding=True,
                truncation=True,
                max_length=min(limit, positions),
                return_tensors="pt",
            )
            return model.get_text_features(**self.towers.inputs(inputs, _TEXT_KEYS))

        return self.towers.run(self.loaded, "text", run, texts)  # type: ignore[no-any-return]

    def _encode_audio(self, clips: list[np.ndarray]) -> np.ndarray:
        def run(model: Any, processor: Any, batch: list[np.ndarray]) -> Any:
            inputs = processor.feature_extractor(
                batch, sampling_rate=self.sample_rate, return_tensors="pt"
            )
            device = self.towers.device
            return model.get_audio_features(
                input_features=inputs["input_features"].to(device, model.dtype),
                is_longer=inputs["is_longer"].to(device) if "is_longer" in inputs else None,
            )

        return self.towers.run(self.loaded, "audio", run, clips)  # type: ignore[no-any-return]


@dataclass(frozen=True, kw_only=True)
class SiglipTextChoice:
    """Where an image model on infinity embeds text: ``text_backend`` ``"transformers"`` (here;
    the default for SigLIP) or ``"infinity"`` (the default for CLIP)."""

    text_backend: str | None = None


def local_text_tower(
    spec: ModelSpec, choice: SiglipTextChoice, batch_size: int
) -> TransformersImageEmbedder | None:
    """The local transformers text side for an image model on infinity, or ``None`` when its
    text stays on infinity.

    infinity pads text to the longest of its batch and truncates at the config's generic
    ``max_length`` (20); SigLIP's text tower needs 64 padded tokens, so by default SigLIP text
    runs here with transformers (loading the model's text side locally) while images go to
    infinity. ``text_backend="infinity"`` keeps text on infinity, knowing it differs.
    """
    chosen = choice.text_backend or ("transformers" if is_siglip(spec.name) else "infinity")
    if chosen not in ("infinity", "transformers"):
        raise ValueError(f"text_backend must be 'infinity' or 'transformers', got {chosen!r}")
    if chosen == "infinity":
        return None
    return TransformersImageEmbedder(
        spec, TransformersImageOptions(batch_size=batch_size, normalize=False)
    )


async def encode_on_tower(
    tower: TransformersImageEmbedder | None,
    texts: list[str],
    on_infinity: Callable[[list[str]], Awaitable[np.ndarray]],
) -> np.ndarray:
    """Raw text vectors from the local ``tower`` in a worker thread (never on the event loop),
    else from infinity."""
    if tower is None:
        return await on_infinity(texts)
    return await asyncio.to_thread(tower._sync, tower._encode, texts)  # type: ignore[no-any-return]


def _features(output: Any) -> Any:
    """The projected features from a ``get_*_features`` call: a tensor in transformers 4, an
    output object holding them as ``pooler_output`` in transformers 5."""
    return getattr(output, "pooler_output", output)
