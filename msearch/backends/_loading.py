"""Finding model weights on disk or on a hub, with errors that say how to get them."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from msearch.errors import ModelNotFoundError
from msearch.models import resolve_spec


def locate_model(name: str) -> str:
    """``name`` as a local folder path if it is one, else a packaged copy, else a hub id.

    A registered model with a ``packaged_copy`` whose package is installed loads from that
    package (the same weights, no hub needed). A name that is clearly a path (absolute,
    relative with ``./``, ``~``) but does not exist fails here, before any library tries the
    hub with it.
    """
    path = Path(name).expanduser()
    packaged = _packaged_folder(name)
    if packaged is not None and not path.exists():
        return packaged
    if path.exists():
        if not path.is_dir():
            raise ModelNotFoundError(f"model path {name!r} is a file; pass the model's folder")
        return str(path)
    if name.startswith(("/", "./", "../", "~", ".\\")) or name.count("/") > 1:
        raise ModelNotFoundError(
            f"model folder {name!r} does not exist; pass an existing folder or a hub id "
            "such as 'sentence-transformers/all-MiniLM-L6-v2'"
        )
    return name


def model_not_found(name: str, cause: BaseException) -> ModelNotFoundError:
    """The error for a model that no library could load from disk or hub."""
    offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
    where = "offline mode (HF_HUB_OFFLINE) is on" if offline else "the hub could not provide it"
    return ModelNotFoundError(
        f"model {name!r} could not be loaded: it is not a local folder, it is not in the "
        f"Hugging Face cache, and {where}. Download it once with "
        f"`huggingface-cli download {name}` or pass the path of a local copy. ({cause})"
    )


def torch_dtype(name: str) -> object:
    """The torch dtype for ``"float32"``, ``"bfloat16"`` or ``"float16"``."""
    import torch

    dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if name not in dtypes:
        raise ValueError(f"dtype must be one of {sorted(dtypes)}, got {name!r}")
    return dtypes[name]


def _packaged_folder(name: str) -> str | None:
    package = resolve_spec(name).packaged_copy
    if not package:
        return None
    found = importlib.util.find_spec(package)
    if found is None or found.origin is None:
        return None
    folder = Path(found.origin).parent / "model"
    return str(folder) if folder.is_dir() else None
