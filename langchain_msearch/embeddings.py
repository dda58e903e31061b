"""LangChain ``Embeddings`` over msearch's text embedders."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from langchain_core.embeddings import Embeddings
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from msearch.embeddings import text_embedder
from msearch.errors import InvalidInputError
from msearch.protocols import TextEmbedder
from msearch.secrets import without_secrets


class MSearchEmbeddings(BaseModel, Embeddings):
    """Local text embeddings for LangChain, on any msearch backend.

    A pydantic model with declared fields, like ``HuggingFaceEmbeddings``: ``model`` (a
    registered name, hub id or local folder; ``model_name`` is accepted as its alias),
    ``backend``, and ``options`` for the backend (``batch_size``, ``device``, ``dtype``,
    ``show_progress``, ``url`` ...) or the model description (``dim``, ``max_tokens``,
    ``query_prompt`` ...). Options may also be given as keywords. An option nothing takes is
    refused by name. The model loads on first use.

    Example:
        .. code-block:: python

            from langchain_msearch import MSearchEmbeddings

            embeddings = MSearchEmbeddings(model="sentence-transformers/all-MiniLM-L6-v2")
            vectors = embeddings.embed_documents(["Qdrant stores vectors.", "Cats purr."])
            query = embeddings.embed_query("Where do vectors live?")
    """

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: str = Field(description="model name, hub id or local folder")
    backend: str = Field(default="sentence-transformers", description="msearch backend name")
    options: dict[str, Any] = Field(default_factory=dict, description="backend options")

    _build: ClassVar[Callable[..., Any]] = staticmethod(text_embedder)
    _embedder: Any = PrivateAttr()

    def __init__(
        self,
        model: str | None = None,
        backend: str | None = None,
        *,
        model_name: str | None = None,
        options: dict[str, Any] | None = None,
        **more_options: Any,
    ) -> None:
        if model is not None and model_name is not None and model != model_name:
            raise InvalidInputError(f"model={model!r} and model_name={model_name!r} disagree")
        chosen = model or model_name
        if not chosen:
            raise InvalidInputError(f"{type(self).__name__} needs model=...")
        merged = {**(options or {}), **more_options}
        fields: dict[str, Any] = {"model": chosen, "options": without_secrets(merged)}
        if backend is not None:
            fields["backend"] = backend
        super().__init__(**fields)
        self._embedder = type(self)._build(self.model, self.backend, **merged)

    @property
    def embedder(self) -> TextEmbedder:
        """The msearch embedder underneath (an image or audio one for those subclasses)."""
        return self._embedder  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, backend={self.backend!r})"

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.embed_documents(texts).tolist()  # type: ignore[no-any-return]

    def embed_query(self, text: str) -> list[float]:
        return self._embedder.embed_query(text).tolist()  # type: ignore[no-any-return]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return (await self._embedder.aembed_documents(texts)).tolist()  # type: ignore[no-any-return]

    async def aembed_query(self, text: str) -> list[float]:
        return (await self._embedder.aembed_query(text)).tolist()  # type: ignore[no-any-return]
