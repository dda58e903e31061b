"""LangChain ``Embeddings`` over msearch's text embedders."""

from __future__ import annotations

from typing import Any

from langchain_core.embeddings import Embeddings

from msearch.embeddings import text_embedder


class MSearchEmbeddings(Embeddings):
    """Local text embeddings for LangChain, on any msearch backend.

    The model loads on first use. ``options`` go to the backend (``batch_size``, ``device``,
    ``dtype``, ``show_progress``, ``timeout`` ...) or override the model description
    (``dim``, ``max_tokens``, ``query_prompt`` ...).

    Example:
        .. code-block:: python

            from langchain_msearch import MSearchEmbeddings

            embeddings = MSearchEmbeddings(model="sentence-transformers/all-MiniLM-L6-v2")
            vectors = embeddings.embed_documents(["Qdrant stores vectors.", "Cats purr."])
            query = embeddings.embed_query("Where do vectors live?")
    """

    def __init__(self, model: str, backend: str = "sentence-transformers", **options: Any) -> None:
        self.model = model
        self.backend = backend
        self.embedder = text_embedder(model, backend, **options)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, backend={self.backend!r})"

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.embed_documents(texts).tolist()  # type: ignore[no-any-return]

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.embed_query(text).tolist()  # type: ignore[no-any-return]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return (await self.embedder.aembed_documents(texts)).tolist()  # type: ignore[no-any-return]

    async def aembed_query(self, text: str) -> list[float]:
        return (await self.embedder.aembed_query(text)).tolist()  # type: ignore[no-any-return]
