"""Export a model to ONNX once, with torch, for the ``"onnx"`` backend (``onnx_runtime``).

The graph is traced from the model's own torch code by ``torch.onnx.export``: for an embedder,
the sentence-transformers modules after the transformer (pooling, Dense) are traced with it, so
the graph returns the sentence embedding that ``SentenceTransformer.encode`` computes (its
``Normalize`` layer is left to msearch, which normalizes unless ``normalize=False``). For a
cross-encoder, the graph returns the classifier's logit. Attention is exported in its eager
form and traced on a padded batch, so the graph is right for every padding pattern.

Beside the graph the entry holds the model's fast tokenizer (``tokenizer.json``), the torch
model's float32 outputs on ``fidelity_texts`` (``reference.npy``), and ``msearch-export.json``:
the inputs, truncation limit, padding, prompts and output size the runtime needs.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from msearch._deps import require
from msearch.backends._loading import input_limit, locate_model, model_not_found
from msearch.backends.base import choose_prompts
from msearch.backends.export_cache import build_entry, entry_path, local_model_folder
from msearch.backends.onnx_entry import (
    CROSS_ENCODER,
    EMBEDDER,
    FORMAT,
    GRAPH,
    MANIFEST,
    REFERENCE,
    fidelity_pairs,
    fidelity_texts,
)
from msearch.errors import BackendError, MSearchError
from msearch.models import ModelSpec

_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
#: ONNX opset of the export; OpenVINO and ONNX Runtime both read it.
OPSET = 17


def export(
    source: Path,
    target: Path,
    kind: str,
    spec: ModelSpec,
    *,
    trust_remote_code: bool,
    quiet: bool = False,
) -> None:
    """Write the entry for ``source`` exported as ``kind`` into the empty folder ``target``;
    ``quiet`` hides transformers' progress bars while it loads the model."""
    try:
        with _bars_hidden(quiet):
            manifest = _export(source, target, kind, spec, trust_remote_code)
    except MSearchError:
        raise
    except OSError as err:
        raise model_not_found(str(source), err) from err
    except Exception as err:  # tracing and export fail in many library-specific types
        raise BackendError(f"exporting {source} to ONNX failed: {err}") from err
    manifest.update(format=FORMAT, kind=kind, source=str(source), fidelity={})
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")


@contextlib.contextmanager
def _bars_hidden(quiet: bool) -> Iterator[None]:
    logging = require("transformers", "st").utils.logging
    shown = logging.is_progress_bar_enabled()
    if quiet and shown:
        logging.disable_progress_bar()
    try:
        yield
    finally:
        if quiet and shown:
            logging.enable_progress_bar()


def _export(
    source: Path, target: Path, kind: str, spec: ModelSpec, trust_remote_code: bool
) -> dict[str, Any]:
    if kind == EMBEDDER:
        return _export_embedder(source, target, spec, trust_remote_code)
    if kind == CROSS_ENCODER:
        return _export_cross_encoder(source, target, spec, trust_remote_code)
    raise ValueError(f"kind must be {EMBEDDER!r} or {CROSS_ENCODER!r}, got {kind!r}")


