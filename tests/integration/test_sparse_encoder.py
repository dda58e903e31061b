"""Sparse embeddings from sentence-transformers' SparseEncoder (SPLADE), today's stack only:
msearch's vectors equal the library's own, queries go through encode_query, documents through
encode_document, and the vectors serve hybrid search in msearch's store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from msearch.errors import InvalidInputError
from msearch.sparse import sparse_embedder
from tests.support.tiny_cross_encoder import build_tiny_splade

pytestmark = pytest.mark.default_stack("sentence_transformers.sparse_encoder")

TEXTS = [
    "cats purr on the sofa",
    "paris is the capital city of france",
    "the dog barks at the big red ball " * 20,  # longer than the model's 64 tokens
    "",
]


@pytest.fixture(scope="module")
def splade(model_cache: Path) -> str:
    return build_tiny_splade(model_cache / "tiny-splade")


def _as_dicts(rows: np.ndarray) -> list[dict[int, float]]:
    return [{int(i): float(row[i]) for i in np.flatnonzero(row > 0)} for row in rows]


def test_documents_and_queries_equal_the_sparse_encoders_own(splade: str) -> None:
    from sentence_transformers import SparseEncoder

    reference = SparseEncoder(splade, device="cpu")
    documents = reference.encode_document(TEXTS, convert_to_sparse_tensor=False).numpy()
    query = reference.encode_query(["where do cats purr"], convert_to_sparse_tensor=False).numpy()
    embedder = sparse_embedder(splade, "sentence-transformers", batch_size=2)
    ours = embedder.embed_documents_sparse(TEXTS)
    assert sum(len(vector.indices) for vector in ours) > 10
    for mine, theirs in zip(ours, _as_dicts(documents), strict=True):
        assert mine.indices.tolist() == sorted(theirs)
        # Batches of 2 pad differently from the reference's one batch: float32 sums in
        # another order (seen: 1.3e-5 relative).
        np.testing.assert_allclose(mine.values, [theirs[i] for i in sorted(theirs)], rtol=1e-4)
    assert embedder.embed_query_sparse("where do cats purr").as_dict() == pytest.approx(
        _as_dicts(query)[0], rel=1e-5
    )


async def test_async_matches_sync_and_empty_input(splade: str) -> None:
    embedder = sparse_embedder(splade, "sentence-transformers")
    assert await embedder.aembed_documents_sparse([]) == []
    sync = [vector.as_dict() for vector in embedder.embed_documents_sparse(TEXTS)]
    assert [vector.as_dict() for vector in await embedder.aembed_documents_sparse(TEXTS)] == sync
    query = await embedder.aembed_query_sparse("cats")
    assert query.as_dict() == embedder.embed_query_sparse("cats").as_dict()


def test_its_vectors_search_a_sparse_named_vector_in_the_store(splade: str) -> None:
    from msearch.store import Record, Store
    from msearch.store.schema import Schema, SparseSpec

    sparse = sparse_embedder(splade, "sentence-transformers")
    texts = TEXTS[:3]
    schema = Schema(sparse={"text_sparse": SparseSpec(model=splade)})
    with Store("splade", schema, location=":memory:") as store:
        vectors = sparse.embed_documents_sparse(texts)
        store.upsert(
            [
                Record(id=str(i), content=text, vectors={"text_sparse": vector})
                for i, (text, vector) in enumerate(zip(texts, vectors, strict=True))
            ]
        )
        hits = store.query("text_sparse", vectors[1], k=3)
    assert hits[0].content == texts[1]
    assert hits[0].score == pytest.approx(float(vectors[1].values @ vectors[1].values), rel=1e-4)


def test_options_it_cannot_honour_are_refused(splade: str) -> None:
    with pytest.raises(InvalidInputError, match="bfloat16"):
        sparse_embedder(splade, "sentence-transformers", precision="bfloat16")
    with pytest.raises(InvalidInputError, match="bogus_option"):
        sparse_embedder(splade, "sentence-transformers", bogus_option=1)
