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
from msearch.multimodal import audio_embedder, image_embedder
from msearch.rerank import reranker
from msearch.sparse import sparse_embedder

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
    "audio_embedder",
    "get_spec",
    "image_embedder",
    "register",
    "registered_models",
    "reranker",
    "sparse_embedder",
    "text_embedder",
]
