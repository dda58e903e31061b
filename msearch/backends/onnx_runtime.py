"""The ``"onnx"`` backend: text embedders and cross-encoders exported once, run without torch.

The first use of a model exports it from its local folder (``msearch.backends.onnx_export``,
which needs torch and sentence-transformers once) into the export cache
(``msearch.backends.export_cache``). Every later process loads the cached entry with only
OpenVINO (or ONNX Runtime) and ``tokenizers``: torch, transformers and sentence-transformers are
not imported on this path.

What the torch path does is kept: the exported graph is the model's own torch code, pooling and
Dense layers included, traced; the tokenizer is the model's own, saved at export with its
truncation limit; prompts, normalization and Matryoshka truncation are ``TextEmbedderBase``'s,
shared with every backend.

``precision``:

- ``"auto"`` (default): bf16 on OpenVINO where the CPU runs bf16 natively (AVX512-BF16 or AMX)
  and the export's fidelity check passed for bf16, else float32.
- ``"float32"``: exact (the fidelity check holds it to the torch model).
- ``"bfloat16"``: OpenVINO's bf16 inference; on ONNX Runtime it is refused.
- ``"int8-onnx"``: weights quantized to int8 (dynamic, per channel) by ONNX Runtime, which runs
  it. Lossy: about 0.97 cosine to float32 on MiniLM (docs/benchmarks.md).

The fidelity check: at export, the torch model's float32 outputs on a fixed set of mixed-length
texts (``fidelity_texts``) are stored beside the graph; the first time a runtime and precision
run that entry, they are compared (cosine for embedders, logits for cross-encoders) and the
result is recorded in the entry's ``msearch-export.json``. A precision below the bar
(``MIN_COSINE``, ``MAX_LOGIT_ERROR``) is never chosen by ``"auto"``, and float32 below it is an
error that says to use the torch backend.

>>> from msearch.embeddings import text_embedder
>>> embedder = text_embedder("sentence-transformers/all-MiniLM-L6-v2", "onnx")  # doctest: +SKIP
>>> embedder.embed_query("hello").shape  # doctest: +SKIP
(384,)
"""

from __future__ import annotations

import abc
import importlib.util
import logging
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from msearch._deps import require
from msearch.backends.base import (
    BlockingModel,
    EmbedOptions,
    RerankerBase,
    RerankOptions,
    TextEmbedderBase,
)
from msearch.backends.onnx_entry import (
    CROSS_ENCODER,
    EMBEDDER,
    GRAPH,
    INT8_GRAPH,
    REFERENCE,
    fidelity_pairs,
    fidelity_texts,
    read_manifest,
    record_fidelity,
)
from msearch.backends.onnx_export import exported_entry
from msearch.batching import sorted_batches, with_progress
from msearch.errors import BackendError, InvalidInputError, MissingDependencyError
from msearch.models import ModelSpec
from msearch.precision import PrecisionPlan, check_precision, detect_cpu

RUNTIMES = ("openvino", "onnxruntime")

#: The fidelity bars: an embedder's least cosine to torch float32 over the check texts, and a
#: cross-encoder's largest logit difference.
MIN_COSINE = 0.9999
MAX_LOGIT_ERROR = 1e-3

logger = logging.getLogger(__name__)

_PRECISIONS = ("auto", "float32", "bfloat16", "int8-onnx")
_OPENVINO_HINTS = {"float32": "f32", "bfloat16": "bf16"}


def available_runtime(runtime: str = "auto") -> str:
    """``runtime`` if installed; for ``"auto"``, OpenVINO if installed, else ONNX Runtime."""
    if runtime not in ("auto", *RUNTIMES):
        raise InvalidInputError(
            f"runtime must be 'auto', {' or '.join(repr(r) for r in RUNTIMES)}; got {runtime!r}"
        )
    for name in RUNTIMES if runtime == "auto" else (runtime,):
        if importlib.util.find_spec(name) is not None:
            return name
    wanted = "openvino or onnxruntime" if runtime == "auto" else runtime
    raise MissingDependencyError(f'the onnx backend needs {wanted}: pip install "msearch[fast]"')


