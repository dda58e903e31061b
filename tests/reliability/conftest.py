"""The reliability suite: bounded by default (CI), longer by hand (soak mode).

``MSEARCH_SOAK=1 pytest tests/reliability`` (or ``pytest -m soak tests/reliability``) turns
on soak mode: the tests marked ``soak`` run, and every count in the suite (kill points,
generated inputs, concurrent calls) grows from its bounded value to its soak value.
Without it, ``soak`` tests are skipped, so a plain ``pytest`` never runs them.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.reliability._mode import enable_soak, soak


def pytest_configure(config: pytest.Config) -> None:
    expression = config.getoption("markexpr", "") or ""
    if "soak" in expression.replace("not soak", ""):
        enable_soak()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if soak():
        return
    skip = pytest.mark.skip(reason="soak mode only: MSEARCH_SOAK=1 pytest tests/reliability")
    for item in items:
        if "soak" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def infinity_minilm(minilm: str) -> Any:
    """MiniLM on an in-process infinity engine, shared by the text and load tests."""
    from msearch.embeddings import text_embedder

    return text_embedder(minilm, "infinity", timeout=120)


@pytest.fixture(scope="session")
def infinity_tiny_reranker(tiny_cross_encoder: str) -> Any:
    """The tiny cross-encoder on an in-process infinity engine."""
    from msearch.rerank import reranker

    return reranker(tiny_cross_encoder, "infinity", timeout=120)
