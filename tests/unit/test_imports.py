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


def test_every_factory_is_exported_at_the_top() -> None:
    import msearch
    from msearch import embeddings, multimodal, rerank, sparse

    assert msearch.text_embedder is embeddings.text_embedder
    assert msearch.reranker is rerank.reranker
    assert msearch.sparse_embedder is sparse.sparse_embedder
    assert msearch.image_embedder is multimodal.image_embedder
    assert msearch.audio_embedder is multimodal.audio_embedder
    assert {"reranker", "sparse_embedder", "image_embedder", "audio_embedder"} <= set(
        msearch.__all__
    )


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


def test_an_installed_library_that_fails_to_import_says_so(monkeypatch, tmp_path) -> None:
    import msearch
    from msearch._deps import require

    package = tmp_path / "broken_backend_lib"
    package.mkdir()
    (package / "__init__.py").write_text("import transformers.no_such_module_in_any_release\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        require("broken_backend_lib", "flag")
    except msearch.MissingDependencyError as err:
        message = str(err)
        assert "is installed but does not import here" in message
        assert "no_such_module_in_any_release" in message and "legacy stack" in message
    else:
        raise AssertionError("require() did not raise")
