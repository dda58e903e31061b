"""Which embedded engine an embedded folder belongs to, told from the files inside it.

The two embedded engines keep different files: qdrant-client's local mode writes ``meta.json``
and ``collection/<name>/storage.sqlite``; msearch's Qdrant Edge folders carry a marker file,
``msearch-edge.json``, beside ``collections/<name>/shard/``. Neither engine can read the other's
files, and qdrant-client would quietly start an empty store inside an Edge folder, so every
opening of a folder goes through ``check_folder`` first.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Final, Literal

from msearch.errors import StoreError

EDGE: Final = "edge"
CLIENT: Final = "qdrant-client"
EngineKind = Literal["edge", "qdrant-client"]

EDGE_MARKER = "msearch-edge.json"
EDGE_FORMAT = 1
_CLIENT_FILES = ("meta.json", "collection")


def detect(folder: Path) -> EngineKind | None:
    """The engine whose files ``folder`` holds; ``None`` for a missing or empty folder.

    Raises ``StoreError`` when the folder holds both kinds of files, or a foreign marker.
    """
    if not folder.is_dir():
        return None
    edge = (folder / EDGE_MARKER).is_file()
    client = any((folder / name).exists() for name in _CLIENT_FILES)
    if edge and client:
        raise StoreError(
            f"the embedded folder {folder} holds both a Qdrant Edge store ({EDGE_MARKER}) and "
            "qdrant-client files (meta.json / collection/): it was opened by both engines. "
            "Move one of them to another folder."
        )
    if edge:
        _check_marker(folder / EDGE_MARKER)
        return EDGE
    return CLIENT if client else None


def check_folder(folder: Path, engine: EngineKind) -> None:
    """Raise ``StoreError`` naming what was found if ``folder`` belongs to another engine."""
    found = detect(folder)
    if found is None or found == engine:
        return
    what = {
        EDGE: f"a Qdrant Edge store ({EDGE_MARKER}, collections/*/shard)",
        CLIENT: "a qdrant-client embedded store (meta.json, collection/*/storage.sqlite)",
    }
    raise StoreError(
        f"the embedded folder {folder} holds {what[found]}, not a {engine} store; open it "
        f'with engine="{found}" (or engine="auto"), or export it to a Qdrant server with '
        "msearch.store.export.export_collection"
    )


def write_json(path: Path, data: object, indent: int | None = None) -> None:
    """Write one of msearch's JSON records whole: beside it first, then renamed over it, so a
    crash leaves the old record or the new one, never half of one."""
    temp = path.with_name(path.name + ".tmp")
    temp.write_text(json.dumps(data, indent=indent) + "\n", encoding="utf-8")
    os.replace(temp, path)


def write_marker(folder: Path, edge_version: str) -> None:
    marker = folder / EDGE_MARKER
    if not marker.exists():
        folder.mkdir(parents=True, exist_ok=True)
        record = {"engine": "qdrant-edge", "format": EDGE_FORMAT, "created_with": edge_version}
        marker.write_text(json.dumps(record) + "\n", encoding="utf-8")


def _check_marker(marker: Path) -> None:
    try:
        record = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise StoreError(f"{marker} is not a readable msearch Edge marker: {err}") from err
    if not isinstance(record, dict) or record.get("engine") != "qdrant-edge":
        raise StoreError(f"{marker} does not describe a Qdrant Edge store: {record!r}")
    if record.get("format") != EDGE_FORMAT:
        raise StoreError(
            f"{marker} records Edge folder format {record.get('format')!r}; this msearch reads "
            f"format {EDGE_FORMAT}"
        )
