"""Security: what loads model weights, remote code, secrets in text, and image URL limits."""

from __future__ import annotations

import dataclasses
import http.server
import json
import logging
import pickle
import shutil
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from msearch import media
from msearch.backends import _IMPLEMENTATIONS, backend_class
from msearch.backends._loading import ALLOW_PICKLE_ENV, check_weights
from msearch.embeddings import text_embedder
from msearch.errors import MediaError, ServerConnectionError, StoreError, UnsafeModelError
from msearch.multimodal import audio_embedder, image_embedder
from msearch.rerank import reranker
from msearch.store import Store
from msearch.store.client import Connection
from tests.support.infinity_server import free_port
from tests.support.stacks import LEGACY_BACKENDS

SECRET = "sk-reliability-0123456789abcdef"

# -- weights: safetensors only, unless the caller opts in -------------------------------


class _RunsCode:
    """Unpickling this writes a marker file: proof that a pickle ran code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return (Path.write_text, (self.marker, "unpickled"))


@pytest.fixture(autouse=True)
def _local_test_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    """This module's test servers listen on 127.0.0.1, which URLs may not reach by default."""
    monkeypatch.setenv("MSEARCH_ALLOW_PRIVATE_URLS", "1")


@pytest.fixture(scope="module")
def pickle_folder(tiny_cross_encoder: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny cross-encoder with its weights saved as ``pytorch_model.bin`` only."""
    import torch
    from safetensors.torch import load_file

    folder = tmp_path_factory.mktemp("pickle-only")
    for item in Path(tiny_cross_encoder).iterdir():
        if item.suffix != ".safetensors":
            shutil.copy(item, folder / item.name)
    # written by hand: transformers 5 saves safetensors only
    state = load_file(str(Path(tiny_cross_encoder) / "model.safetensors"))
    torch.save(state, folder / "pytorch_model.bin")
    assert (folder / "pytorch_model.bin").exists()
    assert not list(folder.glob("*.safetensors"))
    return folder


BUILDERS: dict[str, Callable[[str], Any]] = {
    "st-text": lambda p: text_embedder(p).embed_query("q"),
    "infinity-text": lambda p: text_embedder(p, "infinity", timeout=60).embed_query("q"),
    "flag-text": lambda p: text_embedder(p, "flag", dim=32).embed_query("q"),
    "transformers-text": lambda p: text_embedder(p, "transformers", dim=32).embed_query("q"),
    "qwen3-text": lambda p: text_embedder(p, "qwen3", dim=32).embed_query("q"),
    "st-rerank": lambda p: reranker(p).rerank("q", ["d"]),
    "infinity-rerank": lambda p: reranker(p, "infinity", timeout=60).rerank("q", ["d"]),
    "flag-rerank": lambda p: reranker(p, "flag").rerank("q", ["d"]),
    "qwen3-rerank": lambda p: reranker(p, "qwen3").rerank("q", ["d"]),
    "transformers-image": lambda p: image_embedder(p, dim=32).embed_query("q"),
    "transformers-audio": lambda p: audio_embedder(p, dim=32).embed_query("q"),
}


def _with_stack(name: str) -> Any:
    """``name`` as a parameter, marked when its backend's library is of the legacy stack."""
    module = LEGACY_BACKENDS.get(name.split("-")[0])
    return pytest.param(name, marks=[pytest.mark.legacy_stack(module)] if module else [])


@pytest.mark.parametrize("backend", [_with_stack(name) for name in BUILDERS], ids=str)
def test_every_backend_refuses_a_pickle_only_folder(
    pickle_folder: Path, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ALLOW_PICKLE_ENV, raising=False)
    with pytest.raises(UnsafeModelError) as caught:
        BUILDERS[backend](str(pickle_folder))
    message = str(caught.value)
    assert "pytorch_model.bin" in message and f"{ALLOW_PICKLE_ENV}=1" in message
    assert "safetensors" in message


def test_opting_in_loads_the_same_model(
    pickle_folder: Path, tiny_cross_encoder: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    documents = ["cats purr", "the sea is blue", "python code"]
    expected = reranker(tiny_cross_encoder).rerank("what do cats do", documents)
    monkeypatch.setenv(ALLOW_PICKLE_ENV, "1")
    got = reranker(str(pickle_folder)).rerank("what do cats do", documents)
    assert [r.index for r in got] == [r.index for r in expected]
    assert [r.score for r in got] == pytest.approx([r.score for r in expected], abs=1e-6)


def test_a_code_running_pickle_is_refused_before_it_is_opened(
    pickle_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ALLOW_PICKLE_ENV, raising=False)
    folder = tmp_path / "booby-trapped"
    shutil.copytree(pickle_folder, folder)
    marker = tmp_path / "ran"
    (folder / "pytorch_model.bin").write_bytes(pickle.dumps(_RunsCode(marker)))
    with pytest.raises(UnsafeModelError):
        reranker(str(folder)).rerank("q", ["d"])
    assert not marker.exists()


def test_module_folders_and_bge_m3_heads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOW_PICKLE_ENV, raising=False)
    root = tmp_path / "st-model"
    (root / "2_Dense").mkdir(parents=True)
    (root / "onnx").mkdir()
    (root / "model.safetensors").write_bytes(b"")
    (root / "onnx" / "model.bin").write_bytes(b"")  # not a module: torch never reads it
    (root / "modules.json").write_text(json.dumps([{"path": ""}, {"path": "2_Dense"}]))
    (root / "2_Dense" / "pytorch_model.bin").write_bytes(b"")
    with pytest.raises(UnsafeModelError, match="2_Dense"):
        check_weights(str(root))
    (root / "2_Dense" / "model.safetensors").write_bytes(b"")
    assert check_weights(str(root)) == str(root)
    heads = tmp_path / "bge-m3"
    heads.mkdir()
    for name in ("model.safetensors", "sparse_linear.pt", "colbert_linear.pt"):
        (heads / name).write_bytes(b"")  # FlagEmbedding reads the heads with weights_only=True
    assert check_weights(str(heads)) == str(heads)


# -- remote code stays off unless asked for -------------------------------------------------


def test_trust_remote_code_defaults_to_false_on_every_backend() -> None:
    checked = 0
    for capability, table in _IMPLEMENTATIONS.items():
        for backend in table:
            options = backend_class(capability, backend).Options
            fields = {field.name: field for field in dataclasses.fields(options)}
            if "trust_remote_code" in fields:
                assert fields["trust_remote_code"].default is False, (capability, backend)
                checked += 1
    assert checked >= 10  # every in-process backend that loads a model folder has the option


@pytest.fixture
def remote_code_folder(tiny_cross_encoder: str, tmp_path: Path) -> tuple[Path, Path]:
    """The tiny cross-encoder plus an ``auto_map`` to custom code that leaves a marker."""
    folder, marker = tmp_path / "remote-code", tmp_path / "custom-code-ran"
    shutil.copytree(tiny_cross_encoder, folder)
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {
        "AutoConfig": "custom.Config",
        "AutoModel": "custom.Model",
        "AutoModelForSequenceClassification": "custom.Classifier",
    }
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "custom.py").write_text(
        "import pathlib\n"
        f"pathlib.Path({str(marker)!r}).write_text('ran')\n"
        "import transformers\n"
        # Subclasses, not aliases: transformers registers the loaded classes for auto-class
        # saving, which must not leak into the real Bert classes the other tests use.
        "class Config(transformers.BertConfig):\n    pass\n"
        "class Model(transformers.BertModel):\n    config_class = Config\n"
        "class Classifier(transformers.BertForSequenceClassification):\n"
        "    config_class = Config\n"
    )
    return folder, marker


