"""The ``"sentence-transformers"`` backend: SentenceTransformer, CrossEncoder and SparseEncoder
models in-process."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from msearch._deps import require
from msearch.backends._loading import input_limit, locate_model, model_not_found, torch_dtype
from msearch.backends.base import (
    BatchOptions,
    BlockingModel,
    EmbedOptions,
    RerankerBase,
    RerankOptions,
    SparseEmbedderBase,
    TextEmbedderBase,
    choose_prompts,
)
from msearch.batching import sorted_batches, with_progress
from msearch.datatypes import SparseVector, sparse_from_weights
from msearch.errors import BackendError, InvalidInputError, MissingDependencyError, MSearchError
from msearch.models import ModelSpec, Pooling
from msearch.precision import PrecisionPlan, merge_dtype, resolve_precision


@dataclass(frozen=True, kw_only=True)
class STLoading:
    """How a sentence-transformers model loads: ``precision`` (see ``msearch.precision``;
    ``dtype`` is its older spelling), ``device``, where ``int8-onnx`` exports are cached."""

    device: str | None = None
    dtype: str = "float32"
    precision: str | None = None
    onnx_cache_dir: str | None = None
    trust_remote_code: bool = False

    @property
    def chosen_precision(self) -> str:
        return merge_dtype(self.precision, self.dtype)


@dataclass(frozen=True, kw_only=True)
class STTextOptions(EmbedOptions, STLoading):
    """The options of ``STTextEmbedder``."""


@dataclass(frozen=True, kw_only=True)
class STRerankOptions(RerankOptions, STLoading):
    """The options of ``STCrossEncoderReranker``."""


@dataclass(frozen=True, kw_only=True)
class STSparseOptions(BatchOptions, STLoading):
    """The options of ``STSparseEmbedder``: float32 only."""


class STTextEmbedder(BlockingModel, TextEmbedderBase):
    """Text embeddings from a sentence-transformers model, loaded on first use.

    ``precision`` picks the numeric path (see ``msearch.precision``): ``"float32"`` (default,
    exact), ``"bfloat16"``/``"float16"``, ``"auto"`` (bf16 only where the CPU or GPU runs it
    natively) or ``"int8-onnx"`` (CPU, exported and cached once). ``dtype`` is the older
    spelling of the torch precisions. After loading, ``plan`` says what was chosen and why.

    >>> from msearch.backends.sentence_transformers import STTextEmbedder
    >>> from msearch.models import resolve_spec
    >>> embedder = STTextEmbedder(resolve_spec("sentence-transformers/all-MiniLM-L6-v2"))
    >>> embedder.embed_documents(["a cat", "a dog"]).shape  # doctest: +SKIP
    (2, 384)
    """

    Options: ClassVar[type[STTextOptions]] = STTextOptions
    options: STTextOptions
    #: What ``precision`` chose, and why; set when the model loads.
    plan: PrecisionPlan | None = None
    _loaded_prompts: tuple[str, str] = ("", "")

    def __init__(self, spec: ModelSpec, options: STTextOptions | None = None) -> None:
        super().__init__(spec, options)
        self.precision = self.options.chosen_precision

    def _load(self) -> Any:
        st = require("sentence_transformers", "st")
        path = locate_model(self.spec.name)
        options = self.options
        onnx_plan = _onnx_plan(self.precision, options.device)
        try:
            if onnx_plan is not None:
                from msearch.backends.onnx_int8 import QUANTIZED_FILE, quantized_model

                entry = quantized_model(
                    path, "feature-extraction", cache_dir=options.onnx_cache_dir
                )
                model = st.SentenceTransformer(
                    str(entry),
                    device="cpu",
                    backend="onnx",
                    model_kwargs={"file_name": QUANTIZED_FILE, "provider": "CPUExecutionProvider"},
                    trust_remote_code=options.trust_remote_code,
                )
            else:
                model = st.SentenceTransformer(
                    path, device=options.device, trust_remote_code=options.trust_remote_code
                )
        except MSearchError:
            raise
        except OSError as err:
            raise model_not_found(self.spec.name, err) from err
        if self.spec.max_tokens:
            model.max_seq_length = self.spec.max_tokens
        modules = require("sentence_transformers.models", "st")
        if self.spec.pooling is not None:
            _set_pooling(modules, model, self.spec.pooling, self.spec.name)
        if not self.normalize:  # the model's own Normalize layer would undo normalize=False
            for key, module in list(model._modules.items()):
                if isinstance(module, modules.Normalize):
                    del model._modules[key]
        # msearch puts the prompt before each text itself (see prompts()); sentence-transformers
        # must not add its default prompt on top of it
        self._loaded_prompts = choose_prompts(dict(model.prompts or {}), model.default_prompt_name)
        model.default_prompt_name = None
        self.plan = onnx_plan or resolve_precision(self.precision, str(model.device))
        if self.plan.dtype != "float32":
            model.to(torch_dtype(self.plan.dtype))
        return model

    def _model_prompts(self) -> tuple[str, str]:
        self.loaded  # noqa: B018  # loading reads the model's prompts (a hub model's too)
        return self._loaded_prompts

    def _model_dim(self) -> int:
        model = self.loaded
        size = getattr(model, "get_embedding_dimension", None)  # sentence-transformers 6
        return int(size() if size else model.get_sentence_embedding_dimension())

    def _encode(self, texts: list[str]) -> np.ndarray:
        model = self.loaded
        out = np.empty((len(texts), self._model_dim()), dtype=np.float32)
        batches = sorted_batches(texts, self.batch_size)
        for positions in with_progress(batches, self.show_progress, "embedding"):
            try:
                vectors = model.encode(
                    [texts[i] for i in positions],
                    batch_size=len(positions),
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            except Exception as err:  # torch/tokenizer failures become one typed error
                raise BackendError(
                    f"sentence-transformers failed on {self.spec.name}: {err}"
                ) from err
            out[positions] = vectors.astype(np.float32)
        return out


class STCrossEncoderReranker(BlockingModel, RerankerBase):
    """Reranking with a sentence-transformers ``CrossEncoder`` (one relevance logit per pair).

    Pairs are batched by document length. Inputs longer than the model's limit (the smallest of
    ``max_tokens`` from the registry or options, the tokenizer's and the position table's) are
    truncated, longest part first, as the model was trained. ``precision`` works as on
    ``STTextEmbedder`` (``"int8-onnx"`` swaps the torch classifier for its quantized ONNX export).

    >>> from msearch.rerank import reranker
    >>> ranker = reranker("cross-encoder/ms-marco-MiniLM-L-6-v2", "sentence-transformers")
    >>> ranker.rerank("Where do cats purr?", ["Cats purr on sofas.", "Paris is in France."])
    ... # doctest: +SKIP
    [RerankResult(index=0, score=0.98...), RerankResult(index=1, score=0.0001...)]
    """

    Options: ClassVar[type[STRerankOptions]] = STRerankOptions
    options: STRerankOptions
    #: What ``precision`` chose, and why; set when the model loads.
    plan: PrecisionPlan | None = None

    def __init__(self, spec: ModelSpec, options: STRerankOptions | None = None) -> None:
        super().__init__(spec, options)
        self.precision = self.options.chosen_precision

    def _load(self) -> Any:
        st = require("sentence_transformers", "st")
        path = locate_model(self.spec.name)
        onnx_plan = _onnx_plan(self.precision, self.options.device)
        try:
            model = st.CrossEncoder(
                path,
                device=self.options.device,
                trust_remote_code=self.options.trust_remote_code,
                max_length=self.spec.max_tokens,
            )
        except MSearchError:
            raise
        except OSError as err:
            raise model_not_found(self.spec.name, err) from err
        if model.config.num_labels != 1:
            raise BackendError(
                f"{self.spec.name} has {model.config.num_labels} output labels; a cross-encoder "
                "reranker needs exactly one relevance logit"
            )
        limit = input_limit(model.tokenizer, model.config, self.spec.max_tokens)
        # sentence-transformers 6 renamed the attribute (the old name still works, deprecated)
        if isinstance(getattr(type(model), "max_seq_length", None), property):
            model.max_seq_length = limit
        else:
            model.max_length = limit
        self.plan = onnx_plan or resolve_precision(self.precision, str(model.model.device))
        if self.plan.onnx_int8:
            from msearch.backends.onnx_int8 import load_ort_classifier, quantized_model

            entry = quantized_model(
                path, "text-classification", cache_dir=self.options.onnx_cache_dir
            )
            model.model = load_ort_classifier(entry)
        elif self.plan.dtype != "float32":
            model.model.to(torch_dtype(self.plan.dtype))
        return model

    def _score(self, query: str, documents: list[str]) -> np.ndarray:
        import torch

        model = self.loaded
        # raw logits: the base applies the one sigmoid (sentence-transformers 6 renamed the
        # option, and warns on every call that uses the old name)
        accepted = inspect.signature(model.predict).parameters
        option = "activation_fn" if "activation_fn" in accepted else "activation_fct"
        raw = {option: torch.nn.Identity()}
        out = np.empty(len(documents), dtype=np.float64)
        for positions in self._length_batches(documents):
            try:
                logits = model.predict(
                    [(query, documents[i]) for i in positions],
                    batch_size=len(positions),
                    show_progress_bar=False,
                    **raw,
                    convert_to_numpy=True,
                )
            except Exception as err:  # torch/tokenizer failures become one typed error
                raise BackendError(
                    f"sentence-transformers failed reranking with {self.spec.name}: {err}"
                ) from err
            out[positions] = np.asarray(logits, dtype=np.float64).reshape(-1)
        return out


class STSparseEmbedder(BlockingModel, SparseEmbedderBase):
    """Sparse embeddings from any model sentence-transformers' ``SparseEncoder`` loads: SPLADE,
    inference-free SPLADE (a cheap query side), and others (sentence-transformers >= 5).

    Documents go through ``encode_document`` and queries through ``encode_query``, so the
    model's own prompts and its query/document routes apply as its authors set them. Options:
    ``batch_size``, ``device``, ``trust_remote_code``; the float32 precision only.

    >>> from msearch.sparse import sparse_embedder
    >>> splade = sparse_embedder("naver/splade-v3", backend="sentence-transformers")  # +SKIP
    """

    Options: ClassVar[type[STSparseOptions]] = STSparseOptions
    options: STSparseOptions

    def __init__(self, spec: ModelSpec, options: STSparseOptions | None = None) -> None:
        super().__init__(spec, options)
        precision = self.options.chosen_precision
        if precision != "float32":
            raise InvalidInputError(
                f"sentence-transformers sparse models run in float32 only, not {precision!r}"
            )

    def _load(self) -> Any:
        st = require("sentence_transformers", "st")
        if not hasattr(st, "SparseEncoder"):
            raise MissingDependencyError(
                f"sparse models need sentence-transformers >= 5 (SparseEncoder); this is "
                f"{st.__version__}: use today's stack (docs/stacks.md)"
            )
        path = locate_model(self.spec.name)
        try:
            model = st.SparseEncoder(
                path, device=self.options.device, trust_remote_code=self.options.trust_remote_code
            )
        except MSearchError:
            raise
        except OSError as err:
            raise model_not_found(self.spec.name, err) from err
        if self.spec.max_tokens:
            model.max_seq_length = self.spec.max_tokens
        return model

    def _encode_sparse(self, texts: list[str]) -> list[SparseVector]:
        return self._run(texts, self.loaded.encode_document)

    def _encode_sparse_queries(self, texts: list[str]) -> list[SparseVector]:
        return self._run(texts, self.loaded.encode_query)

    def _run(self, texts: list[str], encode: Any) -> list[SparseVector]:
        out: list[SparseVector | None] = [None] * len(texts)
        batches = sorted_batches(texts, self.batch_size)
        for positions in with_progress(batches, self.show_progress, "sparse embedding"):
            try:
                weights = encode(
                    [texts[i] for i in positions],
                    batch_size=len(positions),
                    convert_to_tensor=True,
                    convert_to_sparse_tensor=False,
                    show_progress_bar=False,
                )
            except Exception as err:  # torch/tokenizer failures become one typed error
                raise BackendError(
                    f"sentence-transformers failed on {self.spec.name}: {err}"
                ) from err
            for position, row in zip(positions, weights.float().cpu().numpy(), strict=True):
                ids = np.flatnonzero(row > 0)
                out[position] = sparse_from_weights(ids.tolist(), row[ids].tolist())
        return out  # type: ignore[return-value]


_POOLING_MODES = {Pooling.MEAN: "mean", Pooling.CLS: "cls", Pooling.LAST_TOKEN: "lasttoken"}


def _set_pooling(modules: Any, model: Any, pooling: Pooling, name: str) -> None:
    """Make the model pool as ``pooling`` (the spec's: the caller's or the registry's)."""
    for key, module in model._modules.items():
        if isinstance(module, modules.Pooling):
            wanted = _POOLING_MODES[pooling]
            # sentence-transformers 6 keeps the mode and size as attributes; 3 behind methods
            mode = getattr(module, "pooling_mode", None) or module.get_pooling_mode_str()
            if mode != wanted:
                size = getattr(module, "embedding_dimension", None)
                model._modules[key] = modules.Pooling(
                    size or module.word_embedding_dimension, pooling_mode=wanted
                ).to(model.device)
            return
    raise InvalidInputError(
        f"{name} has no sentence-transformers Pooling module, so pooling={pooling.value!r} "
        "cannot apply; leave pooling unset to use the model as it is"
    )


def _onnx_plan(precision: str, device: str | None) -> PrecisionPlan | None:
    """The plan for ``int8-onnx``, decided before loading since it loads another file."""
    if precision != "int8-onnx":
        return None
    return resolve_precision(precision, device or "cpu")
