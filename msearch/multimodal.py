"""Build image and audio embedders by model and backend name.

An image embedder (CLIP, SigLIP/SigLIP2) or audio embedder (CLAP) embeds its media and,
through the same model's text tower, text queries into one vector space.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from msearch.backends import build_backend
from msearch.embeddings import check_embedding_model, split_spec_options
from msearch.models import Modality, resolve_spec
from msearch.protocols import AudioEmbedder, ImageEmbedder

#: ``model_type`` values (config.json) of the image-text and audio-text model families.
_FOLDER_MODALITIES = {
    "clip": Modality.IMAGE,
    "chinese_clip": Modality.IMAGE,
    "siglip": Modality.IMAGE,
    "siglip2": Modality.IMAGE,
    "clap": Modality.AUDIO,
}


def model_modality(model: str) -> Modality:
    """What ``model`` embeds besides text: the registry's word, else a local folder's config.

    An unregistered hub name counts as a text model (its name alone is no proof: a text-only
    model may well have "clip" in its name); pass the modality explicitly for those.

    >>> from msearch.multimodal import model_modality
    >>> model_modality("openai/clip-vit-base-patch32").value
    'image'
    >>> model_modality("sentence-transformers/all-MiniLM-L6-v2").value
    'text'
    """
    registered = resolve_spec(model).modality
    if registered is not Modality.TEXT:
        return registered
    config = Path(model).expanduser() / "config.json"
    if not config.is_file():
        return registered
    try:
        model_type = json.loads(config.read_text(encoding="utf-8")).get("model_type", "")
    except (OSError, ValueError, AttributeError):
        # An unreadable config is the loader's error to report, with its own context.
        return registered
    return _FOLDER_MODALITIES.get(str(model_type), registered)


def image_embedder(model: str, backend: str = "transformers", **options: Any) -> ImageEmbedder:
    """An image embedder for ``model`` (a registered name, a hub name or a local folder).

    Backends: ``"transformers"``, ``"infinity"`` (in-process), ``"infinity-server"`` (a
    running Infinity server; ``url=`` names it). Nothing loads here: the model loads on first use.

    >>> from msearch.multimodal import image_embedder
    >>> embedder = image_embedder("openai/clip-vit-base-patch32")  # doctest: +SKIP
    >>> embedder.embed_images(["cat.jpg", "dog.png"]).shape  # doctest: +SKIP
    (2, 512)
    """
    spec, backend_options = split_spec_options(model, dict(options))
    check_embedding_model(spec)
    _check_modality(spec.modality, Modality.IMAGE, model)
    embedder: ImageEmbedder = build_backend("image", backend, spec, backend_options)
    return embedder


def audio_embedder(model: str, backend: str = "transformers", **options: Any) -> AudioEmbedder:
    """An audio embedder (CLAP) for ``model``; see ``image_embedder`` for the backends.

    Audio is resampled to the model's rate and cut into fixed windows (10 s, 2 s overlap by
    default: ``window_s=``, ``overlap_s=``).

    >>> from msearch.multimodal import audio_embedder
    >>> embedder = audio_embedder("laion/clap-htsat-unfused")  # doctest: +SKIP
    >>> embedder.embed_audio(["bark.wav", (samples, 16_000)]).shape  # doctest: +SKIP
    (2, 512)
    """
    spec, backend_options = split_spec_options(model, dict(options))
    check_embedding_model(spec)
    _check_modality(spec.modality, Modality.AUDIO, model)
    embedder: AudioEmbedder = build_backend("audio", backend, spec, backend_options)
    return embedder


def _check_modality(actual: Modality, wanted: Modality, model: str) -> None:
    # An unregistered model is TEXT by default and may well be an image or audio model.
    if actual not in (wanted, Modality.TEXT):
        raise ValueError(f"{model} is registered as an {actual.value} model, not {wanted.value}")
