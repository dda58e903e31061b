"""Finding model weights on disk or on a hub, with errors that say how to get them."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any

from msearch.errors import ModelNotFoundError, UnsafeModelError
from msearch.models import resolve_spec


def locate_model(name: str) -> str:
    """``name`` as a local folder path if it is one, else a packaged copy, else a hub id.

    A registered model with a ``packaged_copy`` whose package is installed loads from that
    package (the same weights, no hub needed). A name that is clearly a path (absolute,
    relative with ``./``, ``~``) but does not exist fails here, before any library tries the
    hub with it.
    """
    path = Path(name).expanduser()
    packaged = packaged_folder(name)
    if packaged is not None and not path.exists():
        return check_weights(packaged)
    if path.exists():
        if not path.is_dir():
            raise ModelNotFoundError(f"model path {name!r} is a file; pass the model's folder")
        return check_weights(str(path))
    if name.startswith(("/", "./", "../", "~", ".\\")) or name.count("/") > 1:
        raise ModelNotFoundError(
            f"model folder {name!r} does not exist; pass an existing folder or a hub id "
            "such as 'sentence-transformers/all-MiniLM-L6-v2'"
        )
    return name


#: Set to 1 to load model folders whose weights exist only as pickles (``*.bin``, ``*.pt``).
ALLOW_PICKLE_ENV = "MSEARCH_ALLOW_PICKLE_WEIGHTS"
_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
#: BGE-M3's small heads: FlagEmbedding loads them with ``torch.load(weights_only=True)``.
_WEIGHTS_ONLY_HEADS = frozenset({"sparse_linear.pt", "colbert_linear.pt"})


def check_weights(folder: str) -> str:
    """``folder``, unless some part of the model exists only as pickled weights.

    A folder (or one of the sentence-transformers modules listed in its ``modules.json``)
    whose weights are ``*.bin``/``*.pt`` files with no ``*.safetensors`` beside them is
    refused: unpickling can run code. Other subfolders (``onnx/``, ``openvino/``) are not
    read by the torch loaders. ``MSEARCH_ALLOW_PICKLE_WEIGHTS=1`` opts in for trusted models.
    """
    if os.environ.get(ALLOW_PICKLE_ENV, "") not in ("", "0"):
        return folder
    root = Path(folder)
    for part in (root, *_module_folders(root)):
        files = [item.name for item in part.iterdir() if item.is_file()]
        pickles = [
            f for f in files if f.endswith(_PICKLE_SUFFIXES) and f not in _WEIGHTS_ONLY_HEADS
        ]
        if pickles and not any(f.endswith(".safetensors") for f in files):
            raise UnsafeModelError(
                f"{part} holds weights only as pickles ({', '.join(sorted(pickles))}), and "
                "loading a pickle can run code. Convert them to safetensors, or, if you trust "
                f"this model, set {ALLOW_PICKLE_ENV}=1 to load it anyway"
            )
    return folder


def _module_folders(root: Path) -> list[Path]:
    """The sentence-transformers module folders named in ``root/modules.json``."""
    try:
        modules = json.loads((root / "modules.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(modules, list):
        return []
    paths = [m.get("path") for m in modules if isinstance(m, dict)]
    return [root / p for p in paths if isinstance(p, str) and p and (root / p).is_dir()]


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


#: Tokenizers without a configured limit report a huge sentinel (``int(1e30)``) as their
#: ``model_max_length``; anything at or past this is treated as "no limit".
_UNSET_MAX_LENGTH = 1_000_000


def input_limit(tokenizer: Any, config: Any, max_tokens: int | None = None) -> int | None:
    """The longest token sequence a model takes, or ``None`` when nothing says.

    The smallest of the tokenizer's ``model_max_length`` (unless unset), the config's
    ``max_position_embeddings`` (longer inputs overflow the position table and crash the
    forward pass) and ``max_tokens`` (the registry's or the caller's limit) when given.
    """
    limits = []
    tokenizer_limit = getattr(tokenizer, "model_max_length", None)
    if tokenizer_limit and int(tokenizer_limit) < _UNSET_MAX_LENGTH:
        limits.append(int(tokenizer_limit))
    positions = getattr(config, "max_position_embeddings", None)
    if positions:
        limits.append(int(positions))
    if max_tokens:
        limits.append(int(max_tokens))
    return min(limits) if limits else None


def packaged_folder(name: str) -> str | None:
    """The ``model`` folder of the installed package that ships ``name``'s weights, if any."""
    package = resolve_spec(name).packaged_copy
    if not package:
        return None
    found = importlib.util.find_spec(package)
    if found is None or found.origin is None:
        return None
    folder = Path(found.origin).parent / "model"
    return str(folder) if folder.is_dir() else None


def is_local(name: str) -> bool:
    """Whether ``name`` loads without a hub: a folder, a packaged copy, or in the hub cache."""
    if Path(name).expanduser().is_dir() or packaged_folder(name) is not None:
        return True
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    return isinstance(try_to_load_from_cache(name, "config.json"), str)
