"""Options that hold secrets, kept out of what the framework adapters show and serialize.

The adapters keep their backend options in a field, which pydantic prints (``str()``) and
``model_dump()`` / LlamaIndex's ``to_dict()`` write out. An API key passed as an option goes to
the backend only; the field holds the other options. After ``from_dict()``, the key comes from
the backend's environment variable (``$OPENAI_API_KEY``, ``$TEI_API_KEY``, ``$INFINITY_API_KEY``)
or must be passed again.
"""

from __future__ import annotations

from typing import Any

SECRET_OPTIONS = frozenset({"api_key"})


def without_secrets(options: dict[str, Any]) -> dict[str, Any]:
    """``options`` minus the secret ones, to store where it may be shown."""
    return {key: value for key, value in options.items() if key not in SECRET_OPTIONS}