def test_custom_code_in_a_model_folder_does_not_run_by_default(
    remote_code_folder: tuple[Path, Path],
) -> None:
    folder, marker = remote_code_folder
    assert len(reranker(str(folder)).rerank("cats", ["cats purr", "blue sea"])) == 2
    assert text_embedder(str(folder)).embed_query("cats").shape == (32,)
    assert not marker.exists()
    # The switch is real: opting in runs the folder's code.
    text_embedder(str(folder), trust_remote_code=True).embed_query("cats")
    assert marker.exists()


# -- secrets stay out of reprs, errors and logs ----------------------------------------------


def _leaks(thing: object) -> bool:
    return SECRET in str(thing) or SECRET in repr(thing)


def test_infinity_client_keeps_its_key_out_of_reprs_errors_and_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    embedder = text_embedder(
        "sentence-transformers/all-MiniLM-L6-v2",
        "infinity-server",
        url=url,
        api_key=SECRET,
        timeout=3,
        max_retries=1,
    )
    client = embedder.server.client  # type: ignore[attr-defined]
    assert not _leaks(client) and "api_key=set" in repr(client)
    assert not _leaks(embedder.server) and not _leaks(embedder.options)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ServerConnectionError) as caught:
        embedder.embed_documents(["hello"])
    assert url in str(caught.value)
    assert not any(_leaks(line) for line in traceback.format_exception(caught.value))
    assert SECRET not in caplog.text


