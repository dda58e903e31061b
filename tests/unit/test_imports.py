"""Importing msearch and its adapters must not pull in heavy model libraries."""

import subprocess
import sys

HEAVY = ("torch", "transformers", "infinity_emb", "FlagEmbedding", "sentence_transformers")


def test_imports_leave_heavy_libraries_out() -> None:
    code = (
        "import sys, msearch, langchain_msearch, llamaindex_msearch\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]", result.stdout + result.stderr


def test_missing_backend_library_names_the_extra(monkeypatch) -> None:
    import msearch
    from msearch._deps import require

    monkeypatch.setitem(sys.modules, "FlagEmbedding", None)  # makes the import fail
    try:
        require("FlagEmbedding", "flag")
    except msearch.MissingDependencyError as err:
        assert 'pip install "msearch[flag]"' in str(err)
    else:
        raise AssertionError("require() did not raise")
