"""The command's default text path: the onnx runtime, and a search that starts light.

``msearch search`` on an embedded Edge store, with the export already cached, must not import
torch, transformers, sentence-transformers or qdrant-client; ``msearch --help`` imports none of
them, nor OpenVINO. Where the runtime cannot serve the model, the command says so and runs
sentence-transformers instead, with the same results.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from msearch.backends.onnx_entry import MANIFEST, REFERENCE
from msearch.cli import main
from tests.integration.test_cli import EXAMPLES, run

HEAVY = ("torch", "transformers", "sentence_transformers", "qdrant_client")


def _imports_after(argv: list[str], env: dict[str, str]) -> tuple[str, list[str]]:
    """What ``msearch ARGV`` prints, and which heavy modules the process imported."""
    watched = [*HEAVY, "openvino"]
    script = (
        "import json, sys\n"
        "from msearch.cli import main\n"
        "try:\n"
        f"    code = main({argv!r})\n"
        "except SystemExit as stop:  # --help\n"
        "    code = stop.code\n"
        f"print('HEAVY', json.dumps(sorted(set({watched!r}) & set(sys.modules))))\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    out, _, heavy = done.stdout.rpartition("HEAVY ")
    return out, json.loads(heavy)


@pytest.fixture
def indexed(tmp_path: Path, minilm: str, capsys: pytest.CaptureFixture[str]) -> str:
    folder = tmp_path / "docs"
    shutil.copytree(EXAMPLES / "docs", folder)
    store = str(tmp_path / "store")
    assert run(capsys, "index", str(folder), "--store", store, "--quiet")[0] == 0
    return store


def test_search_starts_without_torch_or_qdrant_client(indexed: str) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out, heavy = _imports_after(["search", "how long do cats sleep", "--store", indexed], env)
    assert "cats.txt" in out.splitlines()[0]
    assert heavy == ["openvino"], heavy
    _, heavy = _imports_after(["--help"], env)
    assert heavy == []


def test_the_default_backend_is_the_onnx_runtime(indexed: str, capsys) -> None:
    code, out, err = run(capsys, "search", "how long do cats sleep", "--store", indexed)
    assert code == 0 and "cats.txt" in out.splitlines()[0] and err == ""
    code, plain, _ = run(capsys, "search", "how long do cats sleep", "--store", indexed, "--json")
    os.environ["MSEARCH_TEXT_BACKEND"] = "sentence-transformers"
    try:
        code, torch_out, _ = run(
            capsys, "search", "how long do cats sleep", "--store", indexed, "--json"
        )
    finally:
        del os.environ["MSEARCH_TEXT_BACKEND"]
    ours, theirs = json.loads(plain), json.loads(torch_out)
    assert [h["id"] for h in ours] == [h["id"] for h in theirs]
    assert np.allclose([h["score"] for h in ours], [h["score"] for h in theirs], atol=1e-3)


def test_a_model_the_runtime_cannot_reproduce_falls_back(
    tmp_path: Path, minilm: str, onnx_cache: Path, capsys, monkeypatch
) -> None:
    cache = tmp_path / "exports"
    monkeypatch.setenv("MSEARCH_ONNX_CACHE", str(cache))
    monkeypatch.setenv("MSEARCH_PRECISION", "float32")
    folder = tmp_path / "docs"
    shutil.copytree(EXAMPLES / "docs", folder)
    store = str(tmp_path / "store")
    assert main(["index", str(folder), "--store", store, "--quiet"]) == 0
    capsys.readouterr()
    (entry,) = [p for p in cache.iterdir() if (p / MANIFEST).is_file()]
    reference = np.load(entry / REFERENCE)
    np.save(entry / REFERENCE, np.random.default_rng(1).normal(size=reference.shape))
    manifest = json.loads((entry / MANIFEST).read_text())
    manifest["fidelity"] = {}
    (entry / MANIFEST).write_text(json.dumps(manifest))
    code, out, err = run(capsys, "search", "how long do cats sleep", "--store", store)
    assert code == 0 and "cats.txt" in out.splitlines()[0]
    assert "cannot run the text model" in err and "using sentence-transformers" in err
