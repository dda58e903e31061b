"""Bounded (CI) or soak mode, and the helpers every reliability test shares."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings

T = TypeVar("T")

_state = {"soak": os.environ.get("MSEARCH_SOAK", "") not in ("", "0")}


def enable_soak() -> None:
    _state["soak"] = True


def soak() -> bool:
    """Whether this run is a soak run (``MSEARCH_SOAK=1`` or ``-m soak``)."""
    return _state["soak"]


def cases(bounded: int, soaked: int) -> int:
    """How many cases to try: ``bounded`` in CI, ``soaked`` in soak mode."""
    return soaked if soak() else bounded


def examples(bounded: int = 25, soaked: int = 400) -> settings:
    """Hypothesis settings for a generated test: few examples in CI, many when soaking."""
    return settings(
        max_examples=cases(bounded, soaked),
        deadline=None,
        derandomize=not soak(),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


class Hung(AssertionError):
    """A call did not return within its time limit."""


def within(seconds: float, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``, failing the test if it runs longer than ``seconds``.

    The call runs in a daemon thread, so a hang fails the test instead of the whole run.
    Whatever it raises is raised here.
    """
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = fn(*args, **kwargs)
        except BaseException as err:  # handed to the caller unchanged
            outcome["error"] = err

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise Hung(f"{getattr(fn, '__name__', fn)} did not return within {seconds:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]
