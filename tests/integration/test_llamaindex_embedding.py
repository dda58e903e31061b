"""Contract tests for llamaindex_msearch.MSearchEmbedding (LlamaIndex has no standard suite).

They check what LlamaIndex relies on: sync and async, single and batch, query vs text,
the batch helpers, and that the numbers are the core's numbers.
"""

from __future__ import annotations

import numpy as np
import pytest
from llama_index.core.base.embeddings.base import BaseEmbedding

from llamaindex_msearch import MSearchEmbedding
from msearch import text_embedder
from tests.support.stacks import backends


@pytest.fixture(scope="module", params=backends("sentence-transformers", "infinity"))
def embed_model(request: pytest.FixtureRequest, minilm: str) -> MSearchEmbedding:
    return MSearchEmbedding(model=minilm, backend=request.param)


def test_is_a_llamaindex_embedding(embed_model) -> None:
    assert isinstance(embed_model, BaseEmbedding)
    assert embed_model.class_name() == "MSearchEmbedding"
    assert embed_model.model_name.endswith("model")


def test_text_and_batch_agree(embed_model) -> None:
    texts = ["Qdrant keeps vectors.", "A cat sleeps in the sun.", "x" * 2000]
    batch = embed_model.get_text_embedding_batch(texts)
    assert len(batch) == 3 and all(len(v) == 384 for v in batch)
    assert all(isinstance(x, float) for x in batch[0])
    single = embed_model.get_text_embedding(texts[1])
    np.testing.assert_allclose(single, batch[1], atol=1e-5)


def test_numbers_are_the_cores(embed_model, minilm) -> None:
    core = text_embedder(minilm)
    np.testing.assert_allclose(
        embed_model.get_query_embedding("where are vectors?"),
        core.embed_query("where are vectors?"),
        atol=1e-5,
    )
    np.testing.assert_allclose(
        embed_model.get_text_embedding_batch(["a", "b"]),
        core.embed_documents(["a", "b"]),
        atol=1e-5,
    )


async def test_async_matches_sync(embed_model) -> None:
    texts = ["one passage", "another, longer passage about vector stores"]
    sync_batch = embed_model.get_text_embedding_batch(texts)
    async_batch = await embed_model.aget_text_embedding_batch(texts)
    np.testing.assert_allclose(async_batch, sync_batch, atol=1e-5)
    query = await embed_model.aget_query_embedding("a question")
    np.testing.assert_allclose(query, embed_model.get_query_embedding("a question"), atol=1e-5)
    text = await embed_model.aget_text_embedding(texts[0])
    np.testing.assert_allclose(text, sync_batch[0], atol=1e-5)


def test_similarity_ranks_the_relevant_text_first(embed_model) -> None:
    docs = embed_model.get_text_embedding_batch(
        ["The Eiffel Tower is in Paris.", "Bananas are yellow fruit.", "Qdrant stores vectors."]
    )
    query = embed_model.get_query_embedding("Which database holds embeddings?")
    scores = [embed_model.similarity(query, doc) for doc in docs]
    assert int(np.argmax(scores)) == 2


def test_empty_batch_and_bad_items(embed_model) -> None:
    assert embed_model.get_text_embedding_batch([]) == []
    with pytest.raises(TypeError, match=r"texts\[0\] is int"):
        embed_model.get_text_embedding_batch([5])  # type: ignore[list-item]


def test_model_loads_on_first_use_not_at_construction(tmp_path) -> None:
    missing = MSearchEmbedding(model=str(tmp_path / "not-there"))  # constructing is fine
    from msearch import ModelNotFoundError

    with pytest.raises(ModelNotFoundError, match="not-there"):
        missing.get_query_embedding("x")


# -- image-text models: MSearchEmbedding as a MultiModalEmbedding ---------------------------


@pytest.fixture(scope="module")
def image_paths(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    from tests.support.media_fixtures import draw_shape

    folder = tmp_path_factory.mktemp("llamaindex-images")
    paths = []
    for shape, fill in [
        ("circle", (220, 30, 30)),
        ("square", (30, 30, 220)),
        ("star", (240, 220, 0)),
    ]:
        path = folder / f"{shape}.png"
        draw_shape(shape, fill, (255, 255, 255)).save(path)
        paths.append(str(path))
    return paths


async def test_image_model_serves_images_and_its_text_tower(tiny_clip, image_paths) -> None:
    from llama_index.core.embeddings import MultiModalEmbedding

    from msearch.multimodal import image_embedder

    clip = MSearchEmbedding(model=tiny_clip)  # recognized from the folder's config.json
    assert isinstance(clip, MultiModalEmbedding)
    assert (clip.modality, clip.backend) == ("image", "transformers")

    core = image_embedder(tiny_clip)
    expected = core.embed_images(image_paths)
    np.testing.assert_allclose(clip.get_image_embedding_batch(image_paths), expected, atol=1e-6)
    np.testing.assert_allclose(clip.get_image_embedding(image_paths[1]), expected[1], atol=1e-6)
    batch = await clip.aget_image_embedding_batch(image_paths)
    np.testing.assert_allclose(batch, expected, atol=1e-6)
    single = await clip.aget_image_embedding(image_paths[2])
    np.testing.assert_allclose(single, expected[2], atol=1e-6)

    np.testing.assert_allclose(
        clip.get_query_embedding("a red circle"), core.embed_query("a red circle"), atol=1e-6
    )
    np.testing.assert_allclose(
        await clip.aget_text_embedding_batch(["a", "b"]),
        core.embed_documents(["a", "b"]),
        atol=1e-6,
    )


def test_text_model_refuses_images(minilm, image_paths) -> None:
    from msearch import InvalidInputError

    text = MSearchEmbedding(model=minilm)
    assert text.modality == "text"
    with pytest.raises(InvalidInputError, match="is a text model"):
        text.get_image_embedding(image_paths[0])


async def test_text_model_refuses_images_async(minilm, image_paths) -> None:
    from msearch import InvalidInputError

    with pytest.raises(InvalidInputError, match="is a text model"):
        await MSearchEmbedding(model=minilm).aget_image_embedding_batch(image_paths)


def test_audio_model_is_pointed_to_the_audio_class(tiny_clap) -> None:
    from msearch import InvalidInputError

    with pytest.raises(InvalidInputError, match="MSearchAudioEmbedding"):
        MSearchEmbedding(model=tiny_clap)
