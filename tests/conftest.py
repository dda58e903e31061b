"""Session-wide test set-up: offline hub, shipped and tiny models, a real Infinity server."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["INFINITY_ANONYMOUS_USAGE_STATS"] = "0"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.infinity_server import infinity_server
from tests.support.minilm import minilm_path


@pytest.fixture(scope="session")
def minilm() -> str:
    """Folder of the real all-MiniLM-L6-v2."""
    return minilm_path()


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the tiny models of this test run are built, once each."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def server_models(minilm: str) -> list[str]:
    """Model folders that the shared Infinity server serves (by folder path as model name)."""
    return [minilm]


@pytest.fixture(scope="session")
def infinity_url(
    server_models: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Base URL of a real Infinity server process started for this test run."""
    log = tmp_path_factory.mktemp("infinity") / "server.log"
    with infinity_server(server_models, log) as url:
        yield url
