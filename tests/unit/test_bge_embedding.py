"""BGE-M3 and BGE dense models on both BGE backends: msearch's own on transformers, and
FlagEmbedding's (legacy stack). Parity with BGEM3FlagModel/FlagModel, one pass for hybrid,
bad input."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from msearch.embeddings import text_embedder
from msearch.errors import InvalidInputError
from msearch.sparse import sparse_embedder
from tests.support.stacks import backends
from tests.support.tiny_bge_m3 import MAX_LENGTH, tiny_bge_m3_path, tiny_dense_encoder_path

TEXTS = [
    "Paris is the capital city of France.",
    "cats purr",
    "Qdrant stores dense and sparse vectors for hybrid search. " * 20,  # over MAX_LENGTH
    "What is the capital of France?",
    "",
]


@pytest.fixture(params=backends("transformers", "flag"))
def backend(request: pytest.FixtureRequest) -> str:
    """Both BGE backends; ``flag`` is skipped where FlagEmbedding is not installed."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def m3() -> str:
    return tiny_bge_m3_path()


@pytest.fixture(scope="module")
def dense_only() -> str:
    return tiny_dense_encoder_path()


@pytest.fixture(scope="module")
def reference(m3: str) -> dict:
    """FlagEmbedding's own BGE-M3 outputs on the tiny model: the reference both backends meet."""
    from FlagEmbedding import BGEM3FlagModel

    model = BGEM3FlagModel(m3, use_fp16=False, devices="cpu", passage_max_length=MAX_LENGTH)
    return model.encode(  # type: ignore[no-any-return]
        TEXTS, return_dense=True, return_sparse=True, return_colbert_vecs=True
    )


@contextmanager
def count_passes(embedder: object) -> Iterator[list[int]]:
    """Count forward passes of the encoder under the loaded BGE-M3."""
    import torch

    calls = [0]
    model = embedder.loaded.model  # type: ignore[attr-defined]
    # msearch's runtime holds the encoder by name; FlagEmbedding's model wraps it
    encoder = model["encoder"] if isinstance(model, torch.nn.ModuleDict) else model.model.model
    handle = encoder.register_forward_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    try:
        yield calls
    finally:
        handle.remove()


@pytest.mark.legacy_stack("FlagEmbedding")
def test_dense_matches_bgem3flagmodel(backend: str, m3: str, reference: dict) -> None:
    ours = text_embedder(m3, backend, batch_size=2).embed_documents(TEXTS)
    theirs = reference["dense_vecs"]
    cosine = np.sum(ours * theirs, axis=1) / np.linalg.norm(theirs, axis=1)
    assert cosine.min() >= 0.9999


@pytest.mark.legacy_stack("FlagEmbedding")
def test_sparse_matches_bgem3flagmodel(backend: str, m3: str, reference: dict) -> None:
    ours = sparse_embedder(m3, backend, batch_size=2).embed_documents_sparse(TEXTS)
    assert any(len(vector.indices) > 3 for vector in ours)
    for vector, lexical in zip(ours, reference["lexical_weights"], strict=True):
        expected = {int(token): float(weight) for token, weight in lexical.items()}
        assert vector.indices.dtype == np.int64 and vector.values.dtype == np.float32
        assert vector.indices.tolist() == sorted(expected)
        np.testing.assert_allclose(
            vector.values, [expected[i] for i in vector.indices.tolist()], atol=1e-5
        )


@pytest.mark.legacy_stack("FlagEmbedding")
def test_colbert_matches_bgem3flagmodel(backend: str, m3: str, reference: dict) -> None:
    ours = text_embedder(m3, backend, batch_size=3).embed_documents_colbert(TEXTS)
    for mine, theirs in zip(ours, reference["colbert_vecs"], strict=True):
        assert mine.shape == theirs.shape
        np.testing.assert_allclose(mine, theirs, atol=1e-5)


def test_hybrid_batch_costs_one_forward_pass(backend: str, m3: str) -> None:
    embedder = text_embedder(m3, backend, batch_size=8)
    texts = [f"hybrid pass {i} of the cats" for i in range(4)]
    with count_passes(embedder) as calls:
        dense, sparse = embedder.embed_documents_hybrid(texts)
    assert calls[0] == 1
    assert dense.shape == (4, 32) and len(sparse) == 4


def test_dense_then_sparse_share_one_pass_and_one_model(backend: str, m3: str) -> None:
    dense_embedder = text_embedder(m3, backend, batch_size=8)
    sparse = sparse_embedder(m3, backend, batch_size=8)
    texts = [f"shared model {i}: dogs bark" for i in range(5)]
    with count_passes(dense_embedder) as calls:
        dense = dense_embedder.embed_documents(texts)  # what a hybrid store does: dense ...
        vectors = sparse.embed_documents_sparse(texts)  # ... then sparse on the same texts
    assert calls[0] == 1
    assert sparse.loaded is dense_embedder.loaded
    both_dense, both_sparse = dense_embedder.embed_documents_hybrid(texts)
    np.testing.assert_allclose(dense, both_dense, atol=1e-6)
    assert [v.as_dict() for v in vectors] == [v.as_dict() for v in both_sparse]


