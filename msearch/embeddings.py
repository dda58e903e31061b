"""Build text embedders by model and backend name."""

from __future__ import annotations

from typing import Any

from msearch.backends import build_backend
from msearch.errors import InvalidInputError
from msearch.models import Kind, ModelSpec, resolve_spec
from msearch.protocols import TextEmbedder

_SPEC_FIELDS = {"dim", "max_tokens", "query_prompt", "document_prompt", "default_task", "pooling"}


def split_spec_options(model: str, options: dict[str, Any]) -> tuple[ModelSpec, dict[str, Any]]:
    """Separate model-description overrides (``dim``, ``query_prompt`` ...) from backend options."""
    overrides = {key: options.pop(key) for key in list(options) if key in _SPEC_FIELDS}
    return resolve_spec(model, **overrides), options


def text_embedder(
    model: str, backend: str = "sentence-transformers", **options: Any
) -> TextEmbedder:
    """A text embedder for ``model`` (a registered name, a hub name or a local folder).

    Nothing loads here: the model loads on first use.

    >>> from msearch.embeddings import text_embedder
    >>> embedder = text_embedder("sentence-transformers/all-MiniLM-L6-v2")  # doctest: +SKIP
    >>> embedder.embed_query("hello").shape  # doctest: +SKIP
    (384,)
    """
    spec, backend_options = split_spec_options(model, dict(options))
    check_embedding_model(spec)
    embedder: TextEmbedder = build_backend("text", backend, spec, backend_options)
    return embedder


#: Where to go for a registered model that embeds nothing.
_OTHER_KINDS = {
    Kind.RERANKER: "msearch.rerank.reranker",
    Kind.TRANSCRIBER: "msearch.speech.transcriber",
}


def check_embedding_model(spec: ModelSpec) -> None:
    """Refuse a model registered as a reranker or a transcriber, saying which factory it needs."""
    if spec.kind is not Kind.EMBEDDING:
        raise InvalidInputError(
            f"{spec.name!r} is registered as a {spec.kind.value}, not an embedding model; "
            f"use {_OTHER_KINDS[spec.kind]}"
        )
