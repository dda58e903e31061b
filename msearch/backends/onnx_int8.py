"""``precision="int8-onnx"``: a model exported to ONNX once, quantized to int8, cached on disk.

The export runs offline from the model's local folder (or its copy in the Hugging Face cache):
optimum exports the transformer to ONNX, ONNX Runtime quantizes its weights to int8 per
channel with dynamic (per-batch) activation scales, and the result is kept in the export cache
(``msearch.backends.export_cache``), so the minute-long export happens once per model and CPU
kind. Each entry is a copy of the model folder without its torch weights plus
``onnx/model_qint8.onnx``, which sentence-transformers loads with ``backend="onnx"``.

>>> from msearch.embeddings import text_embedder
>>> embedder = text_embedder("./all-MiniLM-L6-v2", precision="int8-onnx")  # doctest: +SKIP
>>> embedder.embed_query("hello").shape  # doctest: +SKIP
(384,)
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from msearch._deps import require
from msearch.backends._loading import model_not_found
from msearch.backends.export_cache import build_entry, entry_path, local_model_folder
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
    entry = entry_path(source, f"{task}-{isa}", cache_dir)
    return build_entry(entry, QUANTIZED_FILE, lambda staging: _export(source, staging, task, isa))


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