def _export_embedder(
    source: Path, target: Path, spec: ModelSpec, trust_remote_code: bool
) -> dict[str, Any]:
    st = require("sentence_transformers", "st")
    torch = require("torch", "st")
    from msearch.backends.sentence_transformers import _set_pooling

    model = st.SentenceTransformer(
        str(source),
        device="cpu",
        trust_remote_code=trust_remote_code,
        model_kwargs={"attn_implementation": "eager"},
    )
    if spec.max_tokens:
        model.max_seq_length = spec.max_tokens
    modules = require("sentence_transformers.models", "st")
    if spec.pooling is not None:
        _set_pooling(modules, model, spec.pooling, spec.name)
    layers = [m for m in model._modules.values() if not isinstance(m, modules.Normalize)]
    first = layers[0]
    tokenizer = model.tokenizer
    _check_fast(tokenizer, source)
    prompts = choose_prompts(dict(model.prompts or {}), model.default_prompt_name)
    model.default_prompt_name = None

    pipeline = torch.nn.Sequential(*layers).eval()
    tokenize = getattr(model, "preprocess", None) or model.tokenize  # renamed in ST 6
    example = _example(tokenize(["a padded example sentence of some length", "short"]))

    class SentenceEmbedding(torch.nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.pipeline = pipeline

        def forward(self, *tensors: Any) -> Any:
            return self.pipeline(dict(zip(example, tensors, strict=True)))["sentence_embedding"]

    _trace(torch, SentenceEmbedding().eval(), example, target / GRAPH, "embedding")
    with torch.inference_mode():
        reference = model.encode(
            fidelity_texts(), batch_size=16, convert_to_numpy=True, show_progress_bar=False
        )
    np.save(target / REFERENCE, np.asarray(reference, dtype=np.float32))
    tokenizer.save_pretrained(str(target))
    return {
        "inputs": list(example),
        "max_length": int(model.max_seq_length) if model.max_seq_length else None,
        "lowercase": bool(getattr(first, "do_lower_case", False)),
        **_padding(tokenizer),
        "dim": int(reference.shape[1]),
        "prompts": list(prompts),
        "exported_with": _versions(torch, st),
    }


def _export_cross_encoder(
    source: Path, target: Path, spec: ModelSpec, trust_remote_code: bool
) -> dict[str, Any]:
    transformers = require("transformers", "st")
    torch = require("torch", "st")
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        str(source), trust_remote_code=trust_remote_code, attn_implementation="eager"
    ).eval()
    if model.config.num_labels != 1:
        raise BackendError(
            f"{spec.name} has {model.config.num_labels} output labels; a cross-encoder "
            "reranker needs exactly one relevance logit"
        )
    tokenizer = transformers.AutoTokenizer.from_pretrained(
        str(source), trust_remote_code=trust_remote_code
    )
    _check_fast(tokenizer, source)
    limit = input_limit(tokenizer, model.config, spec.max_tokens)

    def tokenize(pairs: list[tuple[str, str]]) -> Any:
        return tokenizer(
            [q for q, _ in pairs],
            [d for _, d in pairs],
            padding=True,
            truncation="longest_first",
            max_length=limit,
            return_tensors="pt",
        )

    example = _example(tokenize([("a query", "a padded example passage"), ("q", "short")]))

    class Logit(torch.nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: Any) -> Any:
            return self.model(**dict(zip(example, tensors, strict=True))).logits

    _trace(torch, Logit().eval(), example, target / GRAPH, "logit")
    pairs = fidelity_pairs()
    with torch.inference_mode():
        logits = [model(**tokenize(pairs[i : i + 16])).logits for i in range(0, len(pairs), 16)]
    reference = torch.cat(logits).float().numpy().reshape(-1)
    np.save(target / REFERENCE, reference)
    tokenizer.save_pretrained(str(target))
    return {
        "inputs": list(example),
        "max_length": limit,
        "lowercase": False,
        **_padding(tokenizer),
        "exported_with": _versions(torch, transformers),
    }


def _example(features: Any) -> dict[str, Any]:
    """The model's own tokenized batch, limited to the inputs a graph takes, in a fixed order."""
    return {name: features[name] for name in _INPUTS if name in features}


def _trace(torch: Any, module: Any, example: dict[str, Any], path: Path, output: str) -> None:
    axes = {name: {0: "batch", 1: "sequence"} for name in example}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracer warns about every Python branch it fixes
        torch.onnx.export(
            module,
            tuple(example.values()),
            str(path),
            input_names=list(example),
            output_names=[output],
            dynamic_axes={**axes, output: {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )


def _check_fast(tokenizer: Any, source: Path) -> None:
    if not getattr(tokenizer, "is_fast", False):
        raise BackendError(
            f"{source} has no fast tokenizer (tokenizer.json), which the onnx backend runs; "
            "use backend='sentence-transformers' for it"
        )


def _padding(tokenizer: Any) -> dict[str, Any]:
    if tokenizer.pad_token_id is None:
        raise BackendError("the model's tokenizer has no padding token")
    return {
        "pad_id": int(tokenizer.pad_token_id),
        "pad_token": str(tokenizer.pad_token),
        "padding_side": str(getattr(tokenizer, "padding_side", "right")),
    }


def _versions(*modules: Any) -> dict[str, str]:
    return {module.__name__: str(module.__version__) for module in modules}


def exported_entry(
    name: str,
    kind: str,
    *,
    spec: ModelSpec,
    cache_dir: str | os.PathLike[str] | None = None,
    trust_remote_code: bool = False,
    announce: bool = True,
) -> Path:
    """The cache entry of ``name`` exported as ``kind``, exporting it (with torch) if missing;
    ``announce`` says so on stderr first, since a large model takes minutes."""
    source = local_model_folder(locate_model(name))
    pooling = spec.pooling.value if spec.pooling else None
    key = "-".join(str(part) for part in (kind, f"v{FORMAT}", pooling, spec.max_tokens) if part)
    entry = entry_path(source, key, cache_dir)
    if (entry / MANIFEST).is_file():
        return entry
    if announce:
        print(
            f"msearch: exporting {name} for the onnx backend (once; kept in {entry.parent})",
            file=sys.stderr,
        )

    def make(staging: Path) -> None:
        export(source, staging, kind, spec, trust_remote_code=trust_remote_code, quiet=not announce)

    return build_entry(entry, MANIFEST, make)
