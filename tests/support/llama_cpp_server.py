"""llama.cpp's own server (``llama-server``) and converter, for the tests that need them.

Both come from one source release: the llama.cpp that the llama-cpp-python sdist (from PyPI,
pinned in constraints.txt) carries. The nox session ``llama-cpp`` builds ``llama-server``
from it, and the session ``tests`` points these variables at the build:

- ``MSEARCH_TEST_LLAMA_SERVER``: the ``llama-server`` program;
- ``MSEARCH_TEST_LLAMA_SOURCE``: the llama.cpp folder (``convert_hf_to_gguf.py``, ``gguf-py``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.infinity_server import free_port

SERVER_ENV = "MSEARCH_TEST_LLAMA_SERVER"
SOURCE_ENV = "MSEARCH_TEST_LLAMA_SOURCE"


def llama_cpp() -> tuple[Path, Path]:
    """(the ``llama-server`` program, the llama.cpp source folder); the test is skipped when
    they are not given, except inside the nox session that builds them."""
    server, source = os.environ.get(SERVER_ENV, ""), os.environ.get(SOURCE_ENV, "")
    if server and source and Path(server).is_file() and Path(source).is_dir():
        return Path(server), Path(source)
    problem = f"no llama.cpp build ({SERVER_ENV}={server!r}, {SOURCE_ENV}={source!r})"
    if os.environ.get("MSEARCH_TEST_STACK") == "default":
        pytest.fail(problem)
    pytest.skip(f"{problem}: the nox session `tests` runs these (`nox -s llama-cpp` builds it)")


#: Runs the converter with its pre-tokenizer named, for a BPE tokenizer trained by the tests:
#: the converter recognizes a tokenizer only by the hash of a known model's output.
_NAMED_PRE_TOKENIZER = """
import sys
source, pre, *arguments = sys.argv[1:]
sys.path.insert(0, source)
sys.argv = [source + "/convert_hf_to_gguf.py", *arguments]
import conversion.base
conversion.base.TextModel.get_vocab_base_pre = lambda self, tokenizer: pre
import convert_hf_to_gguf
convert_hf_to_gguf.main()
"""


def convert(
    source: Path, model: str, outtype: str, out: Path, pre_tokenizer: str | None = None
) -> Path:
    """``model``'s folder as a GGUF file, written by llama.cpp's own converter.

    ``pre_tokenizer`` names the BPE pre-tokenizer (``"gpt-2"``) of a tokenizer that the
    converter cannot recognize (one trained by the tests).
    """
    if out.exists():
        return out
    env = dict(os.environ, PYTHONPATH=str(source / "gguf-py"), HF_HUB_OFFLINE="1")
    if pre_tokenizer is None:
        command = [sys.executable, str(source / "convert_hf_to_gguf.py"), model]
    else:
        command = [sys.executable, "-c", _NAMED_PRE_TOKENIZER, str(source), pre_tokenizer, model]
    command += ["--outtype", outtype, "--outfile", str(out)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"convert_hf_to_gguf.py failed on {model}:\n{done.stderr[-3000:]}")
    return out


@contextmanager
def llama_server(program: Path, gguf: Path, log_path: Path, *flags: str) -> Iterator[str]:
    """Start ``llama-server`` on ``gguf`` with ``flags``; yield its ``/v1`` base URL."""
    port = free_port()
    command = [str(program), "-m", str(gguf), "--host", "127.0.0.1", "--port", str(port)]
    command += ["--threads", "2", "--ctx-size", "512", "--batch-size", "512", *flags]
    log = log_path.open("w")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"llama-server did not start:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        yield f"{url}/v1"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
