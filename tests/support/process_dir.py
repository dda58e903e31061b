"""A temporary folder per process, for tiny models built where pytest fixtures are not."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path


@functools.cache
def process_dir(name: str) -> Path:
    """The folder for ``name`` in this process: made on first use, removed at exit."""
    folder = tempfile.mkdtemp(prefix=f"msearch-{name}-")
    atexit.register(shutil.rmtree, folder, True)
    return Path(folder)
