"""The ``"infinity"`` backend: infinity-emb's engine in this process.

The engine lives on msearch's background event loop, started once on first use; sync callers
reach it through that loop, async callers await it from theirs. Every call carries a timeout:
a model that fails inside infinity's worker thread can leave its caller waiting forever.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import numpy as np

from msearch import media
from msearch._concurrency import background_loop
from msearch._deps import require
from msearch.backends._loading import locate_model, model_not_found
from msearch.backends.base import (
    CoroutineModel,
    EmbedOptions,
    RerankerBase,
    RerankOptions,
    TextEmbedderBase,
)
from msearch.backends.media_base import (
    AudioEmbedderBase,
    AudioOptions,
    ImageEmbedderBase,
    ImageOptions,
)
from msearch.backends.transformers import SiglipTextChoice, encode_on_tower, local_text_tower
from msearch.batching import with_progress
from msearch.errors import BackendError, BackendTimeoutError, InvalidInputError, MSearchError
from msearch.models import Kind, Modality, ModelSpec, Pooling

T = TypeVar("T")
logger = logging.getLogger(__name__)

_running_engines: weakref.WeakSet[InfinityEngine] = weakref.WeakSet()
_exit_hook_lock = threading.Lock()
_exit_hook_registered = False


def _stop_running_engines() -> None:
    """Stop every started engine so that interpreter exit does not wait on its workers.

    infinity's worker threads belong to a ThreadPoolExecutor and loop until their engine
    stops; Python joins such threads at exit, before ``atexit`` handlers run, so this hook is
    registered with ``threading`` itself and runs first.
    """
    loop = background_loop()
    for engine in list(_running_engines):
        future = asyncio.run_coroutine_threadsafe(engine.stop(), loop)
        try:
            future.result(timeout=10)
        except Exception:  # exiting anyway: a failed stop must not block the others
            future.cancel()


def _register_exit_hook() -> None:
    global _exit_hook_registered
    with _exit_hook_lock:
        if not _exit_hook_registered:
            threading._register_atexit(_stop_running_engines)  # type: ignore[attr-defined]
            _exit_hook_registered = True


class InfinityEngine:
    """One infinity ``AsyncEmbeddingEngine``, started lazily on the background loop.

    ``engine`` picks infinity's inference engine ("torch" by default; "optimum" is its ONNX
    path, which needs care: see docs/backends.md). Options not named here go to infinity's
    ``EngineArgs`` unchanged (``pooling_method``, ``bettertransformer`` ...).
    """

    def __init__(
        self,
        model: str,
        *,
        device: str = "cpu",
        dtype: str = "float32",
        batch_size: int = 32,
        timeout: float = 120.0,
        trust_remote_code: bool = False,
        engine: str = "torch",
        **engine_args: Any,
    ) -> None:
        self.model = model
        self.timeout = timeout
        self._args = dict(
            device=device,
            dtype=dtype,
            batch_size=batch_size,
            trust_remote_code=trust_remote_code,
            engine=engine,
            model_warmup=False,
            bettertransformer=False,
            **engine_args,
        )
        self._engine: Any = None
        self._starting: asyncio.Lock | None = None
        self._failed = asyncio.Event()
        self._failure: BaseException | None = None

    async def started(self) -> Any:
        """The running engine; the first call loads the model."""
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self._engine is None:
                self._failed = asyncio.Event()
                self._failure = None
                self._engine = await self._start()
                self._guard_workers(self._engine)
        return self._engine

    async def _start(self) -> Any:
        # infinity-emb reports usage statistics unless told not to; msearch never phones home
        # unless the user set the variable themselves.
        os.environ.setdefault("INFINITY_ANONYMOUS_USAGE_STATS", "0")
        infinity_emb = require("infinity_emb", "infinity")
        path = locate_model(self.model)
        try:
            engine = infinity_emb.AsyncEmbeddingEngine.from_args(
                infinity_emb.EngineArgs(model_name_or_path=path, **self._args)
            )
            await asyncio.wait_for(engine.astart(), self.timeout)
        except MSearchError:
            raise
        except TimeoutError as err:
            raise BackendTimeoutError(
                f"infinity did not load {self.model!r} within {self.timeout:g} s"
            ) from err
        except OSError as err:
            raise model_not_found(self.model, err) from err
        except Exception as err:  # infinity wraps loading failures in many types
            raise BackendError(f"infinity could not load {self.model!r}: {err}") from err
        _running_engines.add(self)
        _register_exit_hook()
        return engine

    async def run(self, call: Awaitable[T], what: str) -> T:
        """Await one engine call under the timeout, turning failures into msearch errors.

        A model that raises inside infinity's worker threads kills that worker and leaves the
        call waiting forever; the guard installed at start signals it, so the call fails at
        once and the engine is restarted for the next call. A timeout restarts it too.
        """
        engine, failed = self._engine, self._failed
        task = asyncio.ensure_future(call)
        watcher = asyncio.ensure_future(failed.wait())
        try:
            done, _ = await asyncio.wait(
                {task, watcher}, timeout=self.timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            watcher.cancel()
        if task in done:
            try:
                return task.result()
            except MSearchError:
                raise
            except Exception as err:
                raise BackendError(
                    f"infinity failed during {what} on {self.model!r}: {err}"
                ) from err
        task.cancel()
        await self._discard(engine)
        if watcher in done:
            raise BackendError(
                f"infinity's model {self.model!r} failed during {what}: {self._failure!r}; "
                "the engine was restarted for the next call"
            )
        raise BackendTimeoutError(
            f"infinity did not finish {what} on {self.model!r} within {self.timeout:g} s; "
            "the engine was restarted for the next call"
        )

    def _guard_workers(self, engine: Any) -> None:
        """Wrap the model's batch steps so a failure in a worker thread reaches the loop."""
        loop = asyncio.get_running_loop()
        failed = self._failed

        def guarded(step: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(step)
            def run_step(*args: Any, **kwargs: Any) -> Any:
                try:
                    return step(*args, **kwargs)
                except Exception as err:
                    self._failure = err
                    loop.call_soon_threadsafe(failed.set)
                    raise

            return run_step

        # ``_model_replicas`` is private to infinity 0.0.78; without it, failures are still
        # caught by the timeout, only later.
        for replica in getattr(engine, "_model_replicas", ()):
            for name in ("encode_pre", "encode_core", "encode_post"):
                setattr(replica, name, guarded(getattr(replica, name)))

    async def _discard(self, engine: Any) -> None:
        """Stop a failed engine so that the next call starts a fresh one."""
        if engine is None or self._engine is not engine:
            return
        self._engine = None
        _running_engines.discard(self)
        try:
            await asyncio.wait_for(engine.astop(), 10)
        except Exception as err:  # the engine is already broken; a new one replaces it
            logger.warning("stopping a failed infinity engine for %r: %r", self.model, err)

    async def stop(self) -> None:
        if self._engine is not None:
            engine, self._engine = self._engine, None
            _running_engines.discard(self)
            await engine.astop()


@dataclass(frozen=True, kw_only=True)
class InfinityLoading:
    """How the engine runs a model: ``device``, ``dtype`` (infinity's), ``timeout`` per call,
    ``engine`` (infinity's inference engine) and ``engine_args`` for its ``EngineArgs``."""

    device: str = "cpu"
    dtype: str = "float32"
    timeout: float = 120.0
    trust_remote_code: bool = False
    engine: str = "torch"
    engine_args: Mapping[str, Any] | None = None


@dataclass(frozen=True, kw_only=True)
class InfinityTextOptions(EmbedOptions, InfinityLoading):
    """The options of ``InfinityTextEmbedder``."""


@dataclass(frozen=True, kw_only=True)
class InfinityRerankOptions(RerankOptions, InfinityLoading):
    """The options of ``InfinityReranker``."""


@dataclass(frozen=True, kw_only=True)
class InfinityImageOptions(ImageOptions, InfinityLoading, SiglipTextChoice):
    """The options of ``InfinityImageEmbedder``."""


@dataclass(frozen=True, kw_only=True)
class InfinityAudioOptions(AudioOptions, InfinityLoading):
    """The options of ``InfinityAudioEmbedder``."""


def infinity_engine(spec: ModelSpec, options: InfinityLoading, batch_size: int) -> InfinityEngine:
    """The (not yet started) engine for ``spec`` with ``options``."""
    if options.dtype not in _DTYPES:  # infinity would only fail when the engine starts
        raise InvalidInputError(f"dtype must be one of {', '.join(_DTYPES)}; got {options.dtype!r}")
    engine_args = _with_pooling(spec, dict(options.engine_args or {}))
    return InfinityEngine(
        spec.name,
        device=options.device,
        dtype=options.dtype,
        batch_size=batch_size,
        timeout=options.timeout,
        trust_remote_code=options.trust_remote_code,
        engine=options.engine,
        **engine_args,
    )


def _chunk_starts(
    count: int, batch_size: int, show_progress: bool | None, desc: str
) -> Iterable[int]:
    # infinity sorts and batches inside its engine; msearch sends chunks of several
    # batches so long calls can show progress and each chunk has its own timeout.
    return with_progress(list(range(0, count, batch_size * 8)), show_progress, desc)


async def _vectors(
    model: TextEmbedderBase,
    engine: InfinityEngine,
    method: str,
    keyword: str,
    items: list[Any],
    desc: str,
) -> np.ndarray:
    """``engine.<method>(<keyword>=chunk)`` over chunks of a few of ``model``'s batches each."""
    started = await engine.started()
    chunk = model.batch_size * 8
    parts = []
    for start in _chunk_starts(len(items), model.batch_size, model.show_progress, desc):
        call = getattr(started, method)(**{keyword: items[start : start + chunk]})
        vectors, _usage = await engine.run(call, method)
        parts.append(np.asarray(vectors, dtype=np.float32))
    return np.concatenate(parts)


#: infinity-emb's own ``Dtype`` values.
_DTYPES = ("float32", "float16", "bfloat16", "int8", "fp8", "auto")
_POOLING_METHODS = {Pooling.MEAN: "mean", Pooling.CLS: "cls"}


def _with_pooling(spec: ModelSpec, engine_args: dict[str, Any]) -> dict[str, Any]:
    """``engine_args`` with infinity's ``pooling_method`` for the spec's pooling, if it has one."""
    text_embedding = spec.kind is Kind.EMBEDDING and spec.modality is Modality.TEXT
    if spec.pooling is None or not text_embedding:
        return engine_args
    method = _POOLING_METHODS.get(spec.pooling)
    if method is None:
        raise InvalidInputError(f"infinity cannot pool by {spec.pooling.value} ({spec.name})")
    given = engine_args.setdefault("pooling_method", method)
    if given != method:
        raise InvalidInputError(
            f"pooling={spec.pooling.value!r} and engine_args pooling_method={given!r} disagree"
        )
    return engine_args


class InfinityTextEmbedder(CoroutineModel, TextEmbedderBase):
    """Text embeddings from infinity's in-process engine.

    >>> from msearch.embeddings import text_embedder
    >>> embedder = text_embedder("sentence-transformers/all-MiniLM-L6-v2", "infinity")
    >>> embedder.embed_documents(["a cat", "a dog"]).shape  # doctest: +SKIP
    (2, 384)
    """

    Options: ClassVar[type[InfinityTextOptions]] = InfinityTextOptions
    options: InfinityTextOptions

    def __init__(self, spec: ModelSpec, options: InfinityTextOptions | None = None) -> None:
        super().__init__(spec, options)
        self.engine = infinity_engine(spec, self.options, self.batch_size)

    async def _encode(self, texts: list[str]) -> np.ndarray:
        return await _vectors(self, self.engine, "embed", "sentences", texts, "embedding")


class InfinityReranker(CoroutineModel, RerankerBase):
    """Reranking with a cross-encoder on infinity's in-process engine.

    infinity serves a model as a reranker when its config is a sequence classifier with one
    label. It returns raw logits here; msearch applies the sigmoid, as on every backend.

    >>> from msearch.rerank import reranker
    >>> ranker = reranker("cross-encoder/ms-marco-MiniLM-L-6-v2", "infinity")
    >>> ranker.rerank("Where do cats purr?", ["Cats purr on sofas.", "Paris is in France."])
    ... # doctest: +SKIP
    [RerankResult(index=0, score=0.98...), RerankResult(index=1, score=0.0001...)]
    """

    Options: ClassVar[type[InfinityRerankOptions]] = InfinityRerankOptions
    options: InfinityRerankOptions

    def __init__(self, spec: ModelSpec, options: InfinityRerankOptions | None = None) -> None:
        super().__init__(spec, options)
        self.engine = infinity_engine(spec, self.options, self.batch_size)

    async def _score(self, query: str, documents: list[str]) -> np.ndarray:
        engine = await self.engine.started()
        chunk = self.batch_size * 8
        out = np.empty(len(documents), dtype=np.float64)
        starts = _chunk_starts(len(documents), self.batch_size, self.show_progress, "reranking")
        for start in starts:
            results, _usage = await self.engine.run(
                engine.rerank(query=query, docs=documents[start : start + chunk], raw_scores=True),
                "rerank",
            )
            for result in results:
                out[start + result.index] = result.relevance_score
        return out


class InfinityImageEmbedder(CoroutineModel, ImageEmbedderBase):
    """CLIP or SigLIP images and texts on infinity's in-process engine.

    Images reach infinity as RGB PIL images loaded by ``msearch.media``. SigLIP text runs on
    transformers locally by default (``text_backend``; see
    ``msearch.backends.transformers.local_text_tower``), since infinity pads it differently
    from how SigLIP was trained.

    >>> from msearch.multimodal import image_embedder
    >>> embedder = image_embedder("openai/clip-vit-base-patch32", "infinity")
    >>> embedder.embed_images(["cat.jpg"]).shape  # doctest: +SKIP
    (1, 512)
    """

    Options: ClassVar[type[InfinityImageOptions]] = InfinityImageOptions
    options: InfinityImageOptions

    def __init__(self, spec: ModelSpec, options: InfinityImageOptions | None = None) -> None:
        super().__init__(spec, options)
        self.engine = infinity_engine(spec, self.options, self.batch_size)
        self.text_tower = local_text_tower(spec, self.options, self.batch_size)

    async def _encode(self, texts: list[str]) -> np.ndarray:
        return await encode_on_tower(self.text_tower, texts, self._encode_on_infinity)

    async def _encode_on_infinity(self, texts: list[str]) -> np.ndarray:
        return await _vectors(self, self.engine, "embed", "sentences", texts, "embedding text")

    async def _encode_images(self, images: list[Any]) -> np.ndarray:
        return await _vectors(
            self, self.engine, "image_embed", "images", images, "embedding images"
        )


class InfinityAudioEmbedder(CoroutineModel, AudioEmbedderBase):
    """CLAP audio and texts on infinity's in-process engine.

    infinity takes audio only at the model's rate and zero-pads short clips, where CLAP
    repeat-pads; msearch resamples and repeat-pads each window itself and sends it as a
    lossless float WAV, so the vectors equal the transformers backend's.

    >>> from msearch.multimodal import audio_embedder
    >>> embedder = audio_embedder("laion/clap-htsat-unfused", "infinity")
    >>> embedder.embed_audio(["bark.wav"]).shape  # doctest: +SKIP
    (1, 512)
    """

    Options: ClassVar[type[InfinityAudioOptions]] = InfinityAudioOptions
    options: InfinityAudioOptions

    def __init__(self, spec: ModelSpec, options: InfinityAudioOptions | None = None) -> None:
        super().__init__(spec, options)
        self.engine = infinity_engine(spec, self.options, self.batch_size)

    async def _encode(self, texts: list[str]) -> np.ndarray:
        return await _vectors(self, self.engine, "embed", "sentences", texts, "embedding text")

    async def _encode_audio(self, clips: list[np.ndarray]) -> np.ndarray:
        size = self.window_samples
        wavs = [media.encode_wav(media.repeat_pad(clip, size), self.sample_rate) for clip in clips]
        return await _vectors(self, self.engine, "audio_embed", "audios", wavs, "embedding audio")
