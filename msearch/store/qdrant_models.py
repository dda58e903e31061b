"""``qdrant_client.models``, imported on first use.

Filters and qdrant-client's own types are reached through this module, so a process that
serves a store on Qdrant Edge, with no filter, never pays for importing qdrant-client (about
a second). Type checkers see ``qdrant_client.models`` itself::

    if TYPE_CHECKING:
        from qdrant_client import models
    else:
        from msearch.store import qdrant_models as models
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    from qdrant_client import models

    return getattr(models, name)
