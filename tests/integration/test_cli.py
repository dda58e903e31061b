"""The ``msearch`` command end to end, on the real MiniLM and embedded Qdrant."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from msearch.chunking import chunk_stream
from msearch.cli import main
from msearch.readers import read_text
from msearch.store import Store

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    shutil.copytree(EXAMPLES / "docs", folder)
    return folder


def test_main_job_on_the_bundled_examples(tmp_path, capsys) -> None:
    store = str(tmp_path / "store")
    code, out, _ = run(capsys, "index", str(EXAMPLES), "--store", store, "--quiet")
    assert code == 0
    # The default image/audio models are not on this machine: one clear line each.
    assert out.count("no image files and video frames:") == 1
    assert out.count("no sound windows of audio and video files:") == 1
    # 5 documents, and the speech of the spoken clip and of the video (packaged Whisper)
    assert "indexed 7, 0:12 of audio and video," in out
    assert "tone-440hz.wav: no speech" in out
    code, out, _ = run(capsys, "search", "How long do cats sleep?", "--store", store, "-k", "3")
    assert code == 0
    first = out.splitlines()[0]
    assert first.lstrip().startswith("1.") and "cats.txt" in first
    assert "[speech] " in out and "cats-speech.flac @ 0:00-0:06" in out


def test_json_output_and_filters(tmp_path, corpus, capsys) -> None:
    store = str(tmp_path / "store")
    run(capsys, "index", str(corpus), "--store", store, "--quiet")
    code, out, _ = run(capsys, "search", "bread", "--store", store, "--json", "-k", "2")
    hits = json.loads(out)
    assert code == 0 and len(hits) == 2
    assert set(hits[0]) >= {"source", "modality", "score", "content"}
    assert hits[0]["source"].endswith("bread.txt") and hits[0]["modality"] == "text"
    solar = str(corpus / "solar.txt")
    code, out, _ = run(
        capsys, "search", "bread", "--store", store, "--json", "--filter", f"source={solar}"
    )
    assert [hit["source"] for hit in json.loads(out)] == [solar]


def test_incremental_runs(tmp_path, corpus, capsys) -> None:
    store = str(tmp_path / "store")
    _, out, _ = run(capsys, "index", str(corpus), "--store", store, "--quiet")
    assert "indexed 5, unchanged 0, removed 0" in out
    _, out, _ = run(capsys, "index", str(corpus), "--store", store, "--quiet")
    assert "indexed 0, unchanged 5, removed 0" in out
    (corpus / "cats.txt").write_text("Dogs bark at the postman every single morning.")
    (corpus / "solar.txt").unlink()
    _, out, _ = run(capsys, "index", str(corpus), "--store", store, "--quiet")
    assert "indexed 1, unchanged 3, removed 1" in out and "; 4 files in the store" in out
    _code, out, _ = run(capsys, "search", "postman", "--store", store, "--json", "-k", "1")
    hit = json.loads(out)[0]
    assert hit["source"].endswith("cats.txt") and "postman" in hit["content"]
    with Store("msearch", path=store) as opened:
        assert not list(opened.scan({"source": str(corpus / "solar.txt")}))


def test_bad_files_are_reported_and_the_run_goes_on(tmp_path, corpus, capsys, monkeypatch) -> None:
    (corpus / "binary.txt").write_bytes(b"\x00\x01\x02binary\x00" * 50)
    (corpus / "latin1.txt").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    (corpus / "broken-link.md").symlink_to(corpus / "nowhere.md")
    (corpus / "huge.txt").write_text("word " * 3000)
    monkeypatch.setenv("MSEARCH_MAX_FILE_BYTES", "10000")
    store = str(tmp_path / "store")
    code, out, err = run(capsys, "index", str(corpus), "--store", store, "--quiet")
    assert code == 0
    assert "indexed 5," in out and "skipped 2, failed 2" in out
    assert "binary.txt looks binary" in err
    assert "latin1.txt is not UTF-8 text" in err
    assert "broken-link.md: a broken link" in out
    assert "huge.txt: 15000 bytes is over max_file_bytes=10000" in out


def test_searching_a_missing_store_is_an_error_and_creates_nothing(tmp_path, capsys) -> None:
    missing = tmp_path / "typo"
    code, out, err = run(capsys, "search", "cats", "--store", str(missing))
    assert code == 2 and f"there is no store at {missing}" in err and "no results" not in out
    assert not missing.exists()


def test_missing_root_is_a_clear_error(tmp_path, capsys) -> None:
    code, _, err = run(capsys, "index", str(tmp_path / "nope"), "--store", str(tmp_path / "s"))
    assert code == 2 and "nope does not exist" in err


def test_bad_settings_are_clear_errors(tmp_path, corpus, capsys, monkeypatch) -> None:
    monkeypatch.setenv("MSEARCH_CHUNK_TOKENS", "32")
    code, _, err = run(capsys, "index", str(corpus), "--store", str(tmp_path / "s"))
    assert code == 2 and "chunk_overlap (40) must be >= 0 and smaller than chunk_tokens (32)" in err
    monkeypatch.setenv("MSEARCH_CHUNK_TOKENS", "many")
    code, _, err = run(capsys, "index", str(corpus), "--store", str(tmp_path / "s"))
    assert code == 2 and "chunk_tokens (from the MSEARCH_* variables) must be a whole number" in err
    monkeypatch.delenv("MSEARCH_CHUNK_TOKENS")
    code, _, err = run(capsys, "search", "x", "--store", str(tmp_path / "s"), "-k", "0")
    assert code == 2 and "-k must be >= 1" in err
    monkeypatch.setenv("MSEARCH_TEXT_BACKEND", "sentence-transformer")  # one letter short
    code, _, err = run(capsys, "index", str(corpus), "--store", str(tmp_path / "s"))
    assert code == 2 and "backend 'sentence-transformer' has no text support" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_precision_setting_reaches_the_models(tmp_path, corpus, capsys, monkeypatch) -> None:
    exact, fast = str(tmp_path / "exact"), str(tmp_path / "fast")
    monkeypatch.setenv("MSEARCH_PRECISION", "float32")  # unset: "auto", bf16 on some CPUs
    assert run(capsys, "index", str(corpus), "--store", exact, "--quiet")[0] == 0
    monkeypatch.setenv("MSEARCH_PRECISION", "bfloat16")  # emulated on CPUs without AMX: slow
    assert run(capsys, "index", str(corpus), "--store", fast, "--quiet")[0] == 0
    with Store("msearch", path=exact) as one, Store("msearch", path=fast) as other:
        ids = [hit.id for hit in one.scan()]
        a = {hit.id: np.asarray(hit.vectors["text"]) for hit in one.get(ids, with_vectors=True)}
        b = {hit.id: np.asarray(hit.vectors["text"]) for hit in other.get(ids, with_vectors=True)}
    cosines = [
        float(np.dot(a[key], b[key]) / np.linalg.norm(a[key]) / np.linalg.norm(b[key])) for key in a
    ]
    assert len(b) == len(a) > 0 and min(cosines) >= 0.999 and max(cosines) < 1.0
    code, out, _ = run(capsys, "search", "How long do cats sleep?", "--store", fast, "-k", "1")
    assert code == 0 and "cats.txt" in out
    monkeypatch.setenv("MSEARCH_PRECISION", "fast")
    code, _, err = run(capsys, "search", "cats", "--store", fast)
    assert code == 2 and "precision must be one of" in err
    monkeypatch.setenv("MSEARCH_PRECISION", "bfloat16")
    monkeypatch.setenv("MSEARCH_TEXT_BACKEND", "infinity")
    code, _, err = run(capsys, "search", "cats", "--store", fast)
    assert code == 2 and "applies to the sentence-transformers and onnx backends" in err
    assert "models.text_backend is 'infinity'" in err


def test_file_vanishing_mid_run_is_reported(tmp_path, corpus, minilm) -> None:
    from msearch import text_embedder
    from msearch.chunking import approximate_tokens
    from msearch.indexing import FolderIndexer

    victim = corpus / "solar.txt"  # walked before the run starts, deleted while it runs

    def count_and_delete(words: list[str]) -> list[int]:
        victim.unlink(missing_ok=True)
        return approximate_tokens(words)

    with Store("msearch", location=":memory:") as store:
        indexer = FolderIndexer(store, text_embedder(minilm), count_tokens=count_and_delete)
        summary = indexer.index(corpus)
    assert [source for source, _ in summary.failed] == [str(victim)]
    assert "vanished" in summary.failed[0][1]
    assert len(summary.indexed) == 4


def test_large_file_is_chunked_as_a_stream(tmp_path) -> None:
    big = tmp_path / "big.txt"
    with big.open("w") as stream:
        for line in range(200_000):  # about 12 MB
            stream.write(f"line {line} of a long generated document about streaming\n")
    tracemalloc.start()
    count = sum(1 for _ in chunk_stream(read_text(big), size=200, overlap=40))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count > 5_000
    assert peak < 8 * 1024 * 1024, (
        f"peak {peak} bytes while streaming a {big.stat().st_size}-byte file"
    )


def test_models_and_info(tmp_path, corpus, capsys) -> None:
    code, out, _ = run(capsys, "models")
    line = next(
        row for row in out.splitlines() if row.startswith("sentence-transformers/all-MiniLM")
    )
    assert code == 0 and line.split()[-1] == "yes"
    store = str(tmp_path / "store")
    code, out, _ = run(capsys, "info", "--store", store)
    assert "not created yet" in out
    run(capsys, "index", str(corpus), "--store", store, "--quiet")
    code, out, _ = run(capsys, "info", "--store", store)
    assert "5 points" in out and "sentence-transformers/all-MiniLM-L6-v2" in out
    lines = {line.split(":")[0].strip(): line for line in out.splitlines()}
    assert lines["text"].endswith(", 5 points") and "not on this machine" not in lines["text"]
    # the image vector exists for images added later; its model is not here and it is empty
    assert "not on this machine" in lines["image"] and lines["image"].endswith(", 0 points")
    assert "model bm25, IDF from Qdrant" in lines["text_sparse"]
    assert lines["check"].endswith("5 points found, as recorded")


def test_export_refuses_a_folder_it_would_spoil(tmp_path, corpus, capsys) -> None:
    store = str(tmp_path / "store")
    run(capsys, "index", str(corpus), "--store", store, "--quiet")
    other = tmp_path / "photos"
    other.mkdir()
    (other / "holiday.jpg").write_bytes(b"not mine")
    cases = {
        store: "is the store being exported",
        str(other): "a folder of other files",
        str(other / "holiday.jpg"): "is a file",
    }
    for target, message in cases.items():
        code, _, err = run(capsys, "export", "--store", store, "--to-path", target)
        assert code == 2 and message in err, (target, err)
    edge = str(tmp_path / "edge")
    run(capsys, "index", str(corpus), "--store", edge, "--quiet")  # a second Edge store
    code, _, err = run(capsys, "export", "--store", store, "--to-path", edge)
    assert code == 2 and "holds a Qdrant Edge store" in err
    code, out, _ = run(capsys, "search", "solar", "--store", store)  # the source still opens
    assert code == 0 and "no results" not in out
    assert sorted(p.name for p in other.iterdir()) == ["holiday.jpg"]


def test_export_copies_every_point(tmp_path, corpus, capsys) -> None:
    store = str(tmp_path / "store")
    run(capsys, "index", str(corpus), "--store", store, "--quiet")
    target = str(tmp_path / "exported")
    code, out, _ = run(capsys, "export", "--store", store, "--to-path", target)
    assert code == 0 and "exported 5 points" in out
    with Store("msearch", path=store) as source, Store("msearch", path=target) as copy:
        original = {hit.id: hit.payload for hit in source.scan()}
        assert {hit.id: hit.payload for hit in copy.scan()} == original
        assert copy.schema == source.schema


def test_media_indexed_with_local_models(tmp_path, capsys, tiny_clip, tiny_clap) -> None:
    config = tmp_path / "msearch.toml"
    config.write_text(
        f'[models]\nimage = "{tiny_clip}"\naudio = "{tiny_clap}"\n'
        f'[store]\npath = "{tmp_path / "store"}"\n'
    )
    code, out, _ = run(capsys, "--config", str(config), "index", str(EXAMPLES), "--quiet")
    assert code == 0 and not any(line.startswith("no ") for line in out.splitlines())
    assert "indexed 12," in out  # 5 documents, 3 images, 3 audio clips, 1 video
    red = str(EXAMPLES / "media" / "red-circle.png")
    code, out, _ = run(
        capsys,
        "--config",
        str(config),
        "search",
        "a red circle",
        "--modality",
        "image",
        "--json",
        "-k",
        "3",
    )
    hits = json.loads(out)
    assert code == 0 and len(hits) == 3  # on the image vector: images and video frames
    assert {hit["modality"] for hit in hits} <= {"image", "video"}
    assert red in {hit["source"] for hit in hits}
    code, out, _ = run(
        capsys,
        "--config",
        str(config),
        "search",
        "a tone",
        "--modality",
        "all",
        "--json",
        "--by",
        "chunk",
        "-k",
        "50",
    )
    hits = json.loads(out)
    assert {hit["modality"] for hit in hits} == {"text", "image", "audio", "speech", "video"}
    timed = [hit for hit in hits if hit["modality"] in ("audio", "speech", "video")]
    assert all(hit["metadata"]["end"] >= hit["metadata"]["start"] >= 0 for hit in timed)
    frames = [hit for hit in hits if hit["modality"] == "video"]
    assert sorted(hit["metadata"]["start"] for hit in frames) == [0.0, 2.0, 4.0]
    code, out, _ = run(capsys, "--config", str(config), "info")
    lines = {line.split(":")[0].strip(): line for line in out.splitlines() if ":" in line}
    assert lines["image"].endswith(", 6 points")  # 3 pictures and the video's 3 frames
    assert lines["text"].endswith(", 7 points")  # 5 documents and 2 spoken passages


def _points(store: Path) -> tuple[int, set[str]]:
    with Store("msearch", path=str(store)) as opened:
        ids = {hit.id for hit in opened.scan()}
        return opened.count(), ids


@pytest.mark.slow
def test_killed_run_resumed_equals_a_clean_run(tmp_path, minilm) -> None:
    corpus = tmp_path / "many"
    corpus.mkdir()
    vocabulary = [
        "red",
        "green",
        "blue",
        "cat",
        "dog",
        "bird",
        "tree",
        "river",
        "stone",
        "cloud",
        "rain",
        "sun",
        "moon",
        "star",
    ]
    for n in range(16):
        words = " ".join(vocabulary[(i * (n + 3)) % len(vocabulary)] for i in range(400))
        (corpus / f"doc{n:02d}.txt").write_text(words)
    env = dict(
        os.environ, MSEARCH_BATCH_SIZE="4", MSEARCH_CHUNK_TOKENS="32", MSEARCH_CHUNK_OVERLAP="8"
    )
    command = [sys.executable, "-m", "msearch.cli", "index", str(corpus), "--quiet"]
    clean, resumed = tmp_path / "clean", tmp_path / "resumed"
    subprocess.run([*command, "--store", str(clean)], env=env, check=True, capture_output=True)
    # Kill the second run part-way: after six files are done, inside the seventh.
    process = subprocess.Popen(
        [*command, "--store", str(resumed), "--verbose"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    done = 0
    for line in process.stderr:
        done += line.startswith("indexed: ")
        if done == 6:
            time.sleep(0.3)
            break
    assert process.poll() is None, "the run ended before it could be interrupted"
    process.send_signal(signal.SIGKILL)
    process.wait()
    interrupted_count, _ = _points(resumed)
    subprocess.run([*command, "--store", str(resumed)], env=env, check=True, capture_output=True)
    assert interrupted_count > 0
    assert _points(resumed) == _points(clean)


def test_quiet_silences_the_models_progress_bars_too(tmp_path, corpus, capsys, monkeypatch) -> None:
    import msearch.batching

    monkeypatch.setattr(msearch.batching, "PROGRESS_MIN_BATCHES", 1)  # a bar for any call
    monkeypatch.delenv("HF_HUB_DISABLE_PROGRESS_BARS", raising=False)
    _, _, loud = run(capsys, "index", str(corpus), "--store", str(tmp_path / "loud"))
    assert "embedding" in loud and "%|" in loud  # bars print to stderr
    try:
        code, _, err = run(
            capsys, "index", str(corpus), "--store", str(tmp_path / "quiet"), "--quiet"
        )
    finally:
        import transformers

        transformers.utils.logging.enable_progress_bar()  # the command's change is process-wide
    assert code == 0 and "%|" not in err
