"""Build rerankers by model and backend name."""

from __future__ import annotations

import dataclasses
from typing import Any

from msearch.backends import build_backend
from msearch.embeddings import split_spec_options
from msearch.errors import InvalidInputError
from msearch.models import Kind, get_spec
from msearch.protocols import Reranker


def reranker(model: str, backend: str = "sentence-transformers", **options: Any) -> Reranker:
    """A reranker for ``model`` (a registered name, a hub name or a local folder).

    Every backend scores on the same scale: relevance in 0..1 (the sigmoid of a cross-encoder's
    logit, P(yes) for LLM rerankers), so a score threshold means the same thing everywhere.
    ``raw_scores=True`` returns the log-odds instead. Options go to the backend
    (``batch_size``, ``device``, ``url``, ``timeout`` ...) or override the model description
    (``max_tokens``). Nothing loads here: the model loads on first use.

    >>> from msearch.rerank import reranker
    >>> ranker = reranker("cross-encoder/ms-marco-MiniLM-L-6-v2")  # doctest: +SKIP
    >>> ranker.rerank("Where do cats purr?", ["Cats purr on sofas.", "Paris is in France."])
    ... # doctest: +SKIP
    [RerankResult(index=0, score=0.98...), RerankResult(index=1, score=0.0001...)]
    """
    spec, backend_options = split_spec_options(model, dict(options))
    try:
        registered = get_spec(model)
    except KeyError:
        # An unregistered model is taken at its word: the caller asked for a reranker.
        spec = dataclasses.replace(spec, kind=Kind.RERANKER)
    else:
        if registered.kind is not Kind.RERANKER:
            raise InvalidInputError(
                f"{model!r} is registered as a {registered.kind.value} model, not a reranker"
            )
    ranker: Reranker = build_backend("rerank", backend, spec, backend_options)
    return ranker


def adapter_reranker(
    owner: str,
    model: str | None,
    backend: str,
    built: Reranker | None,
    options: dict[str, Any],
) -> tuple[str, Reranker]:
    """The model name and reranker a framework adapter wraps: ``built`` if given, else a new one.

    Nothing loads here (rerankers load on first use); ``owner`` names the adapter in errors.
    """
    if built is None and model is None:
        raise InvalidInputError(f"{owner} needs a model name or a built reranker")
    if built is not None:
        spec = getattr(built, "spec", None)
        return model or (spec.name if spec is not None else type(built).__name__), built
    assert model is not None  # for mypy: checked above
    return model, reranker(model, backend, **options)
