"""Sparse (lexical) embeddings for hybrid search: the factory.

A sparse vector holds a weight per vocabulary token id; Qdrant stores it in a sparse named
vector and fuses it with the dense one. BGE-M3 (backend ``"transformers"``, or ``"flag"``)
computes its sparse weights in the same forward pass as its dense vector, so a hybrid
collection pays for one pass per batch, not two.
"""

from __future__ import annotations

from typing import Any

from msearch.backends import build_backend
from msearch.errors import InvalidInputError
from msearch.models import ModelSpec, registered_models, resolve_spec
from msearch.protocols import SparseEmbedder

__all__ = ["sparse_embedder"]


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