async def test_async_paths_match_sync(backend: str, m3: str) -> None:
    embedder = text_embedder(m3, backend)
    sparse = sparse_embedder(m3, backend)
    np.testing.assert_allclose(
        await embedder.aembed_documents(TEXTS), embedder.embed_documents(TEXTS), atol=1e-6
    )
    query = await sparse.aembed_query_sparse("capital of France")
    assert query.as_dict() == sparse.embed_query_sparse("capital of France").as_dict()
    assert await sparse.aembed_documents_sparse([]) == []
    dense, lexical = await embedder.aembed_documents_hybrid(TEXTS[:2])
    np.testing.assert_allclose(dense, embedder.embed_documents(TEXTS[:2]), atol=1e-6)
    assert [v.as_dict() for v in lexical] == [
        v.as_dict() for v in sparse.embed_documents_sparse(TEXTS[:2])
    ]
    query_dense, query_sparse = await embedder.aembed_query_hybrid("capital of France")
    assert query_sparse.as_dict() == sparse.embed_query_sparse("capital of France").as_dict()
    np.testing.assert_allclose(query_dense, embedder.embed_query("capital of France"), atol=1e-6)


@pytest.mark.legacy_stack("FlagEmbedding")
def test_dense_only_model_matches_flagmodel_with_its_query_instruction(
    backend: str, dense_only: str
) -> None:
    from FlagEmbedding import FlagModel

    instruction = "Represent this sentence for searching relevant passages: "
    theirs = FlagModel(
        dense_only,
        query_instruction_for_retrieval=instruction,
        use_fp16=False,
        devices="cpu",
        query_max_length=MAX_LENGTH,
        passage_max_length=MAX_LENGTH,
    )
    ours = text_embedder(dense_only, backend, query_prompt=instruction)
    np.testing.assert_allclose(ours.embed_documents(TEXTS), theirs.encode_corpus(TEXTS), atol=1e-5)
    np.testing.assert_allclose(
        ours.embed_query("capital of France"),
        theirs.encode_queries(["capital of France"])[0],
        atol=1e-5,
    )


def test_sparse_of_a_dense_only_model_is_a_clear_error(backend: str, dense_only: str) -> None:
    with pytest.raises(InvalidInputError, match="dense-only model"):
        sparse_embedder("BAAI/bge-small-en-v1.5", backend)
    sparse = sparse_embedder(dense_only, backend)
    with pytest.raises(InvalidInputError, match="no sparse head"):
        sparse.embed_documents_sparse(["cats"])
    with pytest.raises(InvalidInputError, match="no sparse head"):
        text_embedder(dense_only, backend).embed_documents_hybrid(["cats"])
    with pytest.raises(ValueError, match="no sparse support"):
        sparse_embedder(dense_only, "qwen3")


def test_normalize_false_gives_the_raw_cls_vector(backend: str, m3: str) -> None:
    raw = text_embedder(m3, backend, normalize=False).embed_documents(TEXTS)
    unit = text_embedder(m3, backend).embed_documents(TEXTS)
    norms = np.linalg.norm(raw, axis=1)
    assert np.abs(norms - 1.0).max() > 0.01
    np.testing.assert_allclose(raw / norms[:, None], unit, atol=1e-6)


def test_mean_pooling_of_a_dense_model_is_honoured(backend: str, dense_only: str) -> None:
    cls = text_embedder(dense_only, backend).embed_documents(TEXTS)
    mean = text_embedder(dense_only, backend, pooling="mean").embed_documents(TEXTS)
    assert float(np.max(np.abs(cls - mean))) > 0.01


def test_dimensions_larger_than_the_model_are_refused(backend: str, m3: str) -> None:
    with pytest.raises(InvalidInputError, match="dimensions=64 is larger"):
        text_embedder(m3, backend, dimensions=64).embed_documents(["a"])
    with pytest.raises(InvalidInputError, match="dimensions=2048 is larger"):
        text_embedder("BAAI/bge-m3", backend, dimensions=2048)


def test_long_text_is_truncated_and_empty_input_is_empty(backend: str, m3: str) -> None:
    embedder = text_embedder(m3, backend)
    assert np.isfinite(embedder.embed_documents(["hybrid search " * 500])).all()
    assert embedder.embed_documents([]).shape[0] == 0
    assert sparse_embedder(m3, backend).embed_documents_sparse([]) == []
    assert embedder.embed_documents_colbert([]) == []


def test_embedders_sharing_a_model_keep_their_own_max_length(backend: str, m3: str) -> None:
    text = "Qdrant stores dense and sparse vectors for hybrid search. " * 3
    full = text_embedder(m3, backend)
    short = text_embedder(m3, backend, max_length=8)
    assert short.loaded is full.loaded
    vectors = full.embed_documents([text]), short.embed_documents([text])
    assert float(vectors[0][0] @ vectors[1][0]) < 0.9999
    np.testing.assert_allclose(short.embed_documents([text]), vectors[1], atol=1e-6)


class _RunsCode:
    """Unpickling this would call ``os.getcwd``: a stand-in for code hidden in a head file."""

    def __reduce__(self) -> tuple:
        import os

        return (os.getcwd, ())


def test_head_files_are_loaded_as_weights_only(backend: str, m3: str, tmp_path: Path) -> None:
    import torch

    from msearch.errors import BackendError

    folder = tmp_path / "tampered"
    shutil.copytree(m3, folder)
    torch.save({"weight": _RunsCode()}, folder / "sparse_linear.pt")
    with pytest.raises(BackendError, match="weights_only=True"):
        text_embedder(str(folder), backend).embed_documents(["a"])
