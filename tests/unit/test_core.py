"""The core pieces that need no model: registry, batching, input checks."""

import numpy as np
import pytest

from msearch.backends import _IMPLEMENTATIONS, SERVER_BACKENDS, backend_class, build_backend
from msearch.backends.base import check_texts, l2_normalize
from msearch.batching import sorted_batches
from msearch.embeddings import text_embedder
from msearch.errors import InvalidInputError
from msearch.models import (
    Kind,
    Modality,
    ModelSpec,
    get_spec,
    register,
    registered_models,
    resolve_spec,
)
from msearch.rerank import reranker


def test_registry_knows_minilm() -> None:
    spec = get_spec("sentence-transformers/all-MiniLM-L6-v2")
    assert (spec.dim, spec.max_tokens) == (384, 256)


def test_unregistered_model_takes_overrides() -> None:
    spec = resolve_spec("/models/my-model", dim=128, query_prompt="query: ")
    assert (spec.name, spec.dim, spec.query_prompt) == ("/models/my-model", 128, "query: ")


def test_overrides_reject_unknown_fields() -> None:
    with pytest.raises(InvalidInputError, match="unknown model field"):
        resolve_spec("x").with_overrides(dimz=3)


def test_register_adds_a_model() -> None:
    register(ModelSpec(name="test/registered", dim=7))
    assert resolve_spec("test/registered").dim == 7


def test_sorted_batches_cover_every_item_once_longest_first() -> None:
    items = ["a" * n for n in (3, 10, 1, 7, 5)]
    batches = sorted_batches(items, 2)
    assert sorted(i for batch in batches for i in batch) == list(range(5))
    assert [len(items[i]) for batch in batches for i in batch] == [10, 7, 5, 3, 1]


def test_check_texts_names_the_bad_item() -> None:
    with pytest.raises(TypeError, match=r"texts\[2\] is int"):
        check_texts(["a", "b", 3])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="not a single string"):
        check_texts("abc")


def test_l2_normalize_keeps_zero_rows_finite() -> None:
    out = l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0]], dtype=np.float32))
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])


def test_unknown_backend_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="sentence-transformers"):
        backend_class("text", "no-such-backend")


def test_a_registered_model_runs_only_on_the_backends_it_lists() -> None:
    with pytest.raises(
        InvalidInputError, match=r"registered to run on qwen3.*not on backend 'onnx'"
    ):
        text_embedder("Qwen/Qwen3-Embedding-0.6B", "onnx")
    with pytest.raises(InvalidInputError, match="not on backend 'sentence-transformers'"):
        reranker("BAAI/bge-reranker-v2-gemma", "sentence-transformers")
    # a server serves whatever it was started with; nothing loads or connects here
    assert text_embedder("Qwen/Qwen3-Embedding-0.6B", "openai", url="http://127.0.0.1:9")
    assert text_embedder("Qwen/Qwen3-Embedding-0.6B", "sentence-transformers")


def test_every_registered_backend_exists_for_the_models_capability() -> None:
    capability = {Kind.RERANKER: "rerank", Kind.TRANSCRIBER: "speech"}
    media = {Modality.IMAGE: "image", Modality.AUDIO: "audio"}
    for spec in registered_models():
        wanted = capability.get(spec.kind) or media.get(spec.modality) or "text"
        for backend in spec.backends:
            if spec.sparse and backend not in _IMPLEMENTATIONS[wanted]:
                wanted = "sparse"
            assert backend in _IMPLEMENTATIONS[wanted], (spec.name, backend)
            assert backend not in SERVER_BACKENDS, (spec.name, backend)


def test_an_unknown_option_is_refused_by_name_on_every_backend() -> None:
    for capability, table in _IMPLEMENTATIONS.items():
        for backend in table:
            with pytest.raises(InvalidInputError, match="no option 'colour'"):
                build_backend(capability, backend, ModelSpec(name="some/model"), {"colour": 1})
