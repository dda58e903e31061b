"""What the store records about the models that fill it, and sparse models of any framework.

The framework adapters hand the store whatever embeddings object the user gave: msearch's
own, an msearch adapter (``WrapsModel``: its ``embedder`` is msearch's model), a LangChain
``Embeddings`` or a LlamaIndex ``BaseEmbedding``. ``model_id`` names it for
the collection's record; ``as_sparse_embedder`` turns any sparse model (msearch's, a
langchain-qdrant ``SparseEmbeddings``, a LlamaIndex ``BaseSparseEmbedding``) into msearch's
``SparseEmbedder`` protocol.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from msearch.datatypes import SparseVector
from msearch.errors import InvalidInputError
from msearch.protocols import SparseEmbedder, WrapsModel


def model_id(model: Any) -> str:
    """The id recorded for ``model``: msearch's model name, else its class name.

    A foreign object's ``model`` or ``model_name`` string is appended, so two OpenAI models,
    say, are told apart.
    """
    if isinstance(model, _Wrapper):
        model = model.wrapped
    core = model.embedder if isinstance(model, WrapsModel) else model
    spec = getattr(core, "spec", None)
    name = getattr(spec, "name", None)
    if isinstance(name, str) and name:
        return name
    label = type(model).__name__
    for attribute in ("model", "model_name"):
        value = getattr(model, attribute, None)
        if isinstance(value, str) and value:
            return f"{label}:{value}"
    return label


def as_sparse_embedder(model: Any) -> SparseEmbedder:
    """msearch's SparseEmbedder for ``model``, or a TypeError naming what is accepted."""
    core = model.embedder if isinstance(model, WrapsModel) else model
    if isinstance(core, SparseEmbedder):
        return core
    if hasattr(model, "get_text_embedding_batch") and hasattr(model, "get_query_embedding"):
        return _LlamaIndexSparse(model)
    if hasattr(model, "embed_documents") and hasattr(model, "embed_query"):
        return _LangChainSparse(model)
    raise TypeError(
        f"{type(model).__name__} is not a sparse embedding model: give msearch's "
        "sparse_embedder(...), MSearchSparseEmbeddings / MSearchSparseEmbedding, a "
        "langchain-qdrant SparseEmbeddings or a LlamaIndex BaseSparseEmbedding"
    )


def to_sparse(value: Any) -> SparseVector:
    """A SparseVector from one of: SparseVector, ``{index: weight}``, an object with
    ``indices`` and ``values`` (langchain-qdrant's, qdrant-client's)."""
    if isinstance(value, SparseVector):
        return value
    if isinstance(value, Mapping):
        keys, weights = list(value.keys()), list(value.values())
    elif hasattr(value, "indices") and hasattr(value, "values"):
        keys, weights = list(value.indices), list(value.values)
    else:
        raise InvalidInputError(f"not a sparse vector: {type(value).__name__}")
    return SparseVector(np.asarray(keys, dtype=np.int64), np.asarray(weights, dtype=np.float32))


class _Wrapper:
    """A foreign sparse model seen as msearch's SparseEmbedder; ``wrapped`` is that model."""

    def __init__(self, model: Any) -> None:
        self.wrapped = model


class _LangChainSparse(_Wrapper):
    """A langchain-qdrant ``SparseEmbeddings`` seen as msearch's SparseEmbedder."""

    def embed_documents_sparse(self, texts: Sequence[str]) -> list[SparseVector]:
        return [to_sparse(v) for v in self.wrapped.embed_documents(list(texts))] if texts else []

    def embed_query_sparse(self, text: str) -> SparseVector:
        return to_sparse(self.wrapped.embed_query(text))

    async def aembed_documents_sparse(self, texts: Sequence[str]) -> list[SparseVector]:
        if not texts:
            return []
        return [to_sparse(v) for v in await self.wrapped.aembed_documents(list(texts))]

    async def aembed_query_sparse(self, text: str) -> SparseVector:
        return to_sparse(await self.wrapped.aembed_query(text))


class _LlamaIndexSparse(_Wrapper):
    """A LlamaIndex ``BaseSparseEmbedding`` seen as msearch's SparseEmbedder."""

    def embed_documents_sparse(self, texts: Sequence[str]) -> list[SparseVector]:
        if not texts:
            return []
        return [to_sparse(v) for v in self.wrapped.get_text_embedding_batch(list(texts))]

    def embed_query_sparse(self, text: str) -> SparseVector:
        return to_sparse(self.wrapped.get_query_embedding(text))

    async def aembed_documents_sparse(self, texts: Sequence[str]) -> list[SparseVector]:
        if not texts:
            return []
        return [to_sparse(v) for v in await self.wrapped.aget_text_embedding_batch(list(texts))]

    async def aembed_query_sparse(self, text: str) -> SparseVector:
        return to_sparse(await self.wrapped.aget_query_embedding(text))
