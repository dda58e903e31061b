"""``precision="int8-onnx"``: a model exported to ONNX once, quantized to int8, cached on disk.

The export runs offline from the model's local folder (or its copy in the Hugging Face cache):
optimum exports the transformer to ONNX, ONNX Runtime quantizes its weights to int8 per
channel with dynamic (per-batch) activation scales, and the result is kept in a cache folder
keyed by the source files, so the minute-long export happens once per model and CPU kind.

Cache folder: ``MSEARCH_ONNX_CACHE`` if set, else ``$XDG_CACHE_HOME/msearch/onnx``, else
``~/.cache/msearch/onnx``; backends also take ``onnx_cache_dir=``. Each entry is a copy of the
model folder without its torch weights plus ``onnx/model_qint8.onnx``, which sentence-transformers
loads with ``backend="onnx"``.

>>> from msearch.embeddings import text_embedder
>>> embedder = text_embedder("./all-MiniLM-L6-v2", precision="int8-onnx")  # doctest: +SKIP
>>> embedder.embed_query("hello").shape  # doctest: +SKIP
(384,)
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from msearch._deps import require
from msearch.backends._loading import model_not_found
from msearch.errors import BackendError, ModelNotFoundError
from msearch.precision import CpuFeatures, detect_cpu

#: The quantized graph inside a cache entry, relative to the entry.
QUANTIZED_FILE = "onnx/model_qint8.onnx"

#: Files of the source folder not copied into a cache entry: torch/TF weights and old exports.
_SKIPPED_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".h5", ".msgpack", ".ckpt")
_SKIPPED_FOLDERS = ("onnx", "openvino")

#: Export kinds: optimum model class for each.
_TASKS = {
    "feature-extraction": "ORTModelForFeatureExtraction",
    "text-classification": "ORTModelForSequenceClassification",
}


def onnx_cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where quantized exports live (see the module docs for the order of choices)."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if os.environ.get("MSEARCH_ONNX_CACHE"):
        return Path(os.environ["MSEARCH_ONNX_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "msearch" / "onnx"


def local_model_folder(name_or_path: str) -> Path:
    """The model's files on disk: the folder itself, or its snapshot in the HF cache.

    The export never downloads: a model that is neither a folder nor cached fails here.
    """
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    hub = require("huggingface_hub", "onnx")
    try:
        return Path(hub.snapshot_download(repo_id=name_or_path, local_files_only=True))
    except Exception as err:  # hub errors come in many types; all mean "not available offline"
        raise model_not_found(name_or_path, err) from err


def quantization_isa(features: CpuFeatures) -> str:
    """ONNX Runtime's quantization preset for this CPU: arm64, avx512_vnni or avx2."""
    if features.arm64:
        return "arm64"
    return "avx512_vnni" if features.avx512_vnni else "avx2"


def quantized_model(
    name_or_path: str,
    task: str,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    features: CpuFeatures | None = None,
) -> Path:
    """The cache entry holding ``QUANTIZED_FILE`` for this model, exporting it if missing.

    ``task`` is ``"feature-extraction"`` (embedders) or ``"text-classification"``
    (cross-encoders).
    """
    if task not in _TASKS:
        raise ValueError(f"task must be one of {sorted(_TASKS)}, got {task!r}")
    source = local_model_folder(name_or_path)
    isa = quantization_isa(features or detect_cpu())
    root = onnx_cache_root(cache_dir)
    entry = root / f"{_safe_name(source)}-{task}-{isa}-{_fingerprint(source)}"
    if (entry / QUANTIZED_FILE).is_file():
        return entry
    root.mkdir(parents=True, exist_ok=True)
    # Build beside the final place and rename it in: a crash or a concurrent export never leaves
    # a half-written entry that a later load would trust.
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=root))
    try:
        _export(source, staging, task, isa)
        try:
            staging.rename(entry)
        except OSError:
            if not (entry / QUANTIZED_FILE).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return entry


def _export(source: Path, target: Path, task: str, isa: str) -> None:
    ort = require("optimum.onnxruntime", "onnx")
    configuration = require("optimum.onnxruntime.configuration", "onnx")
    for item in source.iterdir():
        if item.is_dir() and item.name not in _SKIPPED_FOLDERS:
            shutil.copytree(item, target / item.name)
        elif item.is_file() and not item.name.endswith(_SKIPPED_SUFFIXES):
            shutil.copy2(item, target / item.name)
    onnx_dir = target / "onnx"
    try:
        exported = getattr(ort, _TASKS[task]).from_pretrained(str(source), export=True)
        exported.save_pretrained(str(onnx_dir))
        preset = getattr(configuration.AutoQuantizationConfig, isa)
        quantizer = ort.ORTQuantizer.from_pretrained(str(onnx_dir), file_name="model.onnx")
        quantizer.quantize(
            save_dir=str(onnx_dir),
            quantization_config=preset(is_static=False, per_channel=True),
            file_suffix="qint8",
        )
    except (OSError, ModelNotFoundError) as err:
        raise model_not_found(str(source), err) from err
    except Exception as err:  # export and quantization fail in many library-specific types
        raise BackendError(f"exporting {source} to int8 ONNX failed: {err}") from err
    (onnx_dir / "model.onnx").unlink(missing_ok=True)  # the fp32 graph is not needed again
    if not (target / QUANTIZED_FILE).is_file():
        raise BackendError(f"int8 ONNX export of {source} wrote no {QUANTIZED_FILE}")


def load_ort_classifier(entry: Path) -> Any:
    """The quantized sequence classifier of a cache entry, shaped for sentence-transformers'
    ``CrossEncoder.model`` (which calls it like a transformers model)."""
    ort = require("optimum.onnxruntime", "onnx")
    model = ort.ORTModelForSequenceClassification.from_pretrained(
        str(entry / "onnx"),
        file_name=Path(QUANTIZED_FILE).name,
        provider="CPUExecutionProvider",
    )
    return _CrossEncoderOrtModel(model)


class _CrossEncoderOrtModel:
    """The few parts of a torch module that ``CrossEncoder.predict`` touches, over ONNX Runtime."""

    def __init__(self, model: Any) -> None:
        import torch

        self._model = model
        self.config = model.config
        self.device = torch.device("cpu")

    def eval(self) -> _CrossEncoderOrtModel:
        return self

    def to(self, *_args: Any, **_kwargs: Any) -> _CrossEncoderOrtModel:
        return self

    def __call__(self, return_dict: bool = True, **features: Any) -> Any:
        return self._model(**features)


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
