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


@pytest.fixture(scope="module", params=["sentence-transformers", "infinity"])
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