def test_store_api_key_warns_on_plain_http_and_stays_out_of_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"http://127.0.0.1:{free_port()}"
    assert not _leaks(Connection(url=url, api_key=SECRET))
    with pytest.warns(UserWarning, match="insecure"), pytest.raises(StoreError) as caught:
        Store("docs", url=url, api_key=SECRET, timeout=3)
    assert not any(_leaks(line) for line in traceback.format_exception(caught.value))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # https: no insecure-key warning
        with pytest.raises(StoreError):
            Store("docs", url=f"https://127.0.0.1:{free_port()}", api_key=SECRET, timeout=3)
    assert SECRET not in caplog.text


# -- image URLs: http(s) only, bounded redirects, size and time limits ----------------------


class _Hostile(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/hop/"):
            left = int(self.path.rsplit("/", 1)[1])
            self.send_response(302)
            self.send_header("Location", f"/hop/{left - 1}" if left > 1 else "/tiny")
            self.end_headers()
        elif self.path == "/to-file":
            self.send_response(302)
            self.send_header("Location", "file:///etc/passwd")
            self.end_headers()
        elif self.path == "/undeclared":  # no Content-Length: the limit must hold while reading
            self.send_response(200)
            self.end_headers()
            for _ in range(64):
                self.wfile.write(b"x" * 1024)
        elif self.path == "/drip":  # each read answers in time, the whole never finishes
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            for _ in range(100):
                self.wfile.write(b"x" * 10)
                self.wfile.flush()
                time.sleep(0.1)
        else:
            self.send_response(200)
            self.send_header("Content-Length", "3")
            self.end_headers()
            self.wfile.write(b"abc")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def hostile_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_redirects_are_bounded(hostile_server: str) -> None:
    assert media.fetch_url(f"{hostile_server}/hop/{media.URL_MAX_REDIRECTS}") == b"abc"
    with pytest.raises(MediaError, match="redirected more than"):
        media.fetch_url(f"{hostile_server}/hop/{media.URL_MAX_REDIRECTS + 1}")
    with pytest.raises(MediaError, match="redirected more than 0"):
        media.fetch_url(f"{hostile_server}/hop/1", max_redirects=0)


def test_only_http_and_https_are_fetched(hostile_server: str, tmp_path: Path) -> None:
    with pytest.raises(MediaError):
        media.load_image(f"{hostile_server}/to-file")  # a redirect cannot reach local files
    for url in ("file:///etc/passwd", "ftp://127.0.0.1/x.png", "gopher://127.0.0.1/x"):
        with pytest.raises(MediaError):  # not fetched, and no such local path either
            media.load_image(url)


def test_size_limit_holds_without_a_declared_length(hostile_server: str) -> None:
    with pytest.raises(MediaError, match="larger than the 10000 B limit"):
        media.fetch_url(f"{hostile_server}/undeclared", max_bytes=10_000)


def test_a_dripping_download_stops_at_the_overall_time_limit(hostile_server: str) -> None:
    started = time.monotonic()
    with pytest.raises(MediaError, match="within 1 s"):
        media.fetch_url(f"{hostile_server}/drip", timeout=1.0)
    assert time.monotonic() - started < 8.0  # the overall limit, not per-read timeouts


class _HeaderDrip(http.server.BaseHTTPRequestHandler):
    """Sends its status line, then one header byte every 0.2 s: each read is on time."""

    def do_GET(self) -> None:
        self.wfile.write(b"HTTP/1.1 200 OK\r\n")
        for _ in range(300):
            self.wfile.write(b"X")
            self.wfile.flush()
            time.sleep(0.2)

    def log_message(self, *args: object) -> None:
        pass


def test_a_server_dripping_headers_is_cut_at_the_overall_limit() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HeaderDrip)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        started = time.monotonic()
        with pytest.raises(MediaError, match="within 1 s"):
            media.fetch_url(f"http://127.0.0.1:{server.server_address[1]}/x.png", timeout=1.0)
        assert time.monotonic() - started < 3.0  # before: 60 s
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x.png",
        "http://localhost/x.png",
        "http://0.0.0.0/x.png",
        "http://2130706433/x.png",  # 127.0.0.1 as a decimal number
        "http://[::1]/x.png",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/x.png",
        "http://192.168.1.1/x.png",
    ],
)
def test_urls_to_local_and_private_addresses_are_refused(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MSEARCH_ALLOW_PRIVATE_URLS")
    with pytest.raises(MediaError, match="loopback, private or reserved"):
        media.fetch_url(url, timeout=2.0)
    with pytest.raises(MediaError, match="loopback, private or reserved"):
        media.load_image(url)


def test_a_redirect_to_a_local_address_is_refused(
    hostile_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from msearch import urls

    # the first hop is allowed as if public; the redirect target is checked again and refused
    checked: list[str] = []
    real = urls._check_address

    def first_hop_public(url: str, allow_private: bool) -> None:
        checked.append(url)
        real(url, allow_private=len(checked) == 1)

    monkeypatch.delenv("MSEARCH_ALLOW_PRIVATE_URLS")
    monkeypatch.setattr(urls, "_check_address", first_hop_public)
    with pytest.raises(MediaError, match="loopback, private or reserved"):
        media.fetch_url(f"{hostile_server}/hop/1")
    assert len(checked) == 2


def test_credentials_and_query_strings_never_appear_in_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MSEARCH_ALLOW_PRIVATE_URLS")
    url = "http://alice:hunter2@127.0.0.1:9/cat.png?X-Amz-Signature=deadbeef#frag"
    for call in (lambda: media.fetch_url(url), lambda: media.load_image(url)):
        with pytest.raises(MediaError) as caught:
            call()
        text = str(caught.value)
        assert "hunter2" not in text and "alice" not in text and "deadbeef" not in text
        assert "127.0.0.1:9/cat.png" in text


def test_allow_private_and_audio_url_limits_are_honoured(
    hostile_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MSEARCH_ALLOW_PRIVATE_URLS")
    with pytest.raises(MediaError, match="loopback, private or reserved"):
        media.fetch_url(f"{hostile_server}/tiny")
    assert media.fetch_url(f"{hostile_server}/tiny", allow_private=True) == b"abc"
    monkeypatch.setenv("MSEARCH_ALLOW_PRIVATE_URLS", "1")
    with pytest.raises(MediaError, match="larger than the 10000 B limit"):
        media.load_audio(f"{hostile_server}/undeclared", max_bytes=10_000)
    started = time.monotonic()
    with pytest.raises(MediaError, match="within 1 s"):
        media.load_audio(f"{hostile_server}/drip", timeout=1.0)
    assert time.monotonic() - started < 8.0
