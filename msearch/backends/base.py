"""What every backend provides, and the machinery they share.

A backend class has two msearch bases: a capability base (``TextEmbedderBase``,
``RerankerBase``, ``SparseEmbedderBase``, ``DenseSparseEmbedderBase``, or the image and audio
bases in ``media_base``), which writes the public API once, and a runner, which turns one
implementation into both a sync and an async API:

- ``BlockingModel``: the backend's work is blocking (torch); async callers run it in a worker
  thread with ``asyncio.to_thread`` so their event loop is never blocked.
- ``CoroutineModel``: the backend's work is a coroutine (infinity's engine, HTTP); sync callers
  run it on msearch's background event loop.

Its options are one frozen dataclass, named by the class's ``Options``, built from the
capability's options here (``EmbedOptions``, ``RerankOptions``, ``BatchOptions``) and the
backend's own fields. ``msearch.backends.build_backend`` builds it from keyword arguments, so
an option no backend field takes is refused by name.
"""

from __future__ import annotations

import abc
import asyncio
import json
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np

from msearch._concurrency import run_on_background_loop, run_sync
from msearch.batching import sorted_batches, with_progress
from msearch.datatypes import RerankResult, SparseVector
from msearch.errors import InvalidInputError, InvalidTypeError
from msearch.models import ModelSpec

T = TypeVar("T")


def check_texts(texts: Sequence[str], what: str = "texts") -> list[str]:
    """A list copy of ``texts``; an InvalidTypeError names the first item that is not a string."""
    if isinstance(texts, str):
        raise InvalidTypeError(f"{what} must be a list of strings, not a single string")
    items = list(texts)
    for position, item in enumerate(items):
        check_text(item, f"{what}[{position}]")
    return items


def check_text(text: str, what: str = "text") -> str:
    if not isinstance(text, str):
        raise InvalidTypeError(f"{what} is {type(text).__name__}, expected str")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        # Tokenizers and servers take UTF-8; a lone surrogate has none and fails deep inside.
        raise InvalidInputError(
            f"{what} is not valid Unicode: a lone surrogate at position {err.start}"
        ) from err
    return text


