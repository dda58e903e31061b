"""The ``"infinity-server"`` backend: an Infinity REST server, reached with httpx.

``ServerClient`` (``server_client``) does the HTTP work (retries, deadline, key); sync callers
go through msearch's background loop. ``url`` defaults to ``$INFINITY_URL`` or
``http://localhost:7997``, ``api_key`` to ``$INFINITY_API_KEY``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from msearch import media
from msearch.backends.base import CoroutineModel, RerankerBase, TextEmbedderBase
from msearch.backends.media_base import AudioEmbedderBase, ImageEmbedderBase
from msearch.backends.server_client import server_options
from msearch.backends.transformers import LocalSiglipText
from msearch.batching import with_progress
from msearch.errors import BackendError
from msearch.models import ModelSpec

DEFAULT_URL = "http://localhost:7997"


class _InfinityServerModel:
    """The options every server-backed model takes, and the client built from them.

    Mixed in before ``CoroutineModel`` and the public base, whose ``__init__`` receives the
    remaining options. ``server_model`` is the name the server knows the model by (its
    ``--served-model-name``, else the model id it was started with); it defaults to the spec's.
    """

    batch_size: int
    show_progress: bool | None

    def __init__(
        self,
        spec: ModelSpec,
        *,
        url: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        server_model: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(spec, **options)  # type: ignore[call-arg]
        self.client = server_options(
            spec,
            "Infinity server",
            url=url,
            url_env="INFINITY_URL",
            default_url=DEFAULT_URL,
            api_key=api_key,
            key_env="INFINITY_API_KEY",
            timeout=timeout,
            max_retries=max_retries,
        )
        self.server_model = server_model or spec.name


class _InfinityServerEmbedder(_InfinityServerModel):
    """Vectors from ``/embeddings``, ``size`` inputs a request."""

    _sync: Callable[..., Any]
    _encode: Callable[[list[str]], Awaitable[np.ndarray]]

    async def _request(self, inputs: list[str], modality: str, size: int, desc: str) -> np.ndarray:
        rows: list[Any] = []
        for start in with_progress(list(range(0, len(inputs), size)), self.show_progress, desc):
            part = inputs[start : start + size]
            payload = {
                "model": self.server_model,
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

    def _model_dim(self) -> int:
        return int(self._sync(self._encode, ["dimension probe"]).shape[1])


class InfinityServerTextEmbedder(_InfinityServerEmbedder, CoroutineModel, TextEmbedderBase):
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

    async def _encode(self, texts: list[str]) -> np.ndarray:
        return await self._request(texts, "text", self.batch_size, "embedding")


#: The server refuses strings longer than this (its request schema's limit). No model reads
#: this many characters, so clipping a document here cannot change its score.
_SERVER_MAX_CHARS = 8192 * 15


class InfinityServerReranker(_InfinityServerModel, CoroutineModel, RerankerBase):
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

    async def _score(self, query: str, documents: list[str]) -> np.ndarray:
        # The server batches and sorts by length itself; one request carries several batches.
        chunk = self.batch_size * 8
        out = np.empty(len(documents), dtype=np.float64)
        for start in with_progress(
            list(range(0, len(documents), chunk)), self.show_progress, "reranking"
        ):
            part = [doc[:_SERVER_MAX_CHARS] for doc in documents[start : start + chunk]]
            answer = await self.client.post(
                "/rerank",
                {
                    "model": self.server_model,
                    "query": query[:_SERVER_MAX_CHARS],
                    "documents": part,
                    "raw_scores": True,
                    "return_documents": False,
                },
            )
            results = answer.get("results") if isinstance(answer, dict) else None
            if not isinstance(results, list) or len(results) != len(part):
                raise BackendError(
                    f"Infinity server at {self.client.url} answered /rerank for {len(part)} "
                    f"documents with {answer!r:.300}"
                )
            for result in results:
                out[start + int(result["index"])] = float(result["relevance_score"])
        return out


class InfinityServerImageEmbedder(
    LocalSiglipText, _InfinityServerEmbedder, CoroutineModel, ImageEmbedderBase
):
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

    async def _encode_on_infinity(self, texts: list[str]) -> np.ndarray:
        return await self._request(texts, "text", self.batch_size, "embedding text")

    async def _encode_images(self, images: list[Any]) -> np.ndarray:
        uris = [media.data_uri(media.encode_png(image), "image/png") for image in images]
        return await self._request(uris, "image", self.batch_size, "embedding image")


class InfinityServerAudioEmbedder(_InfinityServerEmbedder, CoroutineModel, AudioEmbedderBase):
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

    def __init__(self, spec: ModelSpec, *, request_size: int = 4, **options: Any) -> None:
        super().__init__(spec, **options)
        self.request_size = request_size

    async def _encode(self, texts: list[str]) -> np.ndarray:
        return await self._request(texts, "text", self.batch_size, "embedding text")

    async def _encode_audio(self, clips: list[np.ndarray]) -> np.ndarray:
        size = self.window_samples
        wavs = [media.encode_wav(media.repeat_pad(clip, size), self.sample_rate) for clip in clips]
        uris = [media.data_uri(wav, "audio/wav") for wav in wavs]
        return await self._request(uris, "audio", self.request_size, "embedding audio")
