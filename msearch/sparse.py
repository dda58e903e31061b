"""Sparse (lexical) embeddings for hybrid search: the shared API and the factory.

A sparse vector holds a weight per vocabulary token id; Qdrant stores it in a sparse named
vector and fuses it with the dense one. BGE-M3 (backend ``"transformers"``, or ``"flag"``)
computes its sparse weights in the same forward pass as its dense vector, so a hybrid
collection pays for one pass per batch, not two.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

import numpy as np

from msearch.backends import build_backend
from msearch.backends.base import (
    SparseEmbedder,
    SparseVector,
    _ModelAPI,
    check_text,
    check_texts,
)
from msearch.errors import InvalidInputError
from msearch.models import ModelSpec, registered_models, resolve_spec

__all__ = ["SparseEmbedderBase", "sparse_embedder", "sparse_from_weights"]


class SparseEmbedderBase(_ModelAPI):
    """The public sparse-embedding API, written once over a backend's ``_encode_sparse``.

    Like ``TextEmbedderBase``, a subclass mixes in ``BlockingModel`` or ``CoroutineModel``,
    whose ``_sync``/``_async`` give the sync and async methods from one implementation.
    Empty input gives an empty list; an empty string gives a (possibly empty) vector.
    """

    def __init__(
        self, spec: ModelSpec, *, batch_size: int = 32, show_progress: bool | None = None
    ) -> None:
        _ModelAPI.__init__(self, spec, batch_size, show_progress)

    @abc.abstractmethod
    def _encode_sparse(self, texts: list[str]) -> list[SparseVector]:
        """One sparse vector per document; sync or async per the execution base."""

    def _encode_sparse_queries(self, texts: list[str]) -> list[SparseVector]:
        """One sparse vector per query: the documents' encoding unless the model has a
        query side of its own (inference-free SPLADE)."""
        return self._encode_sparse(texts)

    def embed_documents_sparse(self, texts: Sequence[str]) -> list[SparseVector]:
        items = check_texts(texts)
        if not items:
            return []
        return list(self._sync(self._encode_sparse, items))

    def embed_query_sparse(self, text: str) -> SparseVector:
        return self._sync(self._encode_sparse_queries, [check_text(text)])[0]  # type: ignore[no-any-return]

    async def aembed_documents_sparse(self, texts: Sequence[str]) -> list[SparseVector]:
        items = check_texts(texts)
        if not items:
            return []
        return list(await self._async(self._encode_sparse, items))

    async def aembed_query_sparse(self, text: str) -> SparseVector:
        query = [check_text(text)]
        return (await self._async(self._encode_sparse_queries, query))[0]  # type: ignore[no-any-return]


def sparse_from_weights(token_ids: Sequence[int], weights: Sequence[float]) -> SparseVector:
    """A sparse vector from per-token weights: each id once, with its largest weight.

    Ids with a weight <= 0 are dropped (they cannot contribute to a dot product match);
    indices come out sorted, so equal inputs give identical vectors.
    """
    best: dict[int, float] = {}
    for token_id, weight in zip(token_ids, weights, strict=True):
        if weight > 0 and weight > best.get(token_id, 0.0):
            best[token_id] = float(weight)
    indices = np.array(sorted(best), dtype=np.int64)
    values = np.array([best[i] for i in indices.tolist()], dtype=np.float32)
    return SparseVector(indices=indices, values=values)


def sparse_embedder(model: str, backend: str | None = None, **options: Any) -> SparseEmbedder:
    """A sparse embedder for ``model`` on ``backend``; nothing loads until first use.

    ``backend`` defaults to the model's first registered one (``"bm25"`` for ``"bm25"``,
    ``"transformers"`` for BGE-M3), else ``"transformers"``.

    A registered model that has no sparse output (a dense-only model) is refused here with
    an error that names the models that have one.

    >>> from msearch.sparse import sparse_embedder
    >>> sparse = sparse_embedder("BAAI/bge-m3")  # doctest: +SKIP
    >>> sparse.embed_query_sparse("what is qdrant?").as_dict()  # doctest: +SKIP
    {6: 0.04, 1294: 0.27, ...}
    """
    spec = _spec(model, options)
    _check_sparse(spec)
    if backend is None:
        backend = spec.backends[0] if spec.backends else "transformers"
    embedder: SparseEmbedder = build_backend("sparse", backend, spec, options)
    return embedder


def _spec(model: str, options: dict[str, Any]) -> ModelSpec:
    overrides = {key: options.pop(key) for key in ("max_tokens",) if key in options}
    return resolve_spec(model, **overrides)


def _check_sparse(spec: ModelSpec) -> None:
    registered = {known.name: known for known in registered_models()}
    if spec.name in registered and not spec.sparse:
        sparse_models = sorted(name for name, known in registered.items() if known.sparse)
        raise InvalidInputError(
            f"{spec.name} is a dense-only model and has no sparse output; sparse vectors need "
            f"a model with a lexical head, such as {', '.join(sparse_models) or 'BAAI/bge-m3'}"
        )
