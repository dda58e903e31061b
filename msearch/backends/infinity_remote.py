"""The ``"infinity-server"`` backend: an Infinity REST server, reached with httpx.

``ServerClient`` (``server_client``) does the HTTP work (retries, deadline, key); sync callers
go through msearch's background loop. ``url`` defaults to ``$INFINITY_URL`` or
``http://localhost:7997``, ``api_key`` to ``$INFINITY_API_KEY``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from msearch import media
from msearch.backends.base import (
    CoroutineModel,
    EmbedOptions,
    RerankerBase,
    RerankOptions,
    TextEmbedderBase,
)
from msearch.backends.media_base import (
    AudioEmbedderBase,
    AudioOptions,
    ImageEmbedderBase,
    ImageOptions,
)
from msearch.backends.server_client import ServerConnection, Site, server_client
from msearch.backends.transformers import SiglipTextChoice, encode_on_tower, local_text_tower
from msearch.batching import with_progress
from msearch.errors import BackendError
from msearch.models import ModelSpec

DEFAULT_URL = "http://localhost:7997"


INFINITY = Site("Infinity server", "INFINITY_URL", "INFINITY_API_KEY", DEFAULT_URL)


@dataclass(frozen=True, kw_only=True)
class InfinityServerTextOptions(EmbedOptions, ServerConnection):
    """The options of ``InfinityServerTextEmbedder``."""


@dataclass(frozen=True, kw_only=True)
class InfinityServerRerankOptions(RerankOptions, ServerConnection):
    """The options of ``InfinityServerReranker``."""


@dataclass(frozen=True, kw_only=True)
class InfinityServerImageOptions(ImageOptions, ServerConnection, SiglipTextChoice):
    """The options of ``InfinityServerImageEmbedder``."""


@dataclass(frozen=True, kw_only=True)
class InfinityServerAudioOptions(AudioOptions, ServerConnection):
    """The options of ``InfinityServerAudioEmbedder``: ``request_size`` windows a request."""

    request_size: int = 4


class InfinityServer:
    """One model on an Infinity server: its client, and its name there."""

    def __init__(
        self, spec: ModelSpec, connection: ServerConnection, show_progress: bool | None
    ) -> None:
        self.client = server_client(spec, INFINITY, connection)
        self.model = connection.server_model or spec.name
        self.show_progress = show_progress

    async def embeddings(
        self, inputs: list[str], modality: str, size: int, desc: str
    ) -> np.ndarray:
        """Vectors from ``/embeddings`` for ``inputs``, ``size`` inputs a request."""
        rows: list[Any] = []
        for start in with_progress(list(range(0, len(inputs), size)), self.show_progress, desc):
            part = inputs[start : start + size]
            payload = {
                "model": self.model,
                "input": part,
                "encoding_format": "float",
                "modality": modality,
            }
            answer = await self.client.post("/embeddings", payload)
            data = answer.get("data") if isinstance(answer, dict) else None
            if not isinstance(data, list) or len(data) != len(part):
                raise self.client.bad_answer("/embeddings", answer, f"{len(part)} vectors")
            rows.extend(row["embedding"] for row in sorted(data, key=lambda row: row["index"]))
        return np.asarray(rows, dtype=np.float32)


class InfinityServerTextEmbedder(CoroutineModel, TextEmbedderBase):
    """Text embeddings from an Infinity server.

    ``server_model`` is the name the server knows the model by (its ``--served-model-name``,
    else the model id it was started with); it defaults to the spec's name.

    >>> from msearch.embeddings import text_embedder
    >>> embedder = text_embedder(
    ...     "sentence-transformers/all-MiniLM-L6-v2", "infinity-server", url="http://localhost:7997"
    ... )
    >>> embedder.embed_query("hello").shape  # doctest: +SKIP
    (384,)
    """

    Options: ClassVar[type[InfinityServerTextOptions]] = InfinityServerTextOptions
    options: InfinityServerTextOptions

    def __init__(self, spec: ModelSpec, options: InfinityServerTextOptions | None = None) -> None:
        super().__init__(spec, options)
        self.server = InfinityServer(spec, self.options, self.show_progress)

    async def _encode(self, texts: list[str]) -> np.ndarray:
        return await self.server.embeddings(texts, "text", self.batch_size, "embedding")


#: The server refuses strings longer than this (its request schema's limit). No model reads
#: this many characters, so clipping a document here cannot change its score.
_SERVER_MAX_CHARS = 8192 * 15


class InfinityServerReranker(CoroutineModel, RerankerBase):
    """Reranking with a cross-encoder served by an Infinity server (``/rerank``).

    The server is asked for raw logits; msearch applies the sigmoid, as on every backend.
    ``server_model`` is the name the server knows the model by; it defaults to the spec's name.

    >>> from msearch.rerank import reranker
    >>> ranker = reranker(
    ...     "cross-encoder/ms-marco-MiniLM-L-6-v2", "infinity-server", url="http://localhost:7997"
    ... )
    >>> ranker.rerank("Where do cats purr?", ["Cats purr on sofas.", "Paris is in France."])
    ... # doctest: +SKIP
    [RerankResult(index=0, score=0.98...), RerankResult(index=1, score=0.0001...)]
    """

    Options: ClassVar[type[InfinityServerRerankOptions]] = InfinityServerRerankOptions
    options: InfinityServerRerankOptions

    def __init__(self, spec: ModelSpec, options: InfinityServerRerankOptions | None = None) -> None:
        super().__init__(spec, options)
        self.server = InfinityServer(spec, self.options, self.show_progress)

    async def _score(self, query: str, documents: list[str]) -> np.ndarray:
        # The server batches and sorts by length itself; one request carries several batches.
        chunk = self.batch_size * 8
        out = np.empty(len(documents), dtype=np.float64)
        for start in with_progress(
            list(range(0, len(documents), chunk)), self.show_progress, "reranking"
        ):
            part = [doc[:_SERVER_MAX_CHARS] for doc in documents[start : start + chunk]]
            answer = await self.server.client.post(
                "/rerank",
                {
                    "model": self.server.model,
                    "query": query[:_SERVER_MAX_CHARS],
                    "documents": part,
                    "raw_scores": True,
                    "return_documents": False,
                },
            )
            results = answer.get("results") if isinstance(answer, dict) else None
            if not isinstance(results, list) or len(results) != len(part):
                raise BackendError(
                    f"Infinity server at {self.server.client.url} answered /rerank for {len(part)} "
                    f"documents with {answer!r:.300}"
                )
            for result in results:
                out[start + int(result["index"])] = float(result["relevance_score"])
        return out


class InfinityServerImageEmbedder(CoroutineModel, ImageEmbedderBase):
    """CLIP or SigLIP images and texts from an Infinity server (``modality=image``).

    Images are loaded here (paths, bytes, PIL, arrays, URLs) and sent as PNG data URIs, so
    the server needs no access to the caller's files or network. SigLIP text runs locally on
    transformers by default (``text_backend``), which needs the model's files here too.

    >>> from msearch.multimodal import image_embedder
    >>> embedder = image_embedder(
    ...     "openai/clip-vit-base-patch32", "infinity-server", url="http://localhost:7997"
    ... )
    >>> embedder.embed_images(["cat.jpg"]).shape  # doctest: +SKIP
    (1, 512)
    """

    Options: ClassVar[type[InfinityServerImageOptions]] = InfinityServerImageOptions
    options: InfinityServerImageOptions

    def __init__(self, spec: ModelSpec, options: InfinityServerImageOptions | None = None) -> None:
        super().__init__(spec, options)
        self.server = InfinityServer(spec, self.options, self.show_progress)
        self.text_tower = local_text_tower(spec, self.options, self.batch_size)

    async def _encode(self, texts: list[str]) -> np.ndarray:
        return await encode_on_tower(self.text_tower, texts, self._encode_on_infinity)

    async def _encode_on_infinity(self, texts: list[str]) -> np.ndarray:
        return await self.server.embeddings(texts, "text", self.batch_size, "embedding text")

    async def _encode_images(self, images: list[Any]) -> np.ndarray:
        uris = [media.data_uri(media.encode_png(image), "image/png") for image in images]
        return await self.server.embeddings(uris, "image", self.batch_size, "embedding image")


class InfinityServerAudioEmbedder(CoroutineModel, AudioEmbedderBase):
    """CLAP audio and texts from an Infinity server (``modality=audio``).

    Each window is resampled to the model's rate and repeat-padded here (the server would
    zero-pad), then sent as a lossless float WAV data URI. ``request_size`` windows go in one
    request (each is about 2.5 MB of base64 at 48 kHz).

    >>> from msearch.multimodal import audio_embedder
    >>> embedder = audio_embedder(
    ...     "laion/clap-htsat-unfused", "infinity-server", url="http://localhost:7997"
    ... )
    >>> embedder.embed_audio(["bark.wav"]).shape  # doctest: +SKIP
    (1, 512)
    """

    Options: ClassVar[type[InfinityServerAudioOptions]] = InfinityServerAudioOptions
    options: InfinityServerAudioOptions

    def __init__(self, spec: ModelSpec, options: InfinityServerAudioOptions | None = None) -> None:
        super().__init__(spec, options)
        self.server = InfinityServer(spec, self.options, self.show_progress)
        self.request_size = self.options.request_size

    async def _encode(self, texts: list[str]) -> np.ndarray:
        return await self.server.embeddings(texts, "text", self.batch_size, "embedding text")

    async def _encode_audio(self, clips: list[np.ndarray]) -> np.ndarray:
        size = self.window_samples
        wavs = [media.encode_wav(media.repeat_pad(clip, size), self.sample_rate) for clip in clips]
        uris = [media.data_uri(wav, "audio/wav") for wav in wavs]
        return await self.server.embeddings(uris, "audio", self.request_size, "embedding audio")
