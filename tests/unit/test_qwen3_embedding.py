"""Qwen3-Embedding on transformers: parity with the official recipe on a tiny random model."""

from __future__ import annotations

import numpy as np
import pytest

from msearch.embeddings import text_embedder
from msearch.errors import InvalidInputError
from tests.support.tiny_qwen3 import MAX_LENGTH, tiny_qwen3_embedding_path

TASK = "Given a web search query, retrieve relevant passages that answer the query"
TEXTS = [
    "Paris",
    "Qdrant stores dense and sparse vectors for hybrid search.",
    "Cats purr when they are happy; dogs bark at the mailman. " * 3,
    "What is the capital of France?",
    "Python code runs fast when the inner loop is vectorized. " * 40,  # over MAX_LENGTH
    "",
]


@pytest.fixture(scope="module")
def folder() -> str:
    return tiny_qwen3_embedding_path()


def official(folder: str, texts: list[str]) -> np.ndarray:
    """Qwen3-Embedding's published transformers recipe, written out independently."""
    import torch
    import torch.nn.functional as F
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder, padding_side="left")
    model = AutoModel.from_pretrained(folder).eval()
    batch = tokenizer(
        texts, padding=True, truncation=True, max_length=MAX_LENGTH, return_tensors="pt"
    )
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"]
    if mask[:, -1].sum() == mask.shape[0]:
        pooled = hidden[:, -1]
    else:
        pooled = hidden[torch.arange(hidden.shape[0]), mask.sum(dim=1) - 1]
    return F.normalize(pooled, p=2, dim=1).numpy()


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_the_tokenizer_appends_endoftext_like_the_real_one(folder: str) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    ids = tokenizer("a cat")["input_ids"]
    assert ids[-1] == tokenizer.convert_tokens_to_ids("<|endoftext|>")


def test_documents_match_the_official_recipe_on_mixed_lengths(folder: str) -> None:
    ours = text_embedder(folder, "qwen3", batch_size=4).embed_documents(TEXTS)
    reference = official(folder, TEXTS)
    assert ours.dtype == np.float32 and ours.shape == reference.shape
    assert cosines(ours, reference).min() >= 0.9999
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_batched_equals_one_at_a_time(folder: str) -> None:
    embedder = text_embedder(folder, "qwen3", batch_size=len(TEXTS))
    batched = embedder.embed_documents(TEXTS)
    single = np.stack([embedder.embed_documents([text])[0] for text in TEXTS])
    assert cosines(batched, single).min() >= 0.9999


def test_queries_get_the_instruction_without_a_space_after_query(folder: str) -> None:
    embedder = text_embedder(folder, "qwen3")
    query = "capital of France?"
    ours = embedder.embed_query(query)
    reference = official(folder, [f"Instruct: {TASK}\nQuery:{query}"])[0]
    assert float(ours @ reference) >= 0.9999
    # documents get no instruction
    assert float(embedder.embed_documents([query])[0] @ ours) < 0.9999


def test_task_per_instance_and_per_call(folder: str) -> None:
    task = "Find the animal the text is about"
    query = "which pet purrs?"
    expected = official(folder, [f"Instruct: {task}\nQuery:{query}"])[0]
    per_instance = text_embedder(folder, "qwen3", task=task).embed_query(query)
    per_call = text_embedder(folder, "qwen3").embed_query(query, task=task)
    assert float(per_instance @ expected) >= 0.9999
    assert float(per_call @ expected) >= 0.9999


async def test_async_matches_sync(folder: str) -> None:
    embedder = text_embedder(folder, "qwen3")
    sync = embedder.embed_documents(TEXTS[:3])
    np.testing.assert_allclose(await embedder.aembed_documents(TEXTS[:3]), sync, atol=1e-6)
    query = await embedder.aembed_query("cats", task="Find pets")
    np.testing.assert_allclose(query, embedder.embed_query("cats", task="Find pets"), atol=1e-6)


def test_matryoshka_dimensions_truncate_then_normalize(folder: str) -> None:
    full = text_embedder(folder, "qwen3").embed_documents(TEXTS[:4])
    short = text_embedder(folder, "qwen3", dimensions=64).embed_documents(TEXTS[:4])
    expected = full[:, :64] / np.linalg.norm(full[:, :64], axis=1, keepdims=True)
    assert short.shape == (4, 64)
    np.testing.assert_allclose(short, expected, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(short, axis=1), 1.0, atol=1e-5)


def test_dimensions_larger_than_the_model_are_refused(folder: str) -> None:
    embedder = text_embedder(folder, "qwen3", dimensions=4096)  # the model has 128
    with pytest.raises(InvalidInputError, match="dimensions=4096 is larger"):
        embedder.embed_documents(["a"])
    with pytest.raises(InvalidInputError, match="dimensions=8192 is larger"):
        text_embedder("Qwen/Qwen3-Embedding-0.6B", "qwen3", dimensions=8192)


def test_long_text_is_truncated_not_refused(folder: str) -> None:
    long_text = "word " * 2000
    vector = text_embedder(folder, "qwen3").embed_documents([long_text])[0]
    assert np.isfinite(vector).all()
    np.testing.assert_allclose(vector, official(folder, [long_text])[0], atol=1e-5)


def test_empty_input_gives_empty_output(folder: str) -> None:
    embedder = text_embedder(folder, "qwen3")
    assert embedder.embed_documents([]).shape[0] == 0


def test_attention_and_dtype_options(folder: str) -> None:
    eager = text_embedder(folder, "qwen3", attn_implementation="eager").embed_documents(TEXTS)
    sdpa = text_embedder(folder, "qwen3", attn_implementation="sdpa").embed_documents(TEXTS)
    assert cosines(eager, sdpa).min() >= 0.9999
    bf16 = text_embedder(folder, "qwen3", dtype="bfloat16").embed_documents(TEXTS)
    assert bf16.dtype == np.float32
    assert cosines(bf16, sdpa).min() >= 0.99
    with pytest.raises(ValueError, match="dtype"):
        text_embedder(folder, "qwen3", dtype="int8")


def test_registry_describes_the_real_models() -> None:
    from msearch.models import get_spec

    dims = {size: get_spec(f"Qwen/Qwen3-Embedding-{size}").dim for size in ("0.6B", "4B", "8B")}
    assert dims == {"0.6B": 1024, "4B": 2560, "8B": 4096}
    spec = get_spec("Qwen/Qwen3-Embedding-0.6B")
    assert spec.query_prompt == "Instruct: {task}\nQuery:" and spec.default_task == TASK


def test_an_attention_kernel_without_its_package_names_the_problem(folder: str) -> None:
    from msearch.errors import MissingDependencyError

    pytest.importorskip("torch")
    try:
        import flash_attn  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("flash-attn is installed here")
    embedder = text_embedder(folder, "qwen3", attn_implementation="flash_attention_2")
    with pytest.raises(MissingDependencyError, match="flash_attention_2"):
        embedder.embed_documents(["a"])
