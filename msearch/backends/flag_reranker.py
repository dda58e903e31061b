"""The ``"flag"`` reranker: FlagEmbedding's ``FlagReranker`` and ``FlagLLMReranker``.

A cross-encoder folder (``*ForSequenceClassification``: bge-reranker-base/large/v2-m3) loads
through ``FlagReranker``; msearch tokenizes each pair the way FlagEmbedding does (the query
cut to 3/4 of ``max_length``, then the pair cut to ``max_length`` from the document's end),
batches by length and runs each batch once. The raw score is the model's logit.

A causal-LM folder (``*ForCausalLM``: bge-reranker-v2-gemma) loads through
``FlagLLMReranker``, which scores with its own prompt and batching; its raw score is the
logit of "Yes" at the last position (FlagEmbedding's definition: its normalized score is
that logit's sigmoid), so msearch's 0..1 score equals FlagEmbedding's ``normalize=True``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from msearch._deps import require
from msearch.backends._loading import input_limit, model_not_found
from msearch.backends.base import BlockingModel, RerankerBase, RerankOptions
from msearch.backends.bge import checked_dtype, local_folder
from msearch.backends.flag import build_flag
from msearch.errors import BackendError, MSearchError
from msearch.models import ModelSpec

#: FlagEmbedding's default, for a model whose tokenizer and config name no limit.
_FLAG_DEFAULT_MAX_LENGTH = 512


class _Loaded:
    def __init__(self, flag: Any, llm: bool, device: str, max_length: int) -> None:
        self.flag = flag
        self.llm = llm
        self.device = device
        self.max_length = max_length


@dataclass(frozen=True, kw_only=True)
class FlagRerankOptions(RerankOptions):
    """The options of ``FlagReranker``."""

    max_length: int | None = None
    prompt: str | None = None
    device: str | None = None
    dtype: str = "float32"
    fp16: bool = False
    trust_remote_code: bool = False


class FlagReranker(BlockingModel, RerankerBase):
    """BGE rerankers through FlagEmbedding, scored in 0..1 (raw logits with ``raw_scores``).

    Options: ``max_length`` (default: the model's own limit, the smallest of the registry's
    ``max_tokens``, the tokenizer's ``model_max_length`` and the position table; 512 when
    none says), ``batch_size``, ``dtype``/``fp16``, ``device``, ``prompt`` (LLM rerankers only).

    >>> from msearch.rerank import reranker
    >>> bge = reranker("BAAI/bge-reranker-v2-m3", backend="flag")  # doctest: +SKIP
    >>> bge.rerank("what is a panda?", ["The giant panda is a bear.", "hi"])  # doctest: +SKIP
    [RerankResult(index=0, score=0.99...), RerankResult(index=1, score=0.0003...)]
    """

    Options: ClassVar[type[FlagRerankOptions]] = FlagRerankOptions
    options: FlagRerankOptions

    def __init__(self, spec: ModelSpec, options: FlagRerankOptions | None = None) -> None:
        super().__init__(spec, options)
        self.dtype = checked_dtype(self.options.dtype, self.options.fp16)
        max_length = self.options.max_length
        if max_length is not None and max_length < 2:
            raise ValueError(f"max_length must be >= 2, got {max_length}")
        #: What the caller asked for; ``None`` reads the model's limit when it loads.
        self.max_length = max_length

    def _load(self) -> _Loaded:
        require("FlagEmbedding", "flag")  # before fetching a hub model it could not run
        torch = require("torch", "flag")
        folder = local_folder(self.spec.name, "flag")
        llm = _is_causal_lm(folder)
        device = self.options.device or ("cuda" if torch.cuda.is_available() else "cpu")
        options: dict[str, Any] = {
            "max_length": self.max_length or _FLAG_DEFAULT_MAX_LENGTH,
            "batch_size": self.batch_size,
            "dtype": self.dtype,
            "device": device,
            "trust_remote_code": self.options.trust_remote_code,
        }
        try:
            if llm:
                flag = build_flag("FlagLLMReranker", folder, prompt=self.options.prompt, **options)
            else:
                flag = build_flag("FlagReranker", folder, **options)
                flag.model.to(device).eval()
        except MSearchError:
            raise
        except OSError as err:
            raise model_not_found(self.spec.name, err) from err
        # FlagEmbedding's own default (512) ignores the model: on a smaller position table a
        # long document would overflow it and crash the forward pass.
        max_length = self.max_length or (
            input_limit(flag.tokenizer, flag.model.config, self.spec.max_tokens)
            or _FLAG_DEFAULT_MAX_LENGTH
        )
        flag.max_length = max_length
        return _Loaded(flag, llm, device, max_length)

    def _score(self, query: str, documents: list[str]) -> np.ndarray:
        loaded: _Loaded = self.loaded
        if loaded.llm:
            return self._score_llm(loaded, query, documents)
        torch = require("torch", "flag")
        scores = np.empty(len(documents), dtype=np.float64)
        for positions in self._length_batches(documents):
            try:
                inputs = self._pairs(loaded, query, [documents[i] for i in positions])
                with torch.inference_mode():
                    logits = loaded.flag.model(**inputs, return_dict=True).logits
            except MSearchError:
                raise
            except Exception as err:  # torch/tokenizer failures become one typed error
                raise BackendError(f"FlagReranker failed on {self.spec.name}: {err}") from err
            scores[positions] = logits.view(-1).float().cpu().numpy()
        return scores

    @staticmethod
    def _pairs(loaded: _Loaded, query: str, documents: list[str]) -> Any:
        compat = require("FlagEmbedding.utils.tokenizer_compat", "flag")
        tokenizer = loaded.flag.tokenizer
        query_ids = tokenizer(
            query, add_special_tokens=False, max_length=loaded.max_length * 3 // 4, truncation=True
        )["input_ids"]
        doc_ids = tokenizer(
            documents, add_special_tokens=False, max_length=loaded.max_length, truncation=True
        )["input_ids"]
        items = [
            compat.prepare_for_model_compat(
                tokenizer,
                query_ids,
                ids,
                truncation="only_second",
                max_length=loaded.max_length,
                padding=False,
            )
            for ids in doc_ids
        ]
        padded = compat.pad_with_compat(tokenizer, items, padding=True, return_tensors="pt")
        return padded.to(loaded.device)

    def _score_llm(self, loaded: _Loaded, query: str, documents: list[str]) -> np.ndarray:
        try:
            raw = loaded.flag.compute_score(
                [(query, doc) for doc in documents],
                batch_size=self.batch_size,
                max_length=loaded.max_length,
                normalize=False,
            )
        except MSearchError:
            raise
        except Exception as err:  # torch/tokenizer failures become one typed error
            raise BackendError(f"FlagLLMReranker failed on {self.spec.name}: {err}") from err
        return np.asarray(raw if isinstance(raw, list) else [raw], dtype=np.float64)


def _is_causal_lm(folder: str) -> bool:
    config = Path(folder) / "config.json"
    if not config.is_file():
        return False
    architectures = json.loads(config.read_text(encoding="utf-8")).get("architectures") or []
    return any(name.endswith("ForCausalLM") for name in architectures)
