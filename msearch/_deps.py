"""Optional dependencies: imported only where a feature needs them."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from msearch.errors import MissingDependencyError

#: Extras that install only in the legacy stack (transformers < 5; docs/stacks.md).
LEGACY_EXTRAS = frozenset({"infinity", "flag", "onnx"})


def require(module: str, extra: str) -> ModuleType:
    """Import an optional dependency, or say exactly which extra installs it.

    A module that is installed but fails to import (FlagEmbedding on transformers 5) is named
    with the reason, not mistaken for a missing one.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        stack = (
            f'; msearch[{extra}] needs the legacy stack (transformers < 5), in a venv of its own: '
            'see docs/stacks.md'
            if extra in LEGACY_EXTRAS
            else ""
        )
        if _installed(module):
            raise MissingDependencyError(
                f"{module} is installed but does not import here ({err}){stack}"
            ) from err
        raise MissingDependencyError(
            f'{module} is needed for this feature: pip install "msearch[{extra}]"{stack}'
        ) from err


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module.split(".")[0]) is not None
    except (ImportError, ValueError):
        return False
