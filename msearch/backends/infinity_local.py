"""The ``"infinity"`` backend: infinity-emb's engine in this process.

The engine lives on msearch's background event loop, started once on first use; sync callers
reach it through that loop, async callers await it from theirs. Every call carries a timeout:
a model that fails inside infinity's worker thread can leave its caller waiting forever.
"""

from __future__ import annotations

import asyncio
import os
import threading
import weakref
from collections.abc import Awaitable
from typing import Any, TypeVar

import numpy as np

from msearch._concurrency import background_loop
from msearch._deps import require
from msearch.backends._loading import locate_model, model_not_found
from msearch.backends.base import CoroutineModel, TextEmbedderBase
from msearch.batching import with_progress
from msearch.errors import BackendError, BackendTimeoutError, MSearchError
from msearch.models import ModelSpec

T = TypeVar("T")

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

    async def started(self) -> Any:
        """The running engine; the first call loads the model."""
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self._engine is None:
                self._engine = await self._start()
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
        """Await one engine call under the timeout, turning failures into msearch errors."""
        try:
            return await asyncio.wait_for(call, self.timeout)
        except TimeoutError as err:
            raise BackendTimeoutError(
                f"infinity did not finish {what} on {self.model!r} within {self.timeout:g} s"
            ) from err
        except MSearchError:
            raise
        except Exception as err:
            raise BackendError(f"infinity failed during {what} on {self.model!r}: {err}") from err

    async def stop(self) -> None:
        if self._engine is not None:
            engine, self._engine = self._engine, None
            _running_engines.discard(self)
            await engine.astop()


class InfinityTextEmbedder(CoroutineModel, TextEmbedderBase):
    """Text embeddings from infinity's in-process engine.

    >>> from msearch.embeddings import text_embedder
    >>> embedder = text_embedder("sentence-transformers/all-MiniLM-L6-v2", "infinity")
    >>> embedder.embed_documents(["a cat", "a dog"]).shape  # doctest: +SKIP
    (2, 384)
    """

    def __init__(
        self,
        spec: ModelSpec,
        *,
        device: str = "cpu",
        dtype: str = "float32",
        timeout: float = 120.0,
        trust_remote_code: bool = False,
        engine: str = "torch",
        engine_args: dict[str, Any] | None = None,
        **options: Any,
    ) -> None:
        TextEmbedderBase.__init__(self, spec, **options)
        self.engine = InfinityEngine(
            spec.name,
            device=device,
            dtype=dtype,
            batch_size=self.batch_size,
            timeout=timeout,
            trust_remote_code=trust_remote_code,
            engine=engine,
            **(engine_args or {}),
        )

    async def _encode(self, texts: list[str]) -> np.ndarray:
        engine = await self.engine.started()
        # Infinity batches and sorts inside its engine; msearch sends chunks of several
        # batches so long calls can show progress and each chunk has its own timeout.
        chunk = self.batch_size * 8
        parts = []
        for start in with_progress(
            list(range(0, len(texts), chunk)), self.show_progress, "embedding"
        ):
            vectors, _usage = await self.engine.run(
                engine.embed(sentences=texts[start : start + chunk]), "embed"
            )
            parts.append(np.asarray(vectors, dtype=np.float32))
        return np.concatenate(parts)

    def _model_dim(self) -> int:
        return int(self._sync(self._encode, ["dimension probe"]).shape[1])
