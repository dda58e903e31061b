"""LlamaIndex retrievers over images and audio in msearch's collection.

A ``QueryBundle`` with ``image_path`` asks for similar images; otherwise ``query_str`` is text,
always (even one that names a file). ``similar_to`` takes an example image or clip.
Image hits come back as ``ImageNode``s, a video's frames and audio hits as ``Node``s whose
``video_resource`` or ``audio_resource`` points at the file, each with its score and, for
frames and windows, ``start``/``end`` seconds in the metadata.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import ImageNode, MediaResource, Node, NodeWithScore, QueryBundle

from msearch.crossmodal import MediaCollection
from msearch.hits import result_metadata
from msearch.store import VIDEO, Hit, Store


def _metadata(hit: Hit) -> dict[str, Any]:
    return result_metadata(hit)[0]


def to_image_node(hit: Hit) -> NodeWithScore:
    """An ``ImageNode`` for an image; for a video's frame (``modality="video"``), a ``Node``
    whose ``video_resource`` is the video, the frame's ``start``/``end`` in its metadata."""
    if hit.modality == VIDEO:
        frame = Node(
            id_=hit.id,
            video_resource=MediaResource(path=Path(hit.source)) if hit.source else None,
            text_resource=MediaResource(text=hit.content or ""),
        )
        frame.metadata = _metadata(hit)
        return NodeWithScore(node=frame, score=hit.score)
    node = ImageNode(
        id_=hit.id, text=hit.content or "", image_path=hit.source, metadata=_metadata(hit)
    )
    return NodeWithScore(node=node, score=hit.score)


def to_audio_node(hit: Hit) -> NodeWithScore:
    node = Node(
        id_=hit.id,
        audio_resource=MediaResource(path=Path(hit.source)) if hit.source else None,
        text_resource=MediaResource(text=hit.content or ""),
    )
    node.metadata = _metadata(hit)
    return NodeWithScore(node=node, score=hit.score)


def _embedder(embed_model: Any) -> Any:
    return getattr(embed_model, "embedder", embed_model)


class MSearchImageRetriever(BaseRetriever):
    """Images by text or by example image, as scored ``ImageNode``s.

    Example:
        .. code-block:: python

            from llama_index.core.schema import QueryBundle
            from llamaindex_msearch import MSearchEmbedding, MSearchImageRetriever
            from msearch.store import Store

            embed_model = MSearchEmbedding(model="openai/clip-vit-base-patch32")
            retriever = MSearchImageRetriever(Store("media", path="db"), embed_model)
            retriever.add_images(["cat.jpg", "dog.png"])
            nodes = retriever.retrieve("a photo of a cat")                  # text -> image
            nodes = retriever.retrieve(QueryBundle("", image_path="cat.jpg"))  # image -> image
    """

    def __init__(self, store: Store, embed_model: Any, k: int = 4, filter: Any = None) -> None:
        super().__init__()
        self.collection = MediaCollection(store, image=_embedder(embed_model))
        self.k = k
        self.filter = filter

    def add_images(self, images: list[Any], **options: Any) -> Any:
        return self.collection.add_images(images, **options)

    def similar_to(self, example: Any) -> list[NodeWithScore]:
        """Images similar to an example image in any form (a string is a path or URL)."""
        hits = self.collection.similar_images(example, self.k, self.filter)
        return [to_image_node(hit) for hit in hits]

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        if query_bundle.image_path:
            return self.similar_to(query_bundle.image_path)
        hits = self.collection.search_images(query_bundle.query_str, self.k, self.filter)
        return [to_image_node(hit) for hit in hits]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return await asyncio.to_thread(self._retrieve, query_bundle)


class MSearchAudioRetriever(BaseRetriever):
    """Audio windows by text or by example clip, as scored ``Node``s with ``audio_resource``.

    Window times are in each node's metadata (``start``, ``end``, in seconds). ``similar_to`` takes
    an example clip in any form (path, bytes, ``(array, sample_rate)``).

    Example:
        .. code-block:: python

            from llamaindex_msearch import MSearchAudioEmbedding, MSearchAudioRetriever
            from msearch.store import Store

            embed_model = MSearchAudioEmbedding(model="laion/clap-htsat-unfused")
            retriever = MSearchAudioRetriever(Store("media", path="db"), embed_model)
            retriever.add_audio(["bark.wav", "rain.flac"])
            nodes = retriever.retrieve("a dog barking")   # text -> audio
            nodes = retriever.similar_to("bark.wav")      # audio -> audio
    """

    def __init__(self, store: Store, embed_model: Any, k: int = 4, filter: Any = None) -> None:
        super().__init__()
        self.collection = MediaCollection(store, audio=_embedder(embed_model))
        self.k = k
        self.filter = filter

    def add_audio(self, audios: list[Any], **options: Any) -> Any:
        return self.collection.add_audio(audios, **options)

    def similar_to(self, example: Any) -> list[NodeWithScore]:
        """Audio windows similar to an example clip in any form (a string is a path or URL)."""
        hits = self.collection.similar_audio(example, self.k, self.filter)
        return [to_audio_node(hit) for hit in hits]

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = self.collection.search_audio(query_bundle.query_str, self.k, self.filter)
        return [to_audio_node(hit) for hit in hits]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return await asyncio.to_thread(self._retrieve, query_bundle)
