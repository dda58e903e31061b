"""One background event loop that lets synchronous callers use coroutine-based backends.

Backends whose work is a coroutine (the infinity engine, HTTP clients) are written once, async;
sync callers reach them through this loop instead of a second, blocking copy of the code.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def background_loop() -> asyncio.AbstractEventLoop:
    """The process-wide loop, started on first use in a daemon thread."""
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(
                target=loop.run_forever, name="msearch-event-loop", daemon=True
            )
            thread.start()
            _loop = loop
        return _loop


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on the background loop and wait for its result in this thread."""
    loop = background_loop()
    if _running_loop() is loop:
        coro.close()
        raise RuntimeError("msearch's sync API was called from its own event loop thread")
    return asyncio.run_coroutine_threadsafe(coro, loop).result()


async def run_on_background_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Await ``coro`` on the background loop from any other event loop.

    Objects bound to the background loop (the infinity engine's queues, a shared HTTP client)
    must only be touched from it; this lets any caller's loop await them without blocking.
    """
    loop = background_loop()
    if _running_loop() is loop:
        return await coro
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
