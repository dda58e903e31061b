"""Session-wide test set-up: offline hub, shipped and tiny models, a real Infinity server."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["INFINITY_ANONYMOUS_USAGE_STATS"] = "0"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import functools
import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.infinity_server import infinity_server
from tests.support.minilm import minilm_path
from tests.support.tiny_cross_encoder import build_tiny_cross_encoder
from tests.support.tiny_vision_audio import build_tiny_clap, build_tiny_clip, build_tiny_siglip


@functools.cache
def _importable(module: str) -> bool:
    """Whether ``module`` imports here (FlagEmbedding installs beside transformers 5, but fails
    to import)."""
    try:
        importlib.import_module(module)
    except Exception:
        return False
    return True


#: Markers of the tests that need a library of one stack: the stack's nox session runs them
#: whatever happens (a missing library fails them); elsewhere they are skipped without it.
STACK_MARKERS = {"legacy_stack": "legacy", "default_stack": "default"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the tests of one stack's libraries where those are not installed.

    A test needs a library when it, or one of its parameters (``tests.support.stacks``), is
    marked ``legacy_stack("module")`` (infinity-emb, FlagEmbedding, optimum-onnx) or
    ``default_stack("module")`` (sentence-transformers' SparseEncoder). In that stack's nox
    session (``MSEARCH_TEST_STACK``) nothing is skipped: a missing library there fails the test.
    """
    session = os.environ.get("MSEARCH_TEST_STACK")
    for item in items:
        missing = sorted(
            {
                mark.args[0]
                for marker, stack in STACK_MARKERS.items()
                if stack != session
                for mark in item.iter_markers(marker)
                if not _importable(mark.args[0])
            }
        )
        if missing:
            stack = "tests-legacy" if item.get_closest_marker("legacy_stack") else "tests"
            reason = f"needs {', '.join(missing)}, of another stack (nox -s {stack})"
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session", autouse=True)
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The onnx backend's exports go to this run's own cache, never the user's."""
    folder = tmp_path_factory.mktemp("onnx-exports")
    before = os.environ.get("MSEARCH_ONNX_CACHE")
    os.environ["MSEARCH_ONNX_CACHE"] = str(folder)
    yield folder
    if before is None:
        del os.environ["MSEARCH_ONNX_CACHE"]
    else:
        os.environ["MSEARCH_ONNX_CACHE"] = before


@pytest.fixture(scope="session")
def minilm() -> str:
    """Folder of the real all-MiniLM-L6-v2."""
    return minilm_path()


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the tiny models of this test run are built, once each."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def tiny_cross_encoder(model_cache: Path) -> str:
    """Folder of a tiny random BERT cross-encoder (one relevance logit), built once per run."""
    return build_tiny_cross_encoder(model_cache / "tiny-cross-encoder")


@pytest.fixture(scope="session")
def tiny_clip(model_cache: Path) -> str:
    """Folder of a tiny random CLIP (images 32 px, projection 16), built once per run."""
    return build_tiny_clip(model_cache)


@pytest.fixture(scope="session")
def tiny_siglip(model_cache: Path) -> str:
    """Folder of a tiny random SigLIP (text pooled at position 64), built once per run."""
    return build_tiny_siglip(model_cache)


@pytest.fixture(scope="session")
def tiny_clap(model_cache: Path) -> str:
    """Folder of a tiny random unfused CLAP (48 kHz, 10 s window), built once per run."""
    return build_tiny_clap(model_cache)


@pytest.fixture(scope="session")
def server_models(
    minilm: str, tiny_cross_encoder: str, tiny_clip: str, tiny_siglip: str, tiny_clap: str
) -> list[str]:
    """Model folders that the shared Infinity server serves (by folder path as model name)."""
    return [minilm, tiny_cross_encoder, tiny_clip, tiny_siglip, tiny_clap]


@pytest.fixture(scope="session")
def infinity_url(
    server_models: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Base URL of a real Infinity server process started for this test run."""
    log = tmp_path_factory.mktemp("infinity") / "server.log"
    with infinity_server(server_models, log) as url:
        yield url
