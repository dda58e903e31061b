"""The ``"qwen3"`` reranker: Qwen3-Reranker (a causal LM) on transformers, per the official recipe.

Each (query, document) pair becomes one chat turn::

    <prefix><Instruct>: {instruction}\\n<Query>: {query}\\n<Document>: {doc}<suffix>

and the score is ``softmax([logit("no"), logit("yes")])[1]`` at the last position, which is
``sigmoid(logit("yes") - logit("no"))``: msearch's raw score is that difference, so the
common 0..1 scale is exactly Qwen3's P(yes). The body is truncated (from its end, so the
document loses its tail) so that prefix + body + suffix fit ``max_length``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from msearch._deps import require
from msearch.backends.base import BlockingModel, RerankerBase, RerankOptions, check_text
from msearch.backends.qwen3 import Qwen3Loading, check_max_length, load_qwen3
from msearch.datatypes import RerankResult
from msearch.errors import BackendError, MSearchError
from msearch.models import ModelSpec

DEFAULT_INSTRUCTION = "Given a web search query, retrieve relevant passages that answer the query"
PREFIX = (
    "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query "
    'and the Instruct provided. Note that the answer can only be "yes" or "no".<|im_end|>\n'
    "<|im_start|>user\n"
)
SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"


def format_body(instruction: str, query: str, document: str) -> str:
    return f"<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {document}"


class _Loaded:
    def __init__(self, tokenizer: Any, model: Any, device: str, max_length: int) -> None:
        self.tokenizer = tokenizer
        self.model = model
        self.device = device
        self.max_length = max_length
        self.prefix_ids: list[int] = tokenizer.encode(PREFIX, add_special_tokens=False)
        self.suffix_ids: list[int] = tokenizer.encode(SUFFIX, add_special_tokens=False)
        self.yes_id = _single_token_id(tokenizer, "yes")
        self.no_id = _single_token_id(tokenizer, "no")
        self.body_max = max_length - len(self.prefix_ids) - len(self.suffix_ids)
        if self.body_max < 1:
            raise ValueError(f"max_length={max_length} leaves no room for the reranker's template")


@dataclass(frozen=True, kw_only=True)
class Qwen3RerankOptions(RerankOptions, Qwen3Loading):
    """The options of ``Qwen3Reranker``: ``instruction`` is the task of every call (default:
    the registry's, else Qwen3's own)."""

    instruction: str | None = None


class Qwen3Reranker(BlockingModel, RerankerBase):
    """Qwen3-Reranker-0.6B/4B/8B scores in 0..1 (P(yes)), loaded on first use.

    ``instruction`` sets the task for this instance; ``rerank(..., instruction=...)`` for one
    call. Options (``Qwen3RerankOptions``): ``batch_size``, ``raw_scores`` (log-odds instead of
    0..1) and the loading options of ``Qwen3Loading``.

    >>> from msearch.rerank import reranker
    >>> reranker = reranker("Qwen/Qwen3-Reranker-0.6B", backend="qwen3")
    >>> reranker.rerank("capital?", ["Beijing is the capital.", "Cats purr."])  # doctest: +SKIP
    [RerankResult(index=0, score=0.99...), RerankResult(index=1, score=0.0...)]
    """

    Options: ClassVar[type[Qwen3RerankOptions]] = Qwen3RerankOptions
    options: Qwen3RerankOptions

    def __init__(self, spec: ModelSpec, options: Qwen3RerankOptions | None = None) -> None:
        super().__init__(spec, options)
        self.max_length = check_max_length(self.options, spec)
        self.instruction = self.options.instruction or spec.default_task or DEFAULT_INSTRUCTION

    # -- public API with the per-call instruction ---------------------------------------
    def rerank(
        self,
        query: str,
        documents: Sequence[str],
        top_n: int | None = None,
        *,
        instruction: str | None = None,
    ) -> list[RerankResult]:
        return self._rerank(query, documents, top_n, instruction)

    async def arerank(
        self,
        query: str,
        documents: Sequence[str],
        top_n: int | None = None,
        *,
        instruction: str | None = None,
    ) -> list[RerankResult]:
        return await self._arerank(query, documents, top_n, instruction)

    # -- backend hooks -------------------------------------------------------------------
    def _load(self) -> _Loaded:
        return _Loaded(
            *load_qwen3(self.spec, self.options, self.max_length, "AutoModelForCausalLM")
        )

    def _score(
        self, query: str, documents: list[str], instruction: str | None = None
    ) -> np.ndarray:
        instruction = (
            self.instruction if instruction is None else check_text(instruction, "instruction")
        )
        loaded: _Loaded = self.loaded
        torch = require("torch", "transformers")
        bodies = [format_body(instruction, query, doc) for doc in documents]
        scores = np.empty(len(bodies), dtype=np.float64)
        for positions in self._length_batches(bodies):
            try:
                inputs = self._inputs(loaded, [bodies[i] for i in positions])
                with torch.inference_mode():
                    logits = loaded.model(**inputs).logits[:, -1, :].float()
            except MSearchError:
                raise
            except Exception as err:  # torch/tokenizer failures become one typed error
                raise BackendError(f"Qwen3 reranker failed on {self.spec.name}: {err}") from err
            diff = logits[:, loaded.yes_id] - logits[:, loaded.no_id]
            scores[positions] = diff.cpu().numpy()
        return scores

    @staticmethod
    def _inputs(loaded: _Loaded, bodies: list[str]) -> Any:
        # the official recipe tokenizes the body alone (with the tokenizer's own specials),
        # truncates it to what the template leaves free, then wraps it in prefix and suffix
        encoded = loaded.tokenizer(
            bodies, padding=False, truncation=True, max_length=loaded.body_max
        )["input_ids"]
        rows = [loaded.prefix_ids + ids + loaded.suffix_ids for ids in encoded]
        longest = max(len(row) for row in rows)
        pad = loaded.tokenizer.pad_token_id
        pad = loaded.tokenizer.eos_token_id if pad is None else pad
        # left padding by hand: the same tensors as tokenizer.pad, without its slow-path advice
        torch = require("torch", "transformers")
        input_ids = torch.tensor([[pad] * (longest - len(row)) + row for row in rows])
        mask = torch.tensor([[0] * (longest - len(row)) + [1] * len(row) for row in rows])
        return {"input_ids": input_ids.to(loaded.device), "attention_mask": mask.to(loaded.device)}


def _single_token_id(tokenizer: Any, token: str) -> int:
    token_id = tokenizer.convert_tokens_to_ids(token)
    if token_id is None or token_id == tokenizer.unk_token_id:
        raise BackendError(f"the reranker's tokenizer has no {token!r} token")
    return int(token_id)
