"""Qwen3-Reranker on transformers: parity with the official formula on a tiny random causal LM."""

from __future__ import annotations

import math

import numpy as np
import pytest

from msearch.backends import build_backend
from msearch.errors import InvalidInputError
from msearch.models import resolve_spec
from tests.support.tiny_qwen3 import MAX_LENGTH, tiny_qwen3_reranker_path

DEFAULT = "Given a web search query, retrieve relevant passages that answer the query"
QUERY = "What is the capital of France?"
DOCS = [
    "Paris is the capital city of France, on the river Seine.",
    "Cats purr when they are happy.",
    "Qdrant stores dense and sparse vectors for hybrid search. " * 30,  # must be truncated
    "",
    "yes",
]


@pytest.fixture(scope="module")
def folder() -> str:
    return tiny_qwen3_reranker_path()


def reranker(folder: str, **options: object) -> object:
    return build_backend("rerank", "qwen3", resolve_spec(folder), dict(options))


def official(folder: str, query: str, docs: list[str], instruction: str = DEFAULT) -> list[float]:
    """Qwen3-Reranker's published transformers recipe, written out independently."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    yes, no = tokenizer.convert_tokens_to_ids("yes"), tokenizer.convert_tokens_to_ids("no")
    prefix = (
        "<|im_start|>system\nJudge whether the Document meets the requirements based on the "
        'Query and the Instruct provided. Note that the answer can only be "yes" or "no".'
        "<|im_end|>\n<|im_start|>user\n"
    )
    suffix = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
    prefix_ids = tokenizer.encode(prefix, add_special_tokens=False)
    suffix_ids = tokenizer.encode(suffix, add_special_tokens=False)
    pairs = [f"<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {doc}" for doc in docs]
    inputs = tokenizer(
        pairs,
        padding=False,
        truncation="longest_first",
        return_attention_mask=False,
        max_length=MAX_LENGTH - len(prefix_ids) - len(suffix_ids),
    )
    for i, ids in enumerate(inputs["input_ids"]):
        inputs["input_ids"][i] = prefix_ids + ids + suffix_ids
    batch = tokenizer.pad(inputs, padding=True, return_tensors="pt", max_length=MAX_LENGTH)
    assert batch["input_ids"].shape[1] <= MAX_LENGTH
    with torch.no_grad():
        last = model(**batch).logits[:, -1, :]
    pair = torch.stack([last[:, no], last[:, yes]], dim=1)
    return torch.nn.functional.log_softmax(pair, dim=1)[:, 1].exp().tolist()  # type: ignore[no-any-return]


def by_index(results: list) -> list[float]:
    return [result.score for result in sorted(results, key=lambda result: result.index)]


def test_scores_match_the_official_formula_including_truncation(folder: str) -> None:
    from transformers import AutoTokenizer

    long_tokens = len(AutoTokenizer.from_pretrained(folder)(DOCS[2])["input_ids"])
    assert long_tokens > MAX_LENGTH  # the long document really is truncated
    ours = by_index(reranker(folder, batch_size=2).rerank(QUERY, DOCS))
    np.testing.assert_allclose(ours, official(folder, QUERY, DOCS), atol=1e-5)


def test_results_are_ordered_with_original_indices(folder: str) -> None:
    results = reranker(folder).rerank(QUERY, DOCS)
    assert sorted(result.index for result in results) == list(range(len(DOCS)))
    scores = [result.score for result in results]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 < score < 1.0 for score in scores)


def test_instruction_per_instance_and_per_call(folder: str) -> None:
    instruction = "Judge whether the document names a city"
    expected = official(folder, QUERY, DOCS[:2], instruction)
    per_instance = by_index(reranker(folder, instruction=instruction).rerank(QUERY, DOCS[:2]))
    per_call = by_index(reranker(folder).rerank(QUERY, DOCS[:2], instruction=instruction))
    np.testing.assert_allclose(per_instance, expected, atol=1e-5)
    np.testing.assert_allclose(per_call, expected, atol=1e-5)
    assert not np.allclose(per_call, official(folder, QUERY, DOCS[:2]), atol=1e-7)


def test_raw_scores_are_the_log_odds(folder: str) -> None:
    probabilities = by_index(reranker(folder).rerank(QUERY, DOCS[:3]))
    raw = by_index(reranker(folder, raw_scores=True).rerank(QUERY, DOCS[:3]))
    np.testing.assert_allclose([1 / (1 + math.exp(-x)) for x in raw], probabilities, atol=1e-9)


async def test_async_matches_sync(folder: str) -> None:
    model = reranker(folder)
    sync = model.rerank(QUERY, DOCS, top_n=2, instruction="Find cities")
    assert await model.arerank(QUERY, DOCS, top_n=2, instruction="Find cities") == sync


def test_bad_input(folder: str) -> None:
    model = reranker(folder)
    assert model.rerank(QUERY, []) == []
    assert len(model.rerank(QUERY, DOCS[:2], top_n=10)) == 2
    assert len(model.rerank(QUERY, DOCS, top_n=1)) == 1
    with pytest.raises(InvalidInputError, match="empty"):
        model.rerank("  ", DOCS)


def test_registry_describes_the_real_models() -> None:
    from msearch.models import Kind, get_spec

    for size in ("0.6B", "4B", "8B"):
        spec = get_spec(f"Qwen/Qwen3-Reranker-{size}")
        assert spec.kind is Kind.RERANKER and spec.backends == ("qwen3",)
        assert spec.default_task == DEFAULT
