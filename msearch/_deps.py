"""Optional dependencies: imported only where a feature needs them."""

from __future__ import annotations

import importlib
from types import ModuleType

from msearch.errors import MissingDependencyError


def require(module: str, extra: str) -> ModuleType:
    """Import an optional dependency, or say exactly which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingDependencyError(
            f'{module} is needed for this feature: pip install "msearch[{extra}]"'
        ) from err
