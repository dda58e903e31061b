"""Settings for the ``msearch`` command: ``msearch.toml``, ``MSEARCH_*`` variables, defaults.

Precedence, highest first: command-line flags, ``MSEARCH_*`` environment variables, the
config file (``--config``, else ``$MSEARCH_CONFIG``, else ``./msearch.toml``), defaults.
Where the data lives (a store folder or a server url) is one setting: the highest source that
names either wins (``--store`` beats ``MSEARCH_URL`` and ``[store] url``); one source naming
both is an error.

An example ``msearch.toml``::

    [models]
    text = "sentence-transformers/all-MiniLM-L6-v2"
    text_backend = "auto"  # the onnx runtime where installed, else "sentence-transformers"
    image = "openai/clip-vit-base-patch32"
    audio = "laion/clap-htsat-unfused"
    speech = "Systran/faster-whisper-tiny.en"  # transcribes recordings; "" turns speech off
    sparse = ""            # "": BM25 for a new store, else the store's own; "none"; "BAAI/bge-m3"
    rerank = ""            # e.g. "BAAI/bge-reranker-v2-m3" (rerank_backend = "auto" too)
    device = "cpu"
    precision = "auto"     # unset: float32 on sentence-transformers, "auto" on onnx
    batch_size = 32
    allow_download = false  # true: fetch models from the hub; default: offline

    [store]
    path = "~/.local/share/msearch/qdrant"   # or url = "https://...", api_key = "..."
    collection = "msearch"

    [search]
    hnsw_ef = 0             # 0: exact search (every vector); N: the HNSW graph, N candidates wide

    [index]
    chunk_tokens = 200
    chunk_overlap = 40
    max_file_bytes = 52428800
    max_media_bytes = 4294967296  # recordings and videos, read a piece at a time
    frame_every_s = 10      # a video frame at least this often (and one per scene change)
    follow_links = false    # true: also index what links to places outside the folder point at
    title_context = true    # embed chunks after their document's first line (text shown: as is)
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from msearch.errors import InvalidInputError


@dataclass(frozen=True)
class Config:
    text_model: str = "sentence-transformers/all-MiniLM-L6-v2"
    text_backend: str = "auto"  # the onnx runtime where installed, else sentence-transformers
    image_model: str = "openai/clip-vit-base-patch32"
    image_backend: str = "transformers"
    audio_model: str = "laion/clap-htsat-unfused"
    audio_backend: str = "transformers"
    speech_model: str = "Systran/faster-whisper-tiny.en"
    speech_backend: str = "faster-whisper"
    sparse_model: str = ""
    sparse_backend: str = ""  # "": the sparse model's own (bm25 -> "bm25", else "transformers")
    rerank_model: str = ""
    rerank_backend: str = "auto"
    device: str = ""
    precision: str = ""  # "": each backend's default (docs/cli.md)
    batch_size: int = 32
    store_path: str = ""
    url: str = ""
    api_key: str = ""
    collection: str = "msearch"
    hnsw_ef: int = 0
    chunk_tokens: int = 200
    chunk_overlap: int = 40
    max_file_bytes: int = 50 * 1024 * 1024
    max_media_bytes: int = 4 * 1024**3
    frame_every_s: int = 10
    follow_links: bool = False
    title_context: bool = True
    allow_download: bool = False


# [section] key in msearch.toml -> Config field; the environment variable is MSEARCH_<FIELD>.
_FILE_KEYS = {
    ("models", "text"): "text_model",
    ("models", "text_backend"): "text_backend",
    ("models", "image"): "image_model",
    ("models", "image_backend"): "image_backend",
    ("models", "audio"): "audio_model",
    ("models", "audio_backend"): "audio_backend",
    ("models", "speech"): "speech_model",
    ("models", "speech_backend"): "speech_backend",
    ("models", "sparse"): "sparse_model",
    ("models", "sparse_backend"): "sparse_backend",
    ("models", "rerank"): "rerank_model",
    ("models", "rerank_backend"): "rerank_backend",
    ("models", "device"): "device",
    ("models", "precision"): "precision",
    ("models", "batch_size"): "batch_size",
    ("store", "path"): "store_path",
    ("store", "url"): "url",
    ("store", "api_key"): "api_key",
    ("store", "collection"): "collection",
    ("search", "hnsw_ef"): "hnsw_ef",
    ("index", "chunk_tokens"): "chunk_tokens",
    ("index", "chunk_overlap"): "chunk_overlap",
    ("index", "max_file_bytes"): "max_file_bytes",
    ("index", "max_media_bytes"): "max_media_bytes",
    ("index", "frame_every_s"): "frame_every_s",
    ("index", "follow_links"): "follow_links",
    ("index", "title_context"): "title_context",
    ("models", "allow_download"): "allow_download",
}


def load_config(path: str | os.PathLike[str] | None = None, **overrides: Any) -> Config:
    """Defaults, then the config file, then ``MSEARCH_*`` variables, then ``overrides``."""
    values: dict[str, Any] = {}
    file = _config_file(path)
    layers = [
        (str(file), _read_file(file) if file is not None else {}),
        ("the MSEARCH_* variables", _read_env()),
        ("the command line", {key: value for key, value in overrides.items() if value is not None}),
    ]
    origin: dict[str, str] = {}
    for where, layer in layers:
        _layer_location(values, layer, where)
        origin.update(dict.fromkeys(layer, where))
    return _typed(values, origin)


_LOCATION = ("store_path", "url")


def _layer_location(values: dict[str, Any], layer: dict[str, Any], where: str) -> None:
    """Put ``layer`` over ``values``. Where the data lives is one setting: a layer naming a
    folder or a URL replaces both of a lower layer's, so ``--store`` beats ``MSEARCH_URL``."""
    named = [key for key in _LOCATION if layer.get(key) not in (None, "")]
    if len(named) > 1:
        raise InvalidInputError(
            f"{where} names both a store folder and a server url; give one of them"
        )
    if named:
        for key in _LOCATION:
            values.pop(key, None)
    values.update(layer)


