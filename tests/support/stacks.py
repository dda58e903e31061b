"""Backend names as test parameters, marked with the stack that can run them."""

from __future__ import annotations

from typing import Any

import pytest

#: In-process backends whose library installs only in the legacy stack, by backend name.
LEGACY_BACKENDS = {"infinity": "infinity_emb", "flag": "FlagEmbedding"}


def backends(*names: str) -> list[Any]:
    """``names`` as pytest parameters; a legacy-stack backend carries ``legacy_stack``, so it
    is skipped where its library does not import (see tests/conftest.py)."""
    return [
        pytest.param(name, marks=[pytest.mark.legacy_stack(LEGACY_BACKENDS[name])])
        if name in LEGACY_BACKENDS
        else name
        for name in names
    ]
