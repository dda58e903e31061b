"""MSearchRerank in a real LlamaIndex query engine (VectorStoreIndex on MiniLM, MockLLM)."""

from __future__ import annotations

import pytest
from llama_index.core import VectorStoreIndex
from llama_index.core.llms.mock import MockLLM
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle, TextNode

from llamaindex_msearch import MSearchEmbedding, MSearchRerank
from msearch.errors import InvalidInputError

TEXTS = [
    "Cats purr when they are content.",
    "A dog barks at the mailman.",
    "Qdrant stores vectors for fast similarity search.",
    "Paris is the capital of France.",
    "Bananas are a yellow fruit.",
    "Kittens and cats sleep most of the day.",
    "The river flows into the sea.",
    "Python is a programming language.",
]
QUERY = "why do cats purr"


@pytest.fixture(scope="module")
def index(minilm: str) -> VectorStoreIndex:
    nodes = [TextNode(text=text, id_=f"n{i}") for i, text in enumerate(TEXTS)]
    return VectorStoreIndex(nodes, embed_model=MSearchEmbedding(model=minilm))


@pytest.fixture(scope="module")
def rerank(tiny_cross_encoder: str) -> MSearchRerank:
    return MSearchRerank(model=tiny_cross_encoder, top_n=3)


def expected(rerank: MSearchRerank, retrieved: list[NodeWithScore]) -> list[tuple[str, float]]:
    texts = [n.node.get_content(metadata_mode=MetadataMode.EMBED) for n in retrieved]
    ranked = rerank.reranker.rerank(QUERY, texts, rerank.top_n)
    return [(retrieved[r.index].node.node_id, r.score) for r in ranked]


def test_query_engine_end_to_end(index: VectorStoreIndex, rerank: MSearchRerank) -> None:
    engine = index.as_query_engine(similarity_top_k=6, node_postprocessors=[rerank], llm=MockLLM())
    response = engine.query(QUERY)
    retrieved = index.as_retriever(similarity_top_k=6).retrieve(QUERY)
    # MiniLM is real: both cat sentences come back from the vector search.
    assert {"n0", "n5"} <= {n.node.node_id for n in retrieved}

    sources = response.source_nodes
    assert [(n.node.node_id, n.score) for n in sources] == expected(rerank, retrieved)
    retrieval_scores = {n.node.node_id: n.score for n in retrieved}
    for node in sources:
        assert node.node.metadata["retrieval_score"] == retrieval_scores[node.node.node_id]
        assert "retrieval_score" not in node.node.get_content(metadata_mode=MetadataMode.LLM)
    # The retriever's nodes are not changed by the reranker.
    assert not any("retrieval_score" in n.node.metadata for n in retrieved)
    assert str(response)  # MockLLM answered from the reranked context


async def test_query_engine_async(index: VectorStoreIndex, rerank: MSearchRerank) -> None:
    engine = index.as_query_engine(similarity_top_k=6, node_postprocessors=[rerank], llm=MockLLM())
    response = await engine.aquery(QUERY)
    synced = engine.query(QUERY)
    assert [(n.node.node_id, n.score) for n in response.source_nodes] == [
        (n.node.node_id, n.score) for n in synced.source_nodes
    ]


def nodes_for(texts: list[str]) -> list[NodeWithScore]:
    return [
        NodeWithScore(node=TextNode(text=text, id_=f"n{i}"), score=1.0 - i / 100)
        for i, text in enumerate(texts)
    ]


async def test_top_n_threshold_and_retrieval_score(tiny_cross_encoder: str) -> None:
    nodes = nodes_for(TEXTS)
    everything = MSearchRerank(model=tiny_cross_encoder, top_n=None)
    ranked = everything.postprocess_nodes(nodes, query_str=QUERY)
    scores = [n.score for n in ranked]
    assert len(ranked) == len(TEXTS)
    assert scores == sorted(scores, reverse=True)
    assert [n.score for n in await everything.apostprocess_nodes(nodes, query_str=QUERY)] == scores

    assert len(
        MSearchRerank(model=tiny_cross_encoder, top_n=99).postprocess_nodes(nodes, query_str=QUERY)
    ) == len(TEXTS)

    threshold = scores[2]
    above = MSearchRerank(model=tiny_cross_encoder, top_n=None, score_threshold=threshold)
    assert [n.node.node_id for n in above.postprocess_nodes(nodes, query_str=QUERY)] == [
        n.node.node_id for n in ranked[:3]
    ]

    plain = MSearchRerank(model=tiny_cross_encoder, keep_retrieval_score=False)
    assert all(
        "retrieval_score" not in n.node.metadata
        for n in plain.postprocess_nodes(nodes, query_str=QUERY)
    )


def test_bad_input(rerank: MSearchRerank) -> None:
    assert rerank.postprocess_nodes([], query_str=QUERY) == []
    long_text = " ".join(["the dog barks at the big red fish in the blue sea"] * 40)
    kept = rerank.postprocess_nodes(nodes_for([long_text]), QueryBundle(QUERY))
    assert len(kept) == 1
    assert kept[0].score is not None and 0.0 < kept[0].score < 1.0
    with pytest.raises(InvalidInputError, match="query is empty"):
        rerank.postprocess_nodes(nodes_for(["cats"]), query_str=" ")
    with pytest.raises(InvalidInputError, match="needs the query"):
        rerank.postprocess_nodes(nodes_for(["cats"]))
    with pytest.raises(InvalidInputError, match="model name or a built reranker"):
        MSearchRerank()