def _config_file(path: str | os.PathLike[str] | None) -> Path | None:
    if path is not None:
        file = Path(path).expanduser()
        if not file.is_file():
            raise InvalidInputError(f"config file {file} does not exist")
        return file
    env = os.environ.get("MSEARCH_CONFIG")
    if env:
        return _config_file(env)
    local = Path("msearch.toml")
    return local if local.is_file() else None


def _read_file(file: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(file.read_text())
    except tomllib.TOMLDecodeError as err:
        raise InvalidInputError(f"{file} is not valid TOML: {err}") from err
    values = {}
    for section, table in data.items():
        if not isinstance(table, dict):
            raise InvalidInputError(f"{file}: expected a [{section}] table")
        for key, value in table.items():
            if (section, key) not in _FILE_KEYS:
                known = ", ".join(f"{s}.{k}" for s, k in _FILE_KEYS)
                raise InvalidInputError(f"{file}: unknown setting {section}.{key}; known: {known}")
            values[_FILE_KEYS[section, key]] = value
    return values


def _read_env() -> dict[str, Any]:
    fields = {field.name for field in dataclasses.fields(Config)}
    return {
        name: os.environ[f"MSEARCH_{name.upper()}"]
        for name in fields
        if f"MSEARCH_{name.upper()}" in os.environ
    }


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def _typed(values: dict[str, Any], origin: dict[str, str]) -> Config:
    """The Config for ``values``, strictly: a TOML value must have the setting's type (no
    ``chunk_tokens = true`` read as 1, no ``path = 5`` read as a folder ``5``); a variable's
    text must spell one (``MSEARCH_ALLOW_DOWNLOAD=flase`` is an error, not false)."""
    out: dict[str, Any] = {}
    for field in dataclasses.fields(Config):
        if field.name not in values:
            continue
        value = values[field.name]
        kind = {"bool": bool, "int": int}.get(str(field.type), field.type)
        out[field.name] = _checked(field.name, kind, value, origin.get(field.name, "a setting"))
    return Config(**out)


def _checked(name: str, kind: Any, value: Any, where: str) -> Any:
    def wrong(expected: str) -> InvalidInputError:
        return InvalidInputError(f"{name} (from {where}) must be {expected}, got {value!r}")

    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
            return value.strip().lower() in _TRUE
        raise wrong("true or false")
    if kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        raise wrong("a whole number")
    if not isinstance(value, str):
        raise wrong("a string")
    return value
