"""msearch: local embeddings, rerankers and multimodal search over Qdrant.

Importing msearch loads no model library; backends import theirs when first built.
"""

from msearch.embeddings import text_embedder
from msearch.errors import (
    BackendError,
    BackendTimeoutError,
    InvalidInputError,
    MediaError,
    MissingDependencyError,
    ModelNotFoundError,
    MSearchError,
    ServerConnectionError,
)
from msearch.models import Modality, ModelSpec, get_spec, register, registered_models

__version__ = "0.1.0"

__all__ = [
    "BackendError",
    "BackendTimeoutError",
    "InvalidInputError",
    "MSearchError",
    "MediaError",
    "MissingDependencyError",
    "Modality",
    "ModelNotFoundError",
    "ModelSpec",
    "ServerConnectionError",
    "get_spec",
    "register",
    "registered_models",
    "text_embedder",
]
