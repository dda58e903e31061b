"""A generated folder of images and audio indexed into msearch's store and searched.

Real tiny CLIP and CLAP models and the real MiniLM on the transformers/sentence-transformers
backends; Qdrant's embedded in-memory mode.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from langchain_core.documents import Document
from llama_index.core.schema import ImageNode, QueryBundle
from PIL import Image

from langchain_msearch import (
    MSearchAudioEmbeddings,
    MSearchAudioRetriever,
    MSearchImageEmbeddings,
    MSearchImageRetriever,
)
from llamaindex_msearch import MSearchAudioEmbedding, MSearchEmbedding
from llamaindex_msearch import MSearchAudioRetriever as LlamaAudioRetriever
from llamaindex_msearch import MSearchImageRetriever as LlamaImageRetriever
from msearch.crossmodal import MediaCollection
from msearch.embeddings import text_embedder
from msearch.multimodal import audio_embedder, image_embedder
from msearch.store import Store
from tests.support.media_fixtures import MediaFolder, synth, write_media_folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> MediaFolder:
    return write_media_folder(tmp_path_factory.mktemp("media"))


@pytest.fixture(scope="module")
def images(tiny_clip: str) -> MSearchImageEmbeddings:
    return MSearchImageEmbeddings(model=tiny_clip)


@pytest.fixture(scope="module")
def audio(tiny_clap: str) -> MSearchAudioEmbeddings:
    return MSearchAudioEmbeddings(model=tiny_clap)


@pytest.fixture(scope="module")
def collection(
    folder: MediaFolder, images: MSearchImageEmbeddings, audio: MSearchAudioEmbeddings, minilm: str
) -> MediaCollection:
    store = Store("media", location=":memory:")
    collection = MediaCollection(
        store, image=images.embedder, audio=audio.embedder, text=text_embedder(minilm)
    )
    collection.report = collection.add_folder(folder.root)  # type: ignore[attr-defined]
    return collection


def test_folder_is_indexed_and_corrupt_files_are_reported_and_skipped(
    collection: MediaCollection, folder: MediaFolder
) -> None:
    report = collection.report  # type: ignore[attr-defined]
    skipped = dict(report.skipped)
    assert set(skipped) == {str(folder.corrupt_image), str(folder.corrupt_audio)}
    assert str(folder.corrupt_image) in skipped[str(folder.corrupt_image)]
    assert "not readable audio" in skipped[str(folder.corrupt_audio)]
    assert len(report.added) == len(folder.images) + len(folder.audio)
    assert collection.store.count() == len(report.added)
    stored = {hit.source for hit in collection.store.scan()}
    assert stored == {str(p) for p in folder.images + folder.audio}


def test_image_to_image_and_audio_to_audio_return_the_query_first(
    collection: MediaCollection, folder: MediaFolder
) -> None:
    for path in folder.images:
        hits = collection.search_images(path, k=3)
        assert hits[0].source == str(path) and hits[0].modality == "image"
        assert hits[0].score == pytest.approx(1.0, abs=1e-4)
    for path in folder.audio:
        hits = collection.search_audio(path, k=3)
        assert hits[0].source == str(path) and hits[0].modality == "audio"
        assert hits[0].score == pytest.approx(1.0, abs=1e-4)


def test_text_to_image_text_to_audio_and_fused_cross_modal_search(
    collection: MediaCollection, images: MSearchImageEmbeddings
) -> None:
    image_hits = collection.search_images("a red circle", k=3)
    audio_hits = collection.search_audio("a beep", k=3)
    assert [hit.modality for hit in image_hits] == ["image"] * 3
    assert [hit.modality for hit in audio_hits] == ["audio"] * 3
    query = np.asarray(images.embed_query("a red circle"))
    top = np.asarray(images.embed_image([image_hits[0].source]))[0]
    assert image_hits[0].score == pytest.approx(float(query @ top), abs=1e-4)
    scores = [hit.score for hit in image_hits]
    assert scores == sorted(scores, reverse=True)

    fused = collection.search("a red circle", k=6)
    assert {hit.modality for hit in fused} == {"image", "audio"}
    rrf = [hit.score for hit in fused]
    assert rrf == sorted(rrf, reverse=True)
    assert max(rrf) <= 1.0  # rank fusion scores, not cosines


def test_long_audio_becomes_one_point_per_window(
    audio: MSearchAudioEmbeddings, tmp_path: Path
) -> None:
    import soundfile

    path = tmp_path / "long.flac"
    soundfile.write(path, synth("chirp", 100.0, 23.0, 16_000), 16_000)
    collection = MediaCollection(Store("long", location=":memory:"), audio=audio.embedder)
    report = collection.add_audio([path])
    assert report.added == [f"{path}#0", f"{path}#1", f"{path}#2"]
    windows = sorted((h.metadata["start"], h.metadata["end"]) for h in collection.store.scan())
    assert windows == [(0.0, 10.0), (8.0, 18.0), (16.0, 23.0)]
    again = collection.add_audio([path])
    assert again.added == report.added and collection.store.count() == 3  # idempotent


def test_unreadable_input_raises_when_not_skipping(
    collection: MediaCollection, folder: MediaFolder
) -> None:
    from msearch.errors import MediaError

    with pytest.raises(MediaError, match=r"broken\.png"):
        collection.add_images([folder.corrupt_image], skip_errors=False)


# -- LangChain ----------------------------------------------------------------------------


async def test_langchain_embeddings_image_and_audio_sides(
    images: MSearchImageEmbeddings, audio: MSearchAudioEmbeddings, folder: MediaFolder
) -> None:
    vectors = images.embed_image([str(p) for p in folder.images])
    assert len(vectors) == len(folder.images) and isinstance(vectors[0][0], float)
    np.testing.assert_allclose(await images.aembed_image(folder.images), vectors, atol=1e-6)
    np.testing.assert_allclose(
        images.embed_image([Image.open(folder.images[0])])[0], vectors[0], atol=1e-6
    )
    clips = audio.embed_audio(folder.audio)
    np.testing.assert_allclose(await audio.aembed_audio(folder.audio), clips, atol=1e-6)
    assert np.linalg.norm(clips[0]) == pytest.approx(1.0, abs=1e-5)
    assert len(images.embed_documents(["a", "b"])) == 2
    assert len(await audio.aembed_query("a beep")) == len(clips[0])


async def test_langchain_retrievers(collection: MediaCollection, folder: MediaFolder) -> None:
    image_retriever = MSearchImageRetriever(collection=collection, k=2)
    audio_retriever = MSearchAudioRetriever(collection=collection, k=2)

    by_text = image_retriever.invoke("a blue square")
    by_path = image_retriever.similar_to(str(folder.images[1]))
    by_pil = await image_retriever.asimilar_to(Image.open(folder.images[1]))
    clips = await audio_retriever.asimilar_to(str(folder.audio[2]))
    by_array = audio_retriever.similar_to((synth("tone", 440.0, 1.5, 48_000), 48_000))

    assert all(isinstance(doc, Document) for doc in by_text) and len(by_text) == 2
    assert by_text[0].metadata["modality"] == "image"
    assert {"source", "modality", "score"} <= set(by_text[0].metadata)
    assert by_path[0].metadata["source"] == str(folder.images[1])
    assert by_pil[0].metadata["source"] == str(folder.images[1])
    assert clips[0].metadata["source"] == str(folder.audio[2])
    assert clips[0].metadata["start"] == 0.0
    assert by_array[0].metadata["source"] == str(folder.audio[0])


def test_langchain_retriever_from_store(
    images: MSearchImageEmbeddings, folder: MediaFolder
) -> None:
    retriever = MSearchImageRetriever.from_store(Store("lc", location=":memory:"), images, k=1)
    report = retriever.add_images([*folder.images, folder.corrupt_image])
    assert [name for name, _ in report.skipped] == [str(folder.corrupt_image)]
    assert retriever.similar_to(str(folder.images[3]))[0].metadata["source"] == str(
        folder.images[3]
    )


def test_a_query_string_naming_a_file_is_text(
    collection: MediaCollection, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "sunset").write_bytes(b"not an image")
    (tmp_path / "beep").write_bytes(b"not audio")
    monkeypatch.chdir(tmp_path)
    image_text = collection.image.embed_query("sunset")  # type: ignore[union-attr]
    expected = [h.id for h in collection.store.query("image", image_text, 2)]
    assert [h.id for h in collection.search_images("sunset", k=2)] == expected
    assert len(collection.search_audio("beep", k=2)) == 2
    retriever = MSearchImageRetriever(collection=collection, k=2)
    assert [d.id for d in retriever.invoke("sunset")] == expected


# -- LlamaIndex ---------------------------------------------------------------------------


async def test_llamaindex_embeddings(tiny_clip: str, tiny_clap: str, folder: MediaFolder) -> None:
    embed = MSearchEmbedding(model=tiny_clip)
    from_path = embed.get_image_embedding(str(folder.images[0]))
    from_stream = embed.get_image_embedding(io.BytesIO(folder.images[0].read_bytes()))
    batch = await embed.aget_image_embedding_batch([str(p) for p in folder.images])
    np.testing.assert_allclose(from_path, from_stream, atol=1e-6)
    np.testing.assert_allclose(batch[0], from_path, atol=1e-6)
    direct = image_embedder(tiny_clip).embed_query("a red circle")
    np.testing.assert_allclose(embed.get_query_embedding("a red circle"), direct, atol=1e-6)

    sounds = MSearchAudioEmbedding(model=tiny_clap)
    clip = sounds.get_audio_embedding(str(folder.audio[0]))
    np.testing.assert_allclose(
        clip, audio_embedder(tiny_clap).embed_audio([folder.audio[0]])[0], atol=1e-6
    )
    assert (await sounds.aget_audio_embedding(folder.audio[0].read_bytes())) == pytest.approx(
        clip, abs=1e-6
    )
    assert len(sounds.get_text_embedding_batch(["a", "b"])) == 2


async def test_llamaindex_retrievers(
    collection: MediaCollection, folder: MediaFolder, tiny_clip: str, tiny_clap: str
) -> None:
    images = LlamaImageRetriever(collection.store, collection.image, k=2)
    sounds = LlamaAudioRetriever(collection.store, collection.audio, k=2)

    by_text = images.retrieve("a yellow star")
    by_image = await images.aretrieve(QueryBundle("", image_path=str(folder.images[4])))
    clips = sounds.retrieve("a beep")
    own = sounds.similar_to(str(folder.audio[3]))

    assert isinstance(by_text[0].node, ImageNode) and by_text[0].score is not None
    assert by_image[0].node.image_path == str(folder.images[4])  # type: ignore[attr-defined]
    assert len(clips) == 2 and clips[0].node.metadata["modality"] == "audio"
    assert str(own[0].node.audio_resource.path) == str(folder.audio[3])  # type: ignore[union-attr]
    assert own[0].score == pytest.approx(1.0, abs=1e-4)


def test_llamaindex_multimodal_vector_store_index_over_msearch_store(
    tiny_clip: str, minilm: str, folder: MediaFolder
) -> None:
    from llama_index.core import StorageContext
    from llama_index.core.indices import MultiModalVectorStoreIndex
    from llama_index.core.schema import Document as LlamaDocument
    from llama_index.core.schema import ImageDocument

    from llamaindex_msearch import MSearchVectorStore

    store = Store("multimodal-index", location=":memory:")
    clip = MSearchEmbedding(model=tiny_clip)
    text = MSearchEmbedding(model=minilm)
    # The collection's named vectors are fixed at creation: create it with both.
    MediaCollection(store, image=clip.embedder, text=text.embedder).ensure_schema()
    context = StorageContext.from_defaults(
        vector_store=MSearchVectorStore(store=store, embed_model=text, vector_name="text"),
        image_store=MSearchVectorStore(store=store, embed_model=clip, vector_name="image"),
    )
    documents = [
        *(ImageDocument(image_path=str(p), metadata={"file": p.name}) for p in folder.images),
        LlamaDocument(text="Circles are round shapes."),
    ]
    index = MultiModalVectorStoreIndex.from_documents(
        documents, storage_context=context, embed_model=text, image_embed_model=clip
    )
    retriever = index.as_retriever(similarity_top_k=1, image_similarity_top_k=2)

    own = retriever.image_to_image_retrieve(str(folder.images[2]))
    by_text = retriever.text_to_image_retrieve("a red circle")
    both = retriever.retrieve("a red circle")

    assert own[0].node.metadata["file"] == folder.images[2].name
    assert own[0].score == pytest.approx(1.0, abs=1e-4)
    assert len(by_text) == 2 and all("file" in hit.node.metadata for hit in by_text)
    assert any(hit.node.get_content() == "Circles are round shapes." for hit in both)
    assert store.count() == len(folder.images) + 1

    # Images added through LlamaIndex are msearch images: they come back as ImageNodes with
    # their path, and are stored with source = that path and modality "image", so msearch's
    # own image retriever (and the CLI) read them as images too.
    assert isinstance(own[0].node, ImageNode)
    assert own[0].node.image_path == str(folder.images[2])
    assert all(isinstance(hit.node, ImageNode) and hit.node.image_path for hit in by_text)
    text_hits = [hit for hit in both if not isinstance(hit.node, ImageNode)]
    assert [hit.node.get_content() for hit in text_hits] == ["Circles are round shapes."]
    stored = {hit.source: hit.modality for hit in store.scan()}
    assert {str(p): "image" for p in folder.images}.items() <= stored.items()
    assert sorted(stored.values()).count("text") == 1
    plain = LlamaImageRetriever(store, clip, k=1).similar_to(str(folder.images[2]))
    assert plain[0].node.image_path == str(folder.images[2])  # type: ignore[attr-defined]
