"""Length-sorted batching with the caller's order restored, and progress bars for long calls."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")

#: A call that needs more batches than this shows a progress bar (unless turned off).
PROGRESS_MIN_BATCHES = 4


def sorted_batches(
    items: Sequence[T], batch_size: int, key: Callable[[T], int] | None = None
) -> list[list[int]]:
    """Index batches over ``items``, longest first, so each batch pads to similar lengths.

    Returns lists of positions in ``items``; callers write results back by position, which
    restores the original order.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    size = key or (lambda item: len(item))  # type: ignore[arg-type]
    order = sorted(range(len(items)), key=lambda i: -size(items[i]))
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def with_progress(
    batches: list[T], show: bool | None, desc: str, unit_total: int | None = None
) -> Iterator[T]:
    """Iterate ``batches``, with a tqdm bar when ``show`` is True, or None and the call is long."""
    if show is False or (show is None and len(batches) < PROGRESS_MIN_BATCHES):
        yield from batches
        return
    from tqdm.auto import tqdm

    with tqdm(total=unit_total or len(batches), desc=desc, leave=False) as bar:
        for batch in batches:
            yield batch
            bar.update(len(batch) if unit_total else 1)  # type: ignore[arg-type]

