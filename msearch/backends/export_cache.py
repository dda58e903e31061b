"""Model exports kept on disk: made once from the model's local folder, reused by every process.

A cache entry is a folder named after the source model, the kind of export and a fingerprint
of the source files (their names, sizes and times), so changing the model's files makes a new
entry instead of reusing a stale one. Entries are built in a staging folder beside their final
place and renamed in, so a crash or a concurrent export never leaves a half-written entry that
a later process would trust.

Cache folder: ``MSEARCH_ONNX_CACHE`` if set, else ``$XDG_CACHE_HOME/msearch/onnx``, else
``~/.cache/msearch/onnx``; the backends that export also take ``onnx_cache_dir=``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from msearch._deps import require
from msearch.backends._loading import model_not_found


def onnx_cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where exports live (see the module docs for the order of choices)."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if os.environ.get("MSEARCH_ONNX_CACHE"):
        return Path(os.environ["MSEARCH_ONNX_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "msearch" / "onnx"


def local_model_folder(name_or_path: str) -> Path:
    """The model's files on disk: the folder itself, or its snapshot in the HF cache.

    An export never downloads: a model that is neither a folder nor cached fails here.
    """
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    hub = require("huggingface_hub", "onnx")
    try:
        return Path(hub.snapshot_download(repo_id=name_or_path, local_files_only=True))
    except Exception as err:  # hub errors come in many types; all mean "not available offline"
        raise model_not_found(name_or_path, err) from err


def entry_path(source: Path, kind: str, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The cache entry for exporting ``source`` as ``kind`` (it may not exist yet)."""
    return onnx_cache_root(cache_dir) / f"{_safe_name(source)}-{kind}-{_fingerprint(source)}"


def build_entry(entry: Path, done_file: str, build: Callable[[Path], None]) -> Path:
    """``entry``, built by ``build(staging_folder)`` unless it already holds ``done_file``."""
    if (entry / done_file).is_file():
        return entry
    entry.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=entry.parent))
    try:
        build(staging)
        try:
            staging.rename(entry)
        except OSError:  # another process finished the same export first
            if not (entry / done_file).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return entry


def _safe_name(source: Path) -> str:
    if source.parent.name == "snapshots":  # Hugging Face cache: models--org--name/snapshots/<sha>
        name = source.parent.parent.name
    elif source.name == "model":  # a model shipped inside a Python package
        name = source.parent.name
    else:
        name = source.name
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:80]


def _fingerprint(source: Path) -> str:
    """A key that changes when any file of the model folder changes (name, size, time)."""
    digest = hashlib.sha256(str(source.resolve()).encode())
    for item in sorted(source.rglob("*")):
        if item.is_file():
            stat = item.stat()
            digest.update(f"{item.relative_to(source)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:12]
