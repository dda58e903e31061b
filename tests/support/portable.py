"""Model folders that both dependency stacks load."""

from __future__ import annotations

import json
from pathlib import Path


def portable_tokenizer(folder: str | Path) -> None:
    """Name a saved fast tokenizer's class so that transformers 4 loads it too.

    transformers 5 saves a ``PreTrainedTokenizerFast`` as ``"TokenizersBackend"``, a class
    transformers 4 does not have; the legacy stack's Infinity server serves these folders.
    """
    path = Path(folder) / "tokenizer_config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    if config.get("tokenizer_class") == "TokenizersBackend":
        config["tokenizer_class"] = "PreTrainedTokenizerFast"
        path.write_text(json.dumps(config, indent=2), encoding="utf-8")
