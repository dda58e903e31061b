"""LangChain retrievers over images and audio in msearch's collection.

A query string is always text (through the model's text tower), even one that names a file.
``similar_to`` takes an example image or clip in any form (a path or URL string, ``Path``, PIL
image, bytes, ``(array, rate)`` ...) and finds similar ones.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar, Self

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from msearch.crossmodal import MediaCollection
from msearch.hits import result_metadata
from msearch.store import Hit, Store


def to_document(hit: Hit) -> Document:
    """A Document with the metadata every msearch retriever shows (``msearch.hits``)."""
    metadata, _ = result_metadata(hit)
    return Document(page_content=hit.content or "", metadata=metadata, id=hit.id)


class _MediaRetriever(BaseRetriever):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    _modality: ClassVar[str]  # the MediaCollection embedder this retriever searches with

    collection: MediaCollection
    k: int = 4
    filter: Any = None

    @classmethod
    def from_store(cls, store: Store, embeddings: Any, **fields: Any) -> Self:
        """A retriever on ``store`` with embeddings of its modality: ``MSearchImageEmbeddings``
        or ``MSearchAudioEmbeddings``, or an msearch image or audio embedder."""
        embedder = getattr(embeddings, "embedder", embeddings)
        return cls(collection=MediaCollection(store, **{cls._modality: embedder}), **fields)

    def _search(self, query: str) -> list[Hit]:
        raise NotImplementedError

    def _similar(self, example: Any) -> list[Hit]:
        raise NotImplementedError

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [to_document(hit) for hit in self._search(query)]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [to_document(hit) for hit in await asyncio.to_thread(self._search, query)]

    def similar_to(self, example: Any) -> list[Document]:
        """Documents similar to an example item in any accepted form (a string is a path or
        URL)."""
        return [to_document(hit) for hit in self._similar(example)]

    async def asimilar_to(self, example: Any) -> list[Document]:
        return [to_document(hit) for hit in await asyncio.to_thread(self._similar, example)]


class MSearchImageRetriever(_MediaRetriever):
    """Images by text (text->image) or by example image (image->image).

    Example:
        .. code-block:: python

            from langchain_msearch import MSearchImageEmbeddings, MSearchImageRetriever
            from msearch.store import Store

            embeddings = MSearchImageEmbeddings(model="openai/clip-vit-base-patch32")
            retriever = MSearchImageRetriever.from_store(Store("media", path="db"), embeddings)
            retriever.add_images(["cat.jpg", "dog.png"])
            docs = retriever.invoke("a photo of a cat")        # text -> image
            docs = retriever.similar_to("cat.jpg")             # image -> image
    """

    _modality = "image"

    def add_images(self, images: list[Any], **options: Any) -> Any:
        """Index images (see ``MediaCollection.add_images``); returns its report."""
        return self.collection.add_images(images, **options)

    def _search(self, query: str) -> list[Hit]:
        return self.collection.search_images(query, self.k, self.filter)

    def _similar(self, example: Any) -> list[Hit]:
        return self.collection.similar_images(example, self.k, self.filter)


class MSearchAudioRetriever(_MediaRetriever):
    """Audio windows by text (text->audio) or by example clip (audio->audio).

    Each Document is one window of a clip; ``metadata`` has ``start`` and ``end``.

    Example:
        .. code-block:: python

            from langchain_msearch import MSearchAudioEmbeddings, MSearchAudioRetriever
            from msearch.store import Store

            embeddings = MSearchAudioEmbeddings(model="laion/clap-htsat-unfused")
            retriever = MSearchAudioRetriever.from_store(Store("media", path="db"), embeddings)
            retriever.add_audio(["bark.wav", "rain.flac"])
            docs = retriever.invoke("a dog barking")           # text -> audio
            docs = retriever.similar_to("bark.wav")            # audio -> audio
    """

    _modality = "audio"

    def add_audio(self, audios: list[Any], **options: Any) -> Any:
        """Index audio (see ``MediaCollection.add_audio``); returns its report."""
        return self.collection.add_audio(audios, **options)

    def _search(self, query: str) -> list[Hit]:
        return self.collection.search_audio(query, self.k, self.filter)

    def _similar(self, example: Any) -> list[Hit]:
        return self.collection.similar_audio(example, self.k, self.filter)
