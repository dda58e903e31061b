"""LlamaIndex embeddings for audio-text models (CLAP).

``MSearchAudioEmbedding`` embeds texts through the CLAP text tower and adds
``get_audio_embedding`` (LlamaIndex has no audio embedding base class). Image-text models
(CLIP, SigLIP) are served by ``MSearchEmbedding``, a ``MultiModalEmbedding``.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.base.embeddings.base import Embedding
from pydantic import PrivateAttr

from llamaindex_msearch.embeddings import _TextTower
from msearch.multimodal import audio_embedder
from msearch.protocols import AudioEmbedder
from msearch.secrets import without_secrets


class MSearchAudioEmbedding(_TextTower):
    """Audio and texts in one vector space (CLAP), for LlamaIndex.

    ``get_audio_embedding`` takes a path, bytes, ``BytesIO`` or ``(array, sample_rate)``;
    clips longer than the model's window are embedded as the mean of fixed windows.

    Example:
        .. code-block:: python

            from llamaindex_msearch import MSearchAudioEmbedding

            embed_model = MSearchAudioEmbedding(model="laion/clap-htsat-unfused")
            clip_vector = embed_model.get_audio_embedding("bark.wav")
            query_vector = embed_model.get_query_embedding("a dog barking")
    """

    _embedder: AudioEmbedder = PrivateAttr()

    def __init__(
        self,
        model: str,
        backend: str = "transformers",
        embed_batch_size: int = 256,
        **options: Any,
    ) -> None:
        super().__init__(  # type: ignore[call-arg]  # pydantic fields declared above
            model_name=model,
            backend=backend,
            options=without_secrets(options),
            embed_batch_size=embed_batch_size,
        )
        self._embedder = audio_embedder(model, backend, **options)

    @classmethod
    def class_name(cls) -> str:
        return "MSearchAudioEmbedding"

    @property
    def embedder(self) -> AudioEmbedder:
        return self._embedder

    def get_audio_embedding(self, audio: Any) -> Embedding:
        return self.get_audio_embedding_batch([audio])[0]

    async def aget_audio_embedding(self, audio: Any) -> Embedding:
        return (await self.aget_audio_embedding_batch([audio]))[0]

    def get_audio_embedding_batch(self, audios: list[Any]) -> list[Embedding]:
        return self._embedder.embed_audio(audios).tolist()  # type: ignore[no-any-return]

    async def aget_audio_embedding_batch(self, audios: list[Any]) -> list[Embedding]:
        return (await self._embedder.aembed_audio(audios)).tolist()  # type: ignore[no-any-return]