@dataclass
class Graph:
    """One compiled graph: feeds of int64 arrays by input name in, the first output out."""

    runtime: str
    precision: str
    _call: Any

    def __call__(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        return np.asarray(self._call(feeds), dtype=np.float32)


def compile_graph(entry: Path, runtime: str, precision: str) -> Graph:
    """Load the entry's graph for ``precision`` on ``runtime`` (int8: ONNX Runtime only)."""
    path = _int8_graph(entry) if precision == "int8-onnx" else entry / GRAPH
    try:
        if runtime == "openvino":
            ov = require("openvino", "fast")
            compiled = ov.Core().compile_model(
                str(path),
                "CPU",
                {"INFERENCE_PRECISION_HINT": _OPENVINO_HINTS[precision]},
            )
            output = compiled.output(0)
            return Graph(runtime, precision, lambda feeds: compiled(feeds)[output])
        ort = require("onnxruntime", "fast")
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return Graph(runtime, precision, lambda feeds: session.run(None, feeds)[0])
    except (MissingDependencyError, InvalidInputError):
        raise
    except Exception as err:  # runtime load failures come in library-specific types
        raise BackendError(f"{runtime} could not load {path}: {err}") from err


def _int8_graph(entry: Path) -> Path:
    """The entry's int8 graph, quantized from the float32 one on first use (no torch)."""
    target = entry / INT8_GRAPH
    if target.is_file():
        return target
    quantization = require("onnxruntime.quantization", "fast")
    try:
        handle, temporary = tempfile.mkstemp(dir=entry, prefix=".int8-", suffix=".onnx")
    except OSError as err:
        raise BackendError(f"cannot write the int8 graph into {entry}: {err}") from err
    os.close(handle)
    try:
        logging.disable(logging.WARNING)  # its advice to pre-process goes to the root logger
        quantization.quantize_dynamic(
            str(entry / GRAPH),
            temporary,
            per_channel=True,
            weight_type=quantization.QuantType.QInt8,
        )
        os.replace(temporary, target)
    except Exception as err:  # quantization fails in library-specific types
        raise BackendError(f"quantizing {entry / GRAPH} to int8 failed: {err}") from err
    finally:
        logging.disable(logging.NOTSET)
        Path(temporary).unlink(missing_ok=True)
    return target


#: The graph input each ``tokenizers.Encoding`` field feeds.
_FIELDS = {"input_ids": "ids", "attention_mask": "attention_mask", "token_type_ids": "type_ids"}


class Tokenizer:
    """The model's own tokenizer (``tokenizer.json`` saved at export), padded and truncated as
    the torch path does: to the longest text of a batch, and to the model's limit."""

    def __init__(self, entry: Path, manifest: dict[str, Any]) -> None:
        tokenizers = require("tokenizers", "fast")
        self._tokenizer = tokenizers.Tokenizer.from_file(str(entry / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        if manifest.get("max_length"):
            self._tokenizer.enable_truncation(int(manifest["max_length"]), strategy="longest_first")
        self._tokenizer.enable_padding(
            direction=manifest.get("padding_side", "right"),
            pad_id=int(manifest["pad_id"]),
            pad_token=str(manifest["pad_token"]),
        )
        self._lowercase = bool(manifest.get("lowercase"))
        self._inputs = list(manifest["inputs"])

    def __call__(self, texts: list[str] | list[tuple[str, str]]) -> dict[str, np.ndarray]:
        items: list[Any] = texts
        if self._lowercase:
            items = [
                tuple(part.lower() for part in item) if isinstance(item, tuple) else item.lower()
                for item in texts
            ]
        encodings = self._tokenizer.encode_batch(items)
        return {
            name: np.array([getattr(e, _FIELDS[name]) for e in encodings], dtype=np.int64)
            for name in self._inputs
        }


@dataclass(frozen=True, kw_only=True)
class OnnxLoading:
    """How an exported model runs (see the module docs): ``precision``, ``runtime``, the CPU
    only, and where exports are cached."""

    precision: str = "auto"
    runtime: str = "auto"
    device: str | None = None
    onnx_cache_dir: str | None = None
    trust_remote_code: bool = False


@dataclass(frozen=True, kw_only=True)
class OnnxEmbedOptions(EmbedOptions, OnnxLoading):
    """The options of ``OnnxTextEmbedder``."""


@dataclass(frozen=True, kw_only=True)
class OnnxRerankOptions(RerankOptions, OnnxLoading):
    """The options of ``OnnxCrossEncoderReranker``."""


def check_loading(options: OnnxLoading) -> None:
    """Refuse a precision, runtime or device the onnx backend cannot run, naming it."""
    precision, runtime, device = options.precision, options.runtime, options.device
    check_precision(precision)
    if precision not in _PRECISIONS:
        raise InvalidInputError(
            f"the onnx backend runs precision {', '.join(_PRECISIONS)}; got {precision!r}"
        )
    if device not in (None, "cpu"):
        raise InvalidInputError(f"the onnx backend runs on the CPU only; got device={device!r}")
    if runtime not in ("auto", *RUNTIMES):
        available_runtime(runtime)  # raises, naming the choices
    if precision == "bfloat16" and runtime == "onnxruntime":
        raise InvalidInputError(
            "precision='bfloat16' needs runtime='openvino'; ONNX Runtime runs float32 and int8"
        )
    if precision == "int8-onnx" and runtime == "openvino":
        raise InvalidInputError(
            "precision='int8-onnx' runs on ONNX Runtime; use runtime='onnxruntime' or 'auto'"
        )


class Check(abc.ABC):
    """How an export is held to its torch model: the check inputs, and the fidelity bar."""

    #: How fidelity is measured, for messages.
    measure = ""

    @abc.abstractmethod
    def holds(self, fidelity: float) -> bool:
        """Whether a fidelity figure meets the bar."""

    @abc.abstractmethod
    def outputs(self, graph: Graph, tokenizer: Tokenizer) -> np.ndarray:
        """The graph's outputs on the check inputs (what ``REFERENCE`` holds for torch)."""

    @abc.abstractmethod
    def compare(self, outputs: np.ndarray, reference: np.ndarray) -> float:
        """The fidelity figure of ``outputs`` against the torch reference."""


class Exported:
    """Loading an exported entry: the export, the runtime, the precision and its check.

    What both onnx backends compose; ``plan`` and ``entry`` say what was loaded.
    """

    def __init__(
        self, spec: ModelSpec, kind: str, options: OnnxLoading, check: Check, announce: bool
    ) -> None:
        check_loading(options)
        self.spec = spec
        self.kind = kind
        self.options = options
        self.check = check
        self.announce = announce
        self.plan: PrecisionPlan | None = None
        self.entry: Path | None = None

    def load(self) -> tuple[Graph, Tokenizer, dict[str, Any]]:
        asked = self.options.precision
        runtime = available_runtime("onnxruntime" if asked == "int8-onnx" else self.options.runtime)
        entry = exported_entry(
            self.spec.name,
            self.kind,
            spec=self.spec,
            cache_dir=self.options.onnx_cache_dir,
            trust_remote_code=self.options.trust_remote_code,
            announce=self.announce,
        )
        manifest = read_manifest(entry)
        tokenizer = Tokenizer(entry, manifest)
        precision, reason = self._choose(runtime, manifest)
        graph = compile_graph(entry, runtime, precision)
        fidelity = self._fidelity(entry, manifest, graph, tokenizer)
        check = self.check
        if asked == "auto" and precision == "bfloat16" and not check.holds(fidelity):
            precision, reason = "float32", f"auto: bf16 {check.measure} {fidelity:.6f} is off"
            graph = compile_graph(entry, runtime, precision)
            fidelity = self._fidelity(entry, manifest, graph, tokenizer)
        if precision == "float32" and not check.holds(fidelity):
            raise BackendError(
                f"the {runtime} export of {self.spec.name} does not reproduce the torch model "
                f"({check.measure} {fidelity:.6f}); use backend='sentence-transformers' for it"
            )
        self.entry = entry
        self.plan = PrecisionPlan(asked, precision, "cpu", f"{runtime}, {reason}")
        return graph, tokenizer, manifest

    def _choose(self, runtime: str, manifest: dict[str, Any]) -> tuple[str, str]:
        if self.options.precision != "auto":
            return self.options.precision, f"asked for {self.options.precision}"
        features = detect_cpu()
        if runtime != "openvino" or not features.native_bf16:
            why = "no native bf16 on this CPU" if runtime == "openvino" else "ONNX Runtime"
            return "float32", f"auto: {why}"
        recorded = manifest.get("fidelity", {}).get("openvino/bfloat16")
        if recorded is not None and not self.check.holds(recorded):
            return "float32", f"auto: bf16 {self.check.measure} {recorded:.6f} is off"
        return "bfloat16", f"auto: CPU has {features.describe()}"

    def _fidelity(
        self, entry: Path, manifest: dict[str, Any], graph: Graph, tokenizer: Tokenizer
    ) -> float:
        """The recorded fidelity of this runtime and precision, measured once if missing."""
        key = f"{graph.runtime}/{graph.precision}"
        recorded = manifest.get("fidelity", {}).get(key)
        if recorded is not None:
            return float(recorded)
        reference = np.load(entry / REFERENCE)
        value = self.check.compare(self.check.outputs(graph, tokenizer), reference)
        record_fidelity(entry, key, value)
        manifest.setdefault("fidelity", {})[key] = value
        return value


def _run_batches(
    graph: Graph, tokenizer: Tokenizer, items: list[Any], batches: Iterable[list[int]]
) -> np.ndarray:
    """The graph's output for every item, in the items' order, run batch by batch (each
    batch a list of positions in ``items``)."""
    out: np.ndarray | None = None
    for positions in batches:
        try:
            array = graph(tokenizer([items[i] for i in positions]))
        except Exception as err:  # runtime failures come in library-specific types
            raise BackendError(f"{graph.runtime} failed on {len(positions)} inputs: {err}") from err
        array = array.reshape(len(positions), -1)
        if out is None:
            out = np.empty((len(items), array.shape[1]), np.float32)
        out[positions] = array
    if out is None:
        raise InvalidInputError("nothing to run")
    return out


def _in_order(count: int, size: int = 16) -> list[list[int]]:
    """Batches of ``size`` positions in order, as the export ran the check pairs in torch."""
    return [list(range(start, min(start + size, count))) for start in range(0, count, size)]


class EmbeddingCheck(Check):
    """An embedder's export holds when every check text's vector keeps ``MIN_COSINE``."""

    measure = "least cosine"

    def holds(self, fidelity: float) -> bool:
        return fidelity >= MIN_COSINE

    def outputs(self, graph: Graph, tokenizer: Tokenizer) -> np.ndarray:
        texts = fidelity_texts()
        return _run_batches(graph, tokenizer, texts, sorted_batches(texts, 16))

    def compare(self, outputs: np.ndarray, reference: np.ndarray) -> float:
        norms = np.linalg.norm(outputs, axis=1) * np.linalg.norm(reference, axis=1)
        return float(((outputs * reference).sum(axis=1) / np.maximum(norms, 1e-12)).min())


class LogitCheck(Check):
    """A cross-encoder's export holds when no check pair's logit moves past ``MAX_LOGIT_ERROR``."""

    measure = "largest logit difference"

    def holds(self, fidelity: float) -> bool:
        return fidelity <= MAX_LOGIT_ERROR

    def outputs(self, graph: Graph, tokenizer: Tokenizer) -> np.ndarray:
        pairs = fidelity_pairs()
        return _run_batches(graph, tokenizer, pairs, _in_order(len(pairs)))

    def compare(self, outputs: np.ndarray, reference: np.ndarray) -> float:
        return float(np.abs(outputs.reshape(-1) - reference.reshape(-1)).max())


class OnnxTextEmbedder(BlockingModel, TextEmbedderBase):
    """Text embeddings from a sentence-transformers model, exported once and run by OpenVINO or
    ONNX Runtime (see the module docs for ``precision`` and ``runtime``)."""

    Options: ClassVar[type[OnnxEmbedOptions]] = OnnxEmbedOptions
    options: OnnxEmbedOptions

    def __init__(self, spec: ModelSpec, options: OnnxEmbedOptions | None = None) -> None:
        super().__init__(spec, options)
        announce = self.show_progress is not False
        self.exported = Exported(spec, EMBEDDER, self.options, EmbeddingCheck(), announce)

    @property
    def plan(self) -> PrecisionPlan | None:
        """What ``precision`` chose, and why; set when the model loads."""
        return self.exported.plan

    def _load(self) -> Any:
        return self.exported.load()

    def _model_prompts(self) -> tuple[str, str]:
        query, document = self.loaded[2]["prompts"]
        return str(query), str(document)

    def _model_dim(self) -> int:
        return int(self.loaded[2]["dim"])

    def _encode(self, texts: list[str]) -> np.ndarray:
        graph, tokenizer, _ = self.loaded
        batches = sorted_batches(texts, self.batch_size)
        return _run_batches(
            graph, tokenizer, texts, with_progress(batches, self.show_progress, "embedding")
        )


class OnnxCrossEncoderReranker(BlockingModel, RerankerBase):
    """Reranking with a cross-encoder (one relevance logit per pair), exported once and run by
    OpenVINO or ONNX Runtime. Pairs are truncated longest part first to the model's limit, as
    the sentence-transformers backend does."""

    Options: ClassVar[type[OnnxRerankOptions]] = OnnxRerankOptions
    options: OnnxRerankOptions

    def __init__(self, spec: ModelSpec, options: OnnxRerankOptions | None = None) -> None:
        super().__init__(spec, options)
        announce = self.show_progress is not False
        self.exported = Exported(spec, CROSS_ENCODER, self.options, LogitCheck(), announce)

    @property
    def plan(self) -> PrecisionPlan | None:
        """What ``precision`` chose, and why; set when the model loads."""
        return self.exported.plan

    def _load(self) -> Any:
        return self.exported.load()

    def _score(self, query: str, documents: list[str]) -> np.ndarray:
        graph, tokenizer, _ = self.loaded
        pairs = [(query, document) for document in documents]
        scores = _run_batches(graph, tokenizer, pairs, self._length_batches(documents))
        return scores.reshape(-1).astype(np.float64)
