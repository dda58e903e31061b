"""The cache entry of an exported model: what it holds, how it is made, what it recorded.

An entry (a folder in the export cache, ``msearch.backends.export_cache``) holds the graph
(``GRAPH``), the model's tokenizer, the torch model's float32 outputs on the fixed check
inputs (``REFERENCE``, from ``fidelity_texts`` / ``fidelity_pairs``) and ``MANIFEST``: what the
runtime needs (inputs, truncation, padding, prompts, size) and the fidelity each runtime and
precision measured against that reference. Making one needs torch (``onnx_export``); reading
one needs nothing but the standard library and NumPy.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from msearch.errors import BackendError

logger = logging.getLogger(__name__)

#: Export kinds, as named in cache entries and manifests.
EMBEDDER = "embedder"
CROSS_ENCODER = "cross-encoder"

MANIFEST = "msearch-export.json"
GRAPH = "model.onnx"
INT8_GRAPH = "model_qint8.onnx"
REFERENCE = "reference.npy"
#: Bumped when an entry's layout changes, so old entries are exported again.
FORMAT = 1

_CHECK_TEXT = (
    "the a of to in is on for with cat dog vector search database query river city music book "
    "python code fast slow red blue apple tree sea fish bird mountain engine model index store "
    "embedding passage language quantum history market energy protein galaxy theorem Paris "
    "Zürich naïve café 東京 données 42 3.14 e-mail user@example.com (brackets) don't"
)
_CHECK_WORDS = _CHECK_TEXT.split(" ")


def fidelity_texts(count: int = 48) -> list[str]:
    """The fixed texts that exports are checked on: 1 to 400 words, some past most limits."""
    rng = np.random.default_rng(20261203)
    lengths = np.clip(rng.lognormal(3.0, 1.1, count).astype(int), 1, 400)
    lengths[:2] = (1, 400)  # the shortest and a long one are always there
    return [" ".join(rng.choice(_CHECK_WORDS, n)) for n in lengths]


def fidelity_pairs(count: int = 32) -> list[tuple[str, str]]:
    """Query-passage pairs for checking cross-encoder exports."""
    texts = fidelity_texts(count + 8)
    return [(texts[i % 8 + count][:80], texts[i]) for i in range(count)]


def read_manifest(entry: Path) -> dict[str, Any]:
    try:
        data = json.loads((entry / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise BackendError(f"{entry / MANIFEST} is unreadable ({err}); delete {entry}") from err
    return data  # type: ignore[no-any-return]


def record_fidelity(entry: Path, key: str, value: float) -> None:
    """Add one fidelity figure to the entry's manifest (a whole-file replace, never partial)."""
    manifest = read_manifest(entry)
    manifest.setdefault("fidelity", {})[key] = value
    try:
        handle, temporary = tempfile.mkstemp(dir=entry, prefix=".manifest-")
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(manifest, file, indent=2)
        os.replace(temporary, entry / MANIFEST)
    except OSError as err:  # a read-only cache: the check runs again next time
        logger.debug("could not record %s fidelity in %s: %s", key, entry, err)
