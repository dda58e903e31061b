"""The checks and the test suite, in each of msearch's two dependency stacks.

- ``tests``: today's stack (sentence-transformers >= 6, transformers >= 5, numpy >= 2), pinned
  by ``constraints.txt``; what ``pip install "msearch[all]"`` gives.
- ``tests-legacy``: the stack that infinity-emb (in-process) and FlagEmbedding still need
  (sentence-transformers 3, transformers 4.57, numpy 1), pinned by ``constraints-legacy.txt``.

Each session installs its own venv under ``.nox/``, checks it with ``pip check``, runs ruff and
mypy, then pytest. ``tests`` needs ``tests-legacy`` first: its Infinity-server tests start the
server from the legacy venv, as a user runs one, and query it from today's stack.
``nox`` runs both; ``nox -s tests-legacy`` one; arguments after ``--`` go to pytest.
"""

from __future__ import annotations

import nox

nox.options.sessions = ["tests-legacy", "tests"]
nox.options.error_on_missing_interpreters = True

LEGACY_VENV = ".nox/tests-legacy"


def _check_and_test(session: nox.Session, constraints: str, extras: str, stack: str) -> None:
    session.install("-c", constraints, "-e", f".[{extras}]")
    session.run("pip", "check")
    session.run("ruff", "check", ".")
    session.run("mypy")
    session.run("pytest", *session.posargs, env={"MSEARCH_TEST_STACK": stack})


@nox.session(name="tests-legacy")
def tests_legacy(session: nox.Session) -> None:
    """The legacy stack: every test, the infinity and flag backends' included."""
    _check_and_test(session, "constraints-legacy.txt", "all,legacy,test", "legacy")


@nox.session(name="tests", requires=["tests-legacy"])
def tests(session: nox.Session) -> None:
    """Today's stack: every test but those of the backends that need the legacy one."""
    server = f"{session.invoked_from}/{LEGACY_VENV}/bin/infinity_emb"
    session.env["MSEARCH_TEST_INFINITY_EMB"] = server
    _check_and_test(session, "constraints.txt", "all,test", "default")
