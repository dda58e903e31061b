"""LlamaIndex MSearchVectorStore and MSearchRetriever on the real MiniLM, embedded Qdrant."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.llms import MockLLM
from llama_index.core.schema import ImageNode, TextNode
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)

from llamaindex_msearch import MSearchEmbedding, MSearchRetriever, MSearchVectorStore

DOCS = [
    Document(text="The Eiffel Tower stands in Paris.", id_="paris", metadata={"year": 1889}),
    Document(text="Cats often sleep most of the day.", id_="cats", metadata={"year": 2020}),
    Document(text="Qdrant is a vector database.", id_="qdrant", metadata={"year": 2021}),
    Document(text="The Rhine flows through Basel.", id_="rhine", metadata={"year": 1500}),
]


@pytest.fixture(scope="module")
def embed_model(minilm: str) -> MSearchEmbedding:
    return MSearchEmbedding(model=minilm)


@pytest.fixture
def store(embed_model: MSearchEmbedding) -> Iterator[MSearchVectorStore]:
    vs = MSearchVectorStore("li", location=":memory:", embed_model=embed_model)
    yield vs
    vs.close()


def _index(store: MSearchVectorStore, embed_model: MSearchEmbedding) -> VectorStoreIndex:
    index = VectorStoreIndex.from_vector_store(store, embed_model=embed_model)
    for doc in DOCS:
        index.insert(doc)
    return index


def test_query_engine_answers_from_the_documents(
    store: MSearchVectorStore, embed_model: MSearchEmbedding
) -> None:
    index = _index(store, embed_model)
    engine = index.as_query_engine(llm=MockLLM(), similarity_top_k=1)
    response = engine.query("Which database stores vectors?")
    assert "Qdrant is a vector database." in str(response)
    top = response.source_nodes[0]
    assert top.node.ref_doc_id == "qdrant" and top.node.metadata == {"year": 2021}


def _query(embed_model: MSearchEmbedding, text: str, **kwargs: object) -> VectorStoreQuery:
    return VectorStoreQuery(
        query_embedding=embed_model.get_query_embedding(text), query_str=text, **kwargs
    )


def test_add_query_with_filters_and_delete(
    store: MSearchVectorStore, embed_model: MSearchEmbedding
) -> None:
    _index(store, embed_model)
    old = MetadataFilters(filters=[MetadataFilter(key="year", value=1900, operator="<")])
    result = store.query(_query(embed_model, "a city", similarity_top_k=4, filters=old))
    assert {n.ref_doc_id for n in result.nodes} == {"paris", "rhine"}
    either = MetadataFilters(
        filters=[
            MetadataFilter(key="year", value=2020),
            MetadataFilter(key="year", value=[1500], operator=FilterOperator.IN),
        ],
        condition=FilterCondition.OR,
    )
    result = store.query(_query(embed_model, "animals", similarity_top_k=4, filters=either))
    assert [n.ref_doc_id for n in result.nodes] == ["cats", "rhine"]
    assert result.similarities[0] > result.similarities[1]
    store.delete("cats")
    assert store.store.count() == 3
    mmr = store.query(
        _query(embed_model, "river", similarity_top_k=2, mode=VectorStoreQueryMode.MMR)
    )
    assert mmr.nodes[0].ref_doc_id == "rhine" and len(mmr.nodes) == 2
    node_id = mmr.ids[0]  # type: ignore[index]
    assert [n.node_id for n in store.get_nodes([node_id])] == [node_id]
    store.delete_nodes([node_id])
    assert store.get_nodes([node_id]) == []
    store.clear()
    assert store.query(_query(embed_model, "river")).nodes == []


def test_retriever_modes_and_errors(
    store: MSearchVectorStore, embed_model: MSearchEmbedding
) -> None:
    _index(store, embed_model)
    nodes = MSearchRetriever(store, k=2).retrieve("Basel river")
    assert nodes[0].node.ref_doc_id == "rhine" and len(nodes) == 2
    assert nodes[0].node.metadata["modality"] == "text"
    assert "modality" not in nodes[0].node.get_content(metadata_mode="llm")
    filtered = MSearchRetriever(store, k=4, filter={"year": [2020, 2021]}).retrieve("x")
    assert {n.node.ref_doc_id for n in filtered} == {"cats", "qdrant"}
    with pytest.raises(ValueError, match="sparse embedding"):
        MSearchRetriever(store, mode="sparse")
    with pytest.raises(ValueError, match="k must be a positive integer"):
        MSearchRetriever(store, k=0)


async def test_async_add_query_delete(
    store: MSearchVectorStore, embed_model: MSearchEmbedding
) -> None:
    index = VectorStoreIndex.from_vector_store(store, embed_model=embed_model, use_async=True)
    for doc in DOCS:
        await index.ainsert(doc)
    result = await store.aquery(
        VectorStoreQuery(
            query_embedding=await embed_model.aget_query_embedding("vector database"),
            similarity_top_k=1,
        )
    )
    assert result.nodes[0].ref_doc_id == "qdrant"
    nodes = await MSearchRetriever(store, k=1).aretrieve("Eiffel")
    assert nodes[0].node.ref_doc_id == "paris"
    await store.adelete("paris")
    assert (await MSearchRetriever(store, k=1).aretrieve("Eiffel"))[0].node.ref_doc_id != "paris"


async def test_image_nodes_round_trip_as_images(
    store: MSearchVectorStore, embed_model: MSearchEmbedding
) -> None:
    captions = ["a red circle on white", "a harbour at night", "a note about cats"]
    vectors = embed_model.get_text_embedding_batch(captions)
    local = ImageNode(id_="red", text=captions[0], image_path="/pics/red.png", metadata={"k": 1})
    remote = ImageNode(id_="port", text=captions[1], image_url="https://example.org/port.jpg")
    note = TextNode(id_="note", text=captions[2], metadata={"source": "notes.txt"})
    for node, vector in zip([local, remote, note], vectors, strict=True):
        node.embedding = vector
    store.add([local, note])
    await store.async_add([remote])

    stored = {hit.id: (hit.source, hit.modality) for hit in store.store.scan()}
    assert stored == {
        "red": ("/pics/red.png", "image"),
        "port": ("https://example.org/port.jpg", "image"),
        "note": ("notes.txt", "text"),
    }
    back = {node.node_id: node for node in store.get_nodes()}
    assert isinstance(back["red"], ImageNode) and back["red"].image_path == "/pics/red.png"
    assert back["red"].metadata == {"k": 1} and back["red"].text == captions[0]
    assert isinstance(back["port"], ImageNode)
    assert back["port"].image_url == "https://example.org/port.jpg"
    assert not isinstance(back["note"], ImageNode)

    hits = MSearchRetriever(store, k=1).retrieve("a red circle")
    assert isinstance(hits[0].node, ImageNode) and hits[0].node.image_path == "/pics/red.png"
    result = await store.aquery(_query(embed_model, "boats in a harbour", similarity_top_k=1))
    assert isinstance(result.nodes[0], ImageNode) and result.ids == ["port"]


def test_a_store_on_the_image_vector_stores_images(embed_model: MSearchEmbedding) -> None:
    images = MSearchVectorStore("li-images", location=":memory:", vector_name="image")
    node = TextNode(id_="x", text="", metadata={"file": "x.png"})
    node.embedding = embed_model.get_text_embedding("anything")
    images.add([node])
    hit = next(images.store.scan())
    assert hit.modality == "image"
    assert isinstance(images.get_nodes(["x"])[0], ImageNode)
    images.close()


def test_delete_nodes_with_ids_and_filters_takes_the_intersection(
    store: MSearchVectorStore, embed_model: MSearchEmbedding
) -> None:
    topics = {"a": "y", "b": "y", "c": "z"}
    store.add(
        [
            TextNode(
                id_=name,
                text=f"note {name}",
                metadata={"topic": topic},
                embedding=embed_model.get_text_embedding(f"note {name}"),
            )
            for name, topic in topics.items()
        ]
    )
    on_y = MetadataFilters(filters=[MetadataFilter(key="topic", value="y")])
    assert [n.node_id for n in store.get_nodes(["a"], filters=on_y)] == ["a"]
    store.delete_nodes(["a"], filters=on_y)
    assert sorted(n.node_id for n in store.get_nodes()) == ["b", "c"]
