"""The checks and the test suite, in each of msearch's two dependency stacks.

- ``tests``: today's stack (sentence-transformers >= 6, transformers >= 5, numpy >= 2), pinned
  by ``constraints.txt``; what ``pip install "msearch[all]"`` gives.
- ``tests-legacy``: the stack that infinity-emb (in-process) and FlagEmbedding still need
  (sentence-transformers 3, transformers 4.57, numpy 1), pinned by ``constraints-legacy.txt``.

Each session installs its own venv under ``.nox/``, checks it with ``pip check``, runs ruff and
mypy (and, in ``tests``, ``lint-imports``: the layer contracts in pyproject.toml), then
pytest. ``tests`` needs ``tests-legacy`` first: its Infinity-server tests start the server
from the legacy venv, as a user runs one, and query it from today's stack. It also
needs ``llama-cpp``, which builds llama.cpp's ``llama-server`` (once; later runs reuse it) from
the llama-cpp-python sdist pinned in constraints.txt, for the tests of the ``openai`` backend
against it. ``nox`` runs all three; ``nox -s tests-legacy`` one; arguments after ``--`` go to
pytest.
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import nox

nox.options.sessions = ["tests-legacy", "llama-cpp", "tests"]
nox.options.error_on_missing_interpreters = True

LEGACY_VENV = ".nox/tests-legacy"
LLAMA_CPP = ".nox/llama-cpp-build"  # beside the session's venv, which nox recreates


def _check_and_test(
    session: nox.Session, constraints: str, extras: str, stack: str, *tools: str
) -> None:
    session.install("-c", constraints, "-e", f".[{extras}]", *tools)
    session.run("pip", "check")
    session.run("ruff", "check", ".")
    session.run("mypy")
    if "import-linter" in tools:
        session.run("lint-imports")
    session.run("pytest", *session.posargs, env={"MSEARCH_TEST_STACK": stack})


@nox.session(name="tests-legacy")
def tests_legacy(session: nox.Session) -> None:
    """The legacy stack: every test, the infinity and flag backends' included."""
    _check_and_test(session, "constraints-legacy.txt", "all,legacy,test", "legacy")


@nox.session(name="llama-cpp")
def llama_cpp(session: nox.Session) -> None:
    """llama.cpp's server, built with cmake from the source that the pinned llama-cpp-python
    sdist carries; the converter and gguf-py come from the same source."""
    root = Path(session.invoked_from) / LLAMA_CPP
    sdists = root / "sdist"
    session.run("pip", "download", "--no-deps", "--no-binary", ":all:", "-c", "constraints.txt",
                "llama-cpp-python", "-d", str(sdists))
    (sdist,) = sorted(sdists.glob("llama_cpp_python-*.tar.gz"))
    source = root / sdist.name.removesuffix(".tar.gz")
    if not source.is_dir():
        with tarfile.open(sdist) as archive:
            archive.extractall(root, filter="data")
    llama = source / "vendor" / "llama.cpp"
    build = source / "build"
    if not (build / "bin" / "llama-server").is_file():
        session.run("cmake", "-S", str(llama), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
                    "-DLLAMA_CURL=OFF", "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF",
                    "-DLLAMA_BUILD_SERVER=ON", "-DBUILD_SHARED_LIBS=OFF",
                    "-DLLAMA_USE_PREBUILT_UI=OFF",  # no web UI fetched from the HF hub
                    # not -march=native: on a 2-vCPU Xeon VM that lists AMX, the native build's
                    # AMX path crashed llama-server on a q8_0 model (SIGSEGV at warm-up)
                    "-DGGML_NATIVE=OFF", "-DGGML_AVX=ON", "-DGGML_AVX2=ON", "-DGGML_FMA=ON",
                    "-DGGML_F16C=ON",
                    external=True)
        session.run("cmake", "--build", str(build), "--target", "llama-server",
                    "-j", str(os.cpu_count() or 2), external=True)
    (root / "paths").write_text(f"{build / 'bin' / 'llama-server'}\n{llama}\n")


@nox.session(name="tests", requires=["tests-legacy", "llama-cpp"])
def tests(session: nox.Session) -> None:
    """Today's stack: every test but those of the backends that need the legacy one."""
    server = f"{session.invoked_from}/{LEGACY_VENV}/bin/infinity_emb"
    session.env["MSEARCH_TEST_INFINITY_EMB"] = server
    program, source = (Path(session.invoked_from) / LLAMA_CPP / "paths").read_text().split()
    session.env["MSEARCH_TEST_LLAMA_SERVER"] = program
    session.env["MSEARCH_TEST_LLAMA_SOURCE"] = source
    # The layer contracts (pyproject.toml) are about the source, so one stack checks them;
    # import-linter needs a newer click than the legacy stack pins.
    _check_and_test(session, "constraints.txt", "all,test", "default", "import-linter")
