"""Backend lookup: a backend name and a capability -> the class that implements it.

Classes are named as strings and imported only when built, so ``import msearch`` stays free
of torch, transformers, FlagEmbedding and infinity_emb.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

from msearch.errors import InvalidInputError, MSearchError

#: capability -> backend name -> "module:Class"
_IMPLEMENTATIONS: dict[str, dict[str, str]] = {
    "text": {
        "sentence-transformers": "msearch.backends.sentence_transformers:STTextEmbedder",
        "infinity": "msearch.backends.infinity_local:InfinityTextEmbedder",
        "infinity-server": "msearch.backends.infinity_remote:InfinityServerTextEmbedder",
        "flag": "msearch.backends.flag:FlagEmbedder",
        "transformers": "msearch.backends.bge:BGEEmbedder",
        "qwen3": "msearch.backends.qwen3:Qwen3TextEmbedder",
        "onnx": "msearch.backends.onnx_runtime:OnnxTextEmbedder",
        "openai": "msearch.backends.http_servers:OpenAITextEmbedder",
        "tei": "msearch.backends.http_servers:TEITextEmbedder",
    },
    "sparse": {
        "transformers": "msearch.backends.bge:BGEEmbedder",
        "sentence-transformers": "msearch.backends.sentence_transformers:STSparseEmbedder",
        "bm25": "msearch.lexical:BM25Embedder",
        "flag": "msearch.backends.flag:FlagEmbedder",
        "tei": "msearch.backends.http_servers:TEISparseEmbedder",
    },
    "rerank": {
        "sentence-transformers": "msearch.backends.sentence_transformers:STCrossEncoderReranker",
        "infinity": "msearch.backends.infinity_local:InfinityReranker",
        "infinity-server": "msearch.backends.infinity_remote:InfinityServerReranker",
        "flag": "msearch.backends.flag_reranker:FlagReranker",
        "qwen3": "msearch.backends.qwen3_reranker:Qwen3Reranker",
        "onnx": "msearch.backends.onnx_runtime:OnnxCrossEncoderReranker",
        "openai": "msearch.backends.http_servers:RerankAPIReranker",
        "tei": "msearch.backends.http_servers:TEIReranker",
    },
    "image": {
        "transformers": "msearch.backends.transformers:TransformersImageEmbedder",
        "infinity": "msearch.backends.infinity_local:InfinityImageEmbedder",
        "infinity-server": "msearch.backends.infinity_remote:InfinityServerImageEmbedder",
    },
    "audio": {
        "transformers": "msearch.backends.transformers:TransformersAudioEmbedder",
        "infinity": "msearch.backends.infinity_local:InfinityAudioEmbedder",
        "infinity-server": "msearch.backends.infinity_remote:InfinityServerAudioEmbedder",
    },
    "speech": {
        "faster-whisper": "msearch.backends.faster_whisper:FasterWhisperTranscriber",
    },
}


def backend_class(capability: str, backend: str) -> type[Any]:
    """The class serving ``capability`` on ``backend``; an InvalidInputError lists what exists."""
    table = _IMPLEMENTATIONS[capability]
    if backend not in table:
        known = ", ".join(sorted(table)) or "none yet"
        raise InvalidInputError(
            f"backend {backend!r} has no {capability} support; choose one of: {known}"
        )
    module_name, class_name = table[backend].split(":")
    return getattr(importlib.import_module(module_name), class_name)  # type: ignore[no-any-return]


#: Backends that reach a server, which serves whatever model it was started with: the
#: registry's list of backends for a model does not apply to them.
SERVER_BACKENDS = frozenset({"openai", "tei", "infinity-server"})


def check_registered_backend(spec: Any, backend: str) -> None:
    """Refuse an in-process ``backend`` that the registry does not list for ``spec``'s model.

    A registered model names the in-process backends that run it (``ModelSpec.backends``); an
    unregistered name or folder has none, and any backend may try it.
    """
    if spec.backends and backend not in spec.backends and backend not in SERVER_BACKENDS:
        raise InvalidInputError(
            f"{spec.name} is registered to run on {', '.join(spec.backends)} (or on a server: "
            f"{', '.join(sorted(SERVER_BACKENDS))}), not on backend {backend!r}; pass the "
            "model's local folder to try another backend on it"
        )


_UNEXPECTED = re.compile(r"unexpected keyword argument '([^']+)'")


def build_backend(capability: str, backend: str, spec: Any, options: dict[str, Any]) -> Any:
    """The ``capability`` object of ``backend`` for ``spec``, built with ``options``.

    A registered model runs only on the backends its registry entry lists, or on a server.
    ``options`` fill the class's ``Options`` dataclass, so every option is a field someone
    reads or is refused: an option the backend has no field for raises InvalidInputError
    naming it (never a bare TypeError), and a bad option value is an InvalidInputError on
    every backend alike.
    """
    cls = backend_class(capability, backend)
    check_registered_backend(spec, backend)
    try:
        return cls(spec, cls.Options(**options))
    except MSearchError:
        raise
    except TypeError as err:
        unknown = _UNEXPECTED.search(str(err))
        if unknown is None:
            raise
        raise InvalidInputError(
            f"the {backend!r} {capability} backend has no option {unknown.group(1)!r}"
        ) from None
    except ValueError as err:
        raise InvalidInputError(f"{backend!r} {capability} backend: {err}") from err