class BlockingModel(abc.ABC):
    """Runner for backends whose inference blocks (torch): loaded once, on first use.

    One lock serializes calls into the model: torch models are fast per call but Hugging Face
    fast tokenizers are not safe to share across threads. Listed before the capability base,
    whose ``__init__`` it calls with the same spec and options.
    """

    def __init__(self, spec: ModelSpec, options: Any = None) -> None:
        super().__init__(spec, options)  # type: ignore[call-arg]
        self._lock = threading.RLock()
        self._loaded: Any = None

    @abc.abstractmethod
    def _load(self) -> Any:
        """Load and return the model (called once, under the lock)."""

    @property
    def loaded(self) -> Any:
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load()
            return self._loaded

    def _sync(self, fn: Callable[..., T], *args: Any) -> T:
        with self._lock:
            return fn(*args)

    async def _async(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(self._sync, fn, *args)


class CoroutineModel:
    """Runner for backends whose work is a coroutine bound to msearch's background loop."""

    def _sync(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        return run_sync(_as_coroutine(fn(*args)))

    async def _async(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        return await run_on_background_loop(_as_coroutine(fn(*args)))


async def _as_coroutine(awaitable: Awaitable[T]) -> T:
    return await awaitable


@dataclass(frozen=True, kw_only=True)
class BatchOptions:
    """What every model takes: how many inputs go through it at a time, and progress bars
    (``None``: shown on a terminal for long calls)."""

    batch_size: int = 32
    show_progress: bool | None = None


@dataclass(frozen=True, kw_only=True)
class EmbedOptions(BatchOptions):
    """What every embedder takes: L2 normalization, Matryoshka ``dimensions`` (the first
    ``dimensions`` values, normalized again) and the query ``task`` of instruction models."""

    normalize: bool = True
    dimensions: int | None = None
    task: str | None = None


@dataclass(frozen=True, kw_only=True)
class RerankOptions(BatchOptions):
    """What every reranker takes: ``raw_scores`` gives log-odds instead of 0..1."""

    batch_size: int = 16
    raw_scores: bool = False


class _ModelAPI(abc.ABC):
    """What the public embedding and reranking APIs share: the spec, the options, batching.

    ``Options`` is the backend's options dataclass; ``_sync``/``_async`` come from the runner
    listed before the capability base (``BlockingModel`` or ``CoroutineModel``).
    """

    Options: ClassVar[type[BatchOptions]] = BatchOptions

    def __init__(self, spec: ModelSpec, options: BatchOptions | None = None) -> None:
        options = options if options is not None else self.Options()
        if not isinstance(options, self.Options):
            raise TypeError(
                f"{type(self).__name__} takes {self.Options.__name__}, not {type(options).__name__}"
            )
        if options.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {options.batch_size}")
        self.spec = spec
        self.options = options
        self.batch_size = options.batch_size
        self.show_progress = options.show_progress

    @abc.abstractmethod
    def _sync(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` for a sync caller (the runner's)."""

    @abc.abstractmethod
    async def _async(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` for an async caller (the runner's)."""


class TextEmbedderBase(_ModelAPI):
    """The public text-embedding API, written once over a backend's ``_encode``.

    A backend lists ``BlockingModel`` (``_encode`` is a plain function) or ``CoroutineModel``
    (``_encode`` is a coroutine function) before it; ``_sync``/``_async`` adapt either to both
    APIs.
    Prompts, empty input, normalization and Matryoshka truncation live here, so every backend
    treats them the same way.

    Empty strings are embedded like any other text (the model sees only its special tokens),
    so a document list keeps one vector per document.
    """

    Options: ClassVar[type[EmbedOptions]] = EmbedOptions
    options: EmbedOptions

    def __init__(self, spec: ModelSpec, options: EmbedOptions | None = None) -> None:
        _ModelAPI.__init__(self, spec, options)
        dimensions = self.options.dimensions
        if dimensions is not None and dimensions < 1:
            raise InvalidInputError(f"dimensions must be >= 1, got {dimensions}")
        if dimensions is not None and spec.dim is not None and dimensions > spec.dim:
            raise InvalidInputError(
                f"dimensions={dimensions} is larger than {spec.name}'s {spec.dim}"
            )
        self.normalize = self.options.normalize
        self.dimensions = dimensions
        self.task = self.options.task if self.options.task is not None else spec.default_task
        self._dim: int | None = None
        self._own_prompts: tuple[str, str] | None = None

    # -- what backends implement -------------------------------------------------------
    @abc.abstractmethod
    def _encode(self, texts: list[str]) -> Any:
        """Vectors (n, model dim) for ``texts``, already prompted; sync or async per the base."""

    def _model_dim(self) -> int:
        """The model's output size when the spec does not say: here, the size of one probe
        text's vector; backends that can read it from the loaded model do so instead."""
        return int(np.asarray(self._sync(self._encode, ["dimension probe"])).shape[1])

    # -- public API ------------------------------------------------------------------
    @property
    def dim(self) -> int:
        """Output size; read from the model (loading it) when the spec does not say."""
        if self._dim is None:
            self._dim = self.spec.dim or self._model_dim()
            if self.dimensions is not None and self.dimensions > self._dim:
                raise InvalidInputError(
                    f"dimensions={self.dimensions} is larger than {self.spec.name}'s {self._dim}"
                )
        return self.dimensions or self._dim

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        inputs = self._document_inputs(texts)
        if not inputs:
            return self._empty()
        return self._finish(self._sync(self._encode, inputs))

    async def aembed_documents(self, texts: Sequence[str]) -> np.ndarray:
        inputs = self._document_inputs(texts)
        if not inputs:
            return self._empty()
        return self._finish(await self._async(self._encode, inputs))

    def embed_query(self, text: str, *, task: str | None = None) -> np.ndarray:
        return self._finish(self._sync(self._encode, [self._query_input(text, task)]))[0]

    async def aembed_query(self, text: str, *, task: str | None = None) -> np.ndarray:
        vectors = await self._async(self._encode, [self._query_input(text, task)])
        return self._finish(vectors)[0]

    # -- shared steps ----------------------------------------------------------------
    def _document_inputs(self, texts: Sequence[str]) -> list[str]:
        items = check_texts(texts)
        if not items:
            return []
        prompt = self.prompts()[1]
        return [prompt + text for text in items]

    def _query_input(self, text: str, task: str | None) -> str:
        check_text(text)
        prompt = self.prompts()[0]
        if "{task}" in prompt:
            prompt = prompt.replace("{task}", task if task is not None else self.task)
        return prompt + text

    def prompts(self) -> tuple[str, str]:
        """The (query, document) prompts put before each text, exactly once.

        The spec's when it sets either (the caller's options or the registry's), else the
        model's own (``config_sentence_transformers.json``: its ``query`` and ``document`` /
        ``passage`` prompts, or its ``default_prompt_name``), never both.
        """
        if self.spec.query_prompt or self.spec.document_prompt:
            return self.spec.query_prompt, self.spec.document_prompt
        if self._own_prompts is None:
            self._own_prompts = self._model_prompts()
        return self._own_prompts

    def _model_prompts(self) -> tuple[str, str]:
        """The model's own prompts, read from its local folder (none for a remote name)."""
        return folder_prompts(self.spec.name)

    def _empty(self) -> np.ndarray:
        return np.zeros((0, self.dim), dtype=np.float32)

    def _finish(self, vectors: Any) -> np.ndarray:
        out = np.asarray(vectors, dtype=np.float32)
        if out.ndim != 2:
            raise InvalidInputError(f"backend returned an array of shape {out.shape}")
        if self.dimensions is not None:
            if self.dimensions > out.shape[1]:
                raise InvalidInputError(
                    f"dimensions={self.dimensions} is larger than {self.spec.name}'s {out.shape[1]}"
                )
            out = out[:, : self.dimensions]
        if self.normalize or self.dimensions is not None:
            out = l2_normalize(out)
        return np.ascontiguousarray(out)


_DOCUMENT_PROMPT_NAMES = ("document", "passage", "corpus")


def folder_prompts(name: str) -> tuple[str, str]:
    """(query, document) prompts of the sentence-transformers model in folder ``name``."""
    config = Path(name).expanduser() / "config_sentence_transformers.json"
    if not config.is_file():
        return "", ""
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InvalidInputError(f"{config} is not readable JSON: {err}") from err
    return choose_prompts(data.get("prompts") or {}, data.get("default_prompt_name"))


def choose_prompts(prompts: Mapping[str, str], default_name: str | None) -> tuple[str, str]:
    """A model's query and document prompts: the named prompt, else the default one, else none.

    The document prompt is the first non-empty one of ``document``, ``passage``, ``corpus``:
    sentence-transformers 6 adds an empty ``document`` prompt to every model, which would
    otherwise hide the ``passage`` prompt that the model declares (e5 and others), and would
    make the same folder embed differently on the two stacks.
    """
    default = prompts.get(default_name, "") if default_name else ""
    query = prompts.get("query", default)
    document = next((prompts[n] for n in _DOCUMENT_PROMPT_NAMES if prompts.get(n)), default)
    return str(query or ""), str(document or "")


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


class RerankerBase(_ModelAPI):
    """The public reranking API, written once over a backend's ``_score``.

    ``_score(query, documents)`` returns one raw score per document as log-odds of relevance
    (a cross-encoder's logit; ``logit(yes) - logit(no)`` for LLM rerankers). The public API maps
    them to relevance in 0..1 with a sigmoid, the same scale on every backend, unless
    ``raw_scores=True``. Like ``TextEmbedderBase``, a backend lists ``BlockingModel`` or
    ``CoroutineModel`` before it.
    """

    Options: ClassVar[type[RerankOptions]] = RerankOptions
    options: RerankOptions

    def __init__(self, spec: ModelSpec, options: RerankOptions | None = None) -> None:
        _ModelAPI.__init__(self, spec, options)
        self.raw_scores = self.options.raw_scores

    @abc.abstractmethod
    def _score(self, query: str, documents: list[str]) -> Any:
        """Raw log-odds scores, one per document; sync or async per the execution base."""

    def rerank(
        self, query: str, documents: Sequence[str], top_n: int | None = None
    ) -> list[RerankResult]:
        return self._rerank(query, documents, top_n)

    async def arerank(
        self, query: str, documents: Sequence[str], top_n: int | None = None
    ) -> list[RerankResult]:
        return await self._arerank(query, documents, top_n)

    def _rerank(
        self, query: str, documents: Sequence[str], top_n: int | None, *score_args: Any
    ) -> list[RerankResult]:
        """``rerank``, passing ``score_args`` (a backend's per-call options) on to ``_score``."""
        query, docs = self._check(query, documents, top_n)
        if not docs:
            return []
        return self._rank(self._sync(self._score, query, docs, *score_args), top_n)

    async def _arerank(
        self, query: str, documents: Sequence[str], top_n: int | None, *score_args: Any
    ) -> list[RerankResult]:
        query, docs = self._check(query, documents, top_n)
        if not docs:
            return []
        return self._rank(await self._async(self._score, query, docs, *score_args), top_n)

    def _length_batches(self, documents: list[str]) -> Iterator[list[int]]:
        """Positions of ``documents`` in batches of similar length, longest first.

        For backends that batch query-document pairs themselves: the query is the same in every
        pair, so the documents' lengths decide the padding. Shows progress on long calls.
        """
        batches = sorted_batches(documents, self.batch_size)
        return with_progress(batches, self.show_progress, "reranking")

    @staticmethod
    def _check(query: str, documents: Sequence[str], top_n: int | None) -> tuple[str, list[str]]:
        check_text(query, "query")
        if not query.strip():
            raise InvalidInputError("the rerank query is empty")
        if top_n is not None and top_n < 1:
            raise InvalidInputError(f"top_n must be >= 1 or None, got {top_n}")
        return query, check_texts(documents, "documents")

    def _rank(self, raw: Any, top_n: int | None) -> list[RerankResult]:
        scores = np.asarray(raw, dtype=np.float64).reshape(-1)
        if not self.raw_scores:
            scores = 1.0 / (1.0 + np.exp(-scores))
        order = np.argsort(-scores, kind="stable")[:top_n]
        return [RerankResult(index=int(i), score=float(scores[i])) for i in order]


class SparseEmbedderBase(_ModelAPI):
    """The public sparse-embedding API, written once over a backend's ``_encode_sparse``.

    Like ``TextEmbedderBase``, a backend lists ``BlockingModel`` or ``CoroutineModel`` before
    it, whose ``_sync``/``_async`` give the sync and async methods from one implementation.
    Empty input gives an empty list; an empty string gives a (possibly empty) vector.
    """

    @abc.abstractmethod
    def _encode_sparse(self, texts: list[str]) -> list[SparseVector]:
        """One sparse vector per document; sync or async per the execution base."""

    def _encode_sparse_queries(self, texts: list[str]) -> list[SparseVector]:
        """One sparse vector per query: the documents' encoding unless the model has a
        query side of its own (inference-free SPLADE)."""
        return self._encode_sparse(texts)

    def embed_documents_sparse(self, texts: Sequence[str]) -> list[SparseVector]:
        items = check_texts(texts)
        if not items:
            return []
        return list(self._sync(self._encode_sparse, items))

    def embed_query_sparse(self, text: str) -> SparseVector:
        return self._sync(self._encode_sparse_queries, [check_text(text)])[0]  # type: ignore[no-any-return]

    async def aembed_documents_sparse(self, texts: Sequence[str]) -> list[SparseVector]:
        items = check_texts(texts)
        if not items:
            return []
        return list(await self._async(self._encode_sparse, items))

    async def aembed_query_sparse(self, text: str) -> SparseVector:
        query = [check_text(text)]
        return (await self._async(self._encode_sparse_queries, query))[0]  # type: ignore[no-any-return]


class DenseSparseEmbedderBase(TextEmbedderBase, SparseEmbedderBase):
    """Both public APIs, dense and sparse, for a model that computes both in one pass (BGE-M3).

    Its options are the embedder's (``EmbedOptions``); the sparse side reads their batching.
    """
