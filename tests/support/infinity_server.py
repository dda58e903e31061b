"""A real Infinity server process on a free loopback port, for the tests that need one."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: The ``infinity_emb`` program to serve from: the nox ``tests`` session points it into the
#: legacy stack's venv (infinity-emb does not install beside today's stack).
EXECUTABLE_ENV = "MSEARCH_TEST_INFINITY_EMB"


def infinity_executable() -> str:
    """The ``infinity_emb`` program; the test is skipped when there is none, except inside a
    nox session (``MSEARCH_TEST_STACK`` set), where that is a failure."""
    import pytest

    named = os.environ.get(EXECUTABLE_ENV)
    beside = Path(sys.executable).parent / "infinity_emb"
    found = named or shutil.which("infinity_emb") or (str(beside) if beside.exists() else None)
    if found and Path(found).is_file():
        return found
    problem = f"no infinity_emb program ({EXECUTABLE_ENV}={named!r}, none on PATH)"
    if os.environ.get("MSEARCH_TEST_STACK"):
        pytest.fail(problem)
    pytest.skip(f"{problem}: the Infinity server runs from the legacy stack (nox -s tests)")


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        HF_HUB_OFFLINE="1",
        INFINITY_ANONYMOUS_USAGE_STATS="0",
        DO_NOT_TRACK="1",
        TOKENIZERS_PARALLELISM="false",
    )
    return env


@contextmanager
def infinity_server(
    model_paths: list[str], log_path: Path, startup_timeout: float = 240.0, port: int | None = None
) -> Iterator[str]:
    """Start ``infinity_emb v2`` serving ``model_paths``; yield its base URL; stop it after.

    The server's log is written to ``log_path`` and shown when it fails to start.
    """
    port = port or free_port()
    command = [infinity_executable(), "v2", "--host", "127.0.0.1", "--port", str(port)]
    for path in model_paths:
        command += [
            "--model-id",
            path,
            "--engine",
            "torch",
            "--device",
            "cpu",
            "--no-model-warmup",
            "--batch-size",
            "16",
            "--dtype",
            "float32",
        ]
    log = log_path.open("w")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=server_env())
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, process, log_path, startup_timeout)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def wait_until_healthy(
    url: str, process: subprocess.Popen[bytes], log_path: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"infinity server exited early:\n{log_path.read_text()[-4000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(
        f"infinity server not healthy after {timeout} s:\n{log_path.read_text()[-4000:]}"
    )


def served_name(model_path: str) -> str:
    """The name infinity serves a local folder under: its last two path parts."""
    return "/".join(Path(model_path).parts[-2:])
