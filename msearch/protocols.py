"""What the rest of msearch and the framework adapters rely on from a model: the protocols.

``TextEmbedder``, ``SparseEmbedder``, ``ImageEmbedder``, ``AudioEmbedder``, ``Reranker`` and
``Transcriber``
are structural: every backend satisfies them through the public bases in
``msearch.backends.base``, and the store and the adapters use them without importing a
backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from msearch.datatypes import RerankResult, SparseVector, Transcript
from msearch.models import ModelSpec


@runtime_checkable
class TextEmbedder(Protocol):
    spec: ModelSpec

    @property
    def dim(self) -> int: ...

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...

    async def aembed_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    async def aembed_query(self, text: str) -> np.ndarray: ...


@runtime_checkable
class SparseEmbedder(Protocol):
    def embed_documents_sparse(self, texts: Sequence[str]) -> list[SparseVector]: ...

    def embed_query_sparse(self, text: str) -> SparseVector: ...

    async def aembed_documents_sparse(self, texts: Sequence[str]) -> list[SparseVector]: ...

    async def aembed_query_sparse(self, text: str) -> SparseVector: ...


@runtime_checkable
class ImageEmbedder(TextEmbedder, Protocol):
    """Text side (``embed_query``/``embed_documents``) plus images, in one vector space."""

    def embed_images(self, images: Sequence[Any]) -> np.ndarray: ...

    async def aembed_images(self, images: Sequence[Any]) -> np.ndarray: ...


@runtime_checkable
class AudioEmbedder(TextEmbedder, Protocol):
    """Text side plus audio clips, in one vector space; clips longer than ``window_s``
    seconds at ``sample_rate`` are cut into windows overlapping by ``overlap_s``."""

    sample_rate: int
    window_s: float
    overlap_s: float

    def embed_audio(self, audios: Sequence[Any]) -> np.ndarray: ...

    async def aembed_audio(self, audios: Sequence[Any]) -> np.ndarray: ...


@runtime_checkable
class Reranker(Protocol):
    def rerank(
        self, query: str, documents: Sequence[str], top_n: int | None = None
    ) -> list[RerankResult]: ...

    async def arerank(
        self, query: str, documents: Sequence[str], top_n: int | None = None
    ) -> list[RerankResult]: ...


@runtime_checkable
class Transcriber(Protocol):
    """Speech to text with times: a recording (path, bytes, ``(array, rate)``) to a
    ``Transcript``."""

    spec: ModelSpec

    def check(self) -> None:
        """Raise what loading would raise for a missing library or model, loading nothing."""

    def transcribe(self, audio: Any) -> Transcript: ...

    async def atranscribe(self, audio: Any) -> Transcript: ...


@runtime_checkable
class WrapsModel(Protocol):
    """A framework adapter around an msearch model (``MSearchEmbeddings``, ``MSearchEmbedding``,
    ``MSearchSparseEmbeddings`` ...): ``embedder`` is the msearch model underneath, which the
    store records by name and uses directly."""

    @property
    def embedder(self) -> Any: ...
