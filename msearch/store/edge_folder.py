"""The open Qdrant Edge shards of one embedded folder, shared within a process.

Every ``EdgeEngine`` on a folder shares one ``EdgeFolder``: the shards it has opened (an Edge
shard can be open once; its WAL lock refuses a second opening, also from another process)
and a count of its users; the last ``release`` flushes and closes them. Edge raises plain
``Exception`` for everything, so ``call`` turns its errors into msearch's typed ones.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import weakref
from pathlib import Path
from types import ModuleType
from typing import Any

from msearch.errors import InvalidInputError, StoreError, StoreLockedError
from msearch.store import edge_checks
from msearch.store import schema as s
from msearch.store.folders import EDGE, check_folder, write_json, write_marker

COLLECTIONS = "collections"
RECORD = "msearch.json"
SHARD = "shard"
#: How many points msearch last saw in a collection (``null`` while a delete runs): a shard
#: that opens with fewer has lost some to damaged files.
COUNT_RECORD = "msearch-count.json"
#: Free disk space Qdrant Edge needs to open a store: it maps its files into memory and writes
#: on opening; on a full disk that kills the process with SIGBUS instead of raising (seen at
#: under 30 MB free). A write keeps twice this free, so the store still opens after it.
MIN_FREE_BYTES = 32 * 1024 * 1024


def check_space(folder: Path, writing: int | None = None) -> None:
    """Refuse, with a StoreError, to open (``writing`` None) or write a store whose disk has
    too little room. A write of ``writing`` bytes asks for three times that (the write-ahead
    log, the segment, room to merge) beside twice ``MIN_FREE_BYTES``.
    """
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    needed = MIN_FREE_BYTES if writing is None else 2 * MIN_FREE_BYTES + 3 * writing
    if free < needed:
        raise StoreError(
            f"only {free // 2**20} MiB are free on the disk that holds {folder}; Qdrant Edge "
            f"needs {needed // 2**20} MiB there to {'open' if writing is None else 'write'} it "
            "safely (on a full disk it would crash the process): free some space and run "
            "again. This step wrote nothing; points written before it are kept."
        )


class EdgeFolder:
    """The open shards of one folder, shared by every EdgeEngine on it in this process."""

    def __init__(self, qe: ModuleType, root: Path, temporary: bool) -> None:
        self.qe = qe
        self.root = root
        self.temporary = temporary
        self.users = 0
        self._shards: dict[str, Any] = {}
        self._changing: set[str] = set()
        #: How each loaded shard was checked for damage (``edge_checks``).
        self.checks: dict[str, str] = {}
        self._lock = threading.RLock()

    def directory(self, name: str) -> Path:
        return self.root / COLLECTIONS / _folder_name(name)

    def exists(self, name: str) -> bool:
        return name in self._shards or (self.directory(name) / SHARD / "edge_config.json").is_file()

    def shard(self, name: str) -> Any:
        with self._lock:
            shard = self._shards.get(name)
            if shard is None:
                path = self.directory(name) / SHARD
                if not (path / "edge_config.json").is_file():
                    raise StoreError(f"collection {name!r} does not exist in {self.root}")
                if not self.temporary:
                    self.checks[name] = edge_checks.check(self.directory(name), path, REBUILD)
                shard = call(self.qe.EdgeShard.load, str(path), where=path, loading=True)
                if not self.temporary:
                    self._check_count(name, shard)
                self._shards[name] = shard
            return shard

    def changing(self, name: str) -> None:
        """Say that ``name``'s files are about to change (its checksums no longer hold)."""
        if self.temporary or name in self._changing:
            return
        edge_checks.forget(self.directory(name))
        self._changing.add(name)

    def record_count(self, name: str, points: int | None) -> None:
        """Remember how many points the collection holds (``None``: a delete is running)."""
        if self.temporary:
            return
        write_json(self.directory(name) / COUNT_RECORD, {"points": points})

    def recorded_count(self, name: str) -> int | None:
        """The count msearch recorded; None when it has none (an interrupted delete, or a
        collection written before msearch kept one)."""
        path = self.directory(name) / COUNT_RECORD
        if self.temporary or not path.is_file():
            return None
        recorded = read_json(path)
        points = recorded.get("points") if isinstance(recorded, dict) else None
        return points if isinstance(points, int) else None

    def _check_count(self, name: str, shard: Any) -> None:
        expected = self.recorded_count(name)
        if expected is None:
            return
        found = int(call(shard.count, self.qe.CountRequest(exact=True, filter=None)))
        if found < expected:
            raise StoreError(
                f"the collection {name!r} in {self.root} holds {found} points where msearch "
                f"recorded {expected}: {REBUILD}"
            )

    def create(self, name: str, schema: s.Schema, config: Any) -> None:
        with self._lock:
            directory = self.directory(name)
            directory.mkdir(parents=True, exist_ok=True)
            self.changing(name)
            # The record goes first: a crash before the shard exists leaves a collection that
            # does not exist yet (and is created again), never a shard without its record.
            record = {"collection": name, s.METADATA_KEY: schema.as_record()}
            write_json(directory / RECORD, record, indent=1)
            path = directory / SHARD
            shard = call(self.qe.EdgeShard.create, str(path), config, where=path)
            # Payload indexes on msearch's own keys keep deletes by source/doc_id and
            # modality filters fast at any size.
            for key in s.INDEXED_KEYS:
                operation = self.qe.UpdateOperation.create_field_index(
                    key, self.qe.PayloadSchemaType.Keyword
                )
                call(shard.update, operation)
            self._shards[name] = shard

    def drop(self, name: str) -> None:
        with self._lock:
            shard = self._shards.pop(name, None)
            if shard is not None:
                call(shard.close)
            shutil.rmtree(self.directory(name), ignore_errors=False)

    def close(self) -> None:
        with self._lock:
            shards, self._shards = dict(self._shards), {}
            for name, shard in shards.items():
                call(shard.flush)
                call(shard.close)
                if not self.temporary:  # loading rewrites some files: record them anew
                    self._record_checksums(name)
            self._changing.clear()
            self.checks.clear()
            if self.temporary:
                shutil.rmtree(self.root, ignore_errors=True)

    def _record_checksums(self, name: str) -> None:
        directory = self.directory(name)
        try:
            edge_checks.record(directory, directory / SHARD)
        except OSError:  # unreadable or full: no record, so the next open probes instead
            edge_checks.forget(directory)


_registry_lock = threading.Lock()
_registry: dict[Path, EdgeFolder] = {}


def acquire(qe: ModuleType, folder: str | os.PathLike[str] | None) -> EdgeFolder:
    if folder is None:
        root = Path(tempfile.mkdtemp(prefix="msearch-edge-"))
        opened = EdgeFolder(qe, root, temporary=True)
        write_marker(root, _version())
        opened.users = 1
        # A store that is never closed must not leave its temporary folder behind.
        weakref.finalize(opened, shutil.rmtree, root, True)
        return opened
    root = Path(folder).expanduser().resolve()
    with _registry_lock:
        shared = _registry.get(root)
        if shared is None:
            check_space(root)
            check_folder(root, EDGE)
            write_marker(root, _version())
            shared = _registry[root] = EdgeFolder(qe, root, temporary=False)
        shared.users += 1
        return shared


def release(folder: EdgeFolder) -> None:
    with _registry_lock:
        folder.users -= 1
        if folder.users > 0:
            return
        if _registry.get(folder.root) is folder:
            del _registry[folder.root]
    folder.close()


def _folder_name(name: str) -> str:
    if not name or name in (".", "..") or any(c in name for c in "/\\\0") or len(name) > 200:
        raise InvalidInputError(
            f"collection name {name!r} cannot name a folder: use letters, digits, '-', '_', '.'"
        )
    return name


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("qdrant-edge-py")
    except PackageNotFoundError:
        return "unknown"


#: What to do about a store whose files are damaged, said by every error that finds one.
REBUILD = (
    "the store's files are damaged: move the folder aside and rebuild it (msearch index the "
    "source folder again, or msearch export a copy you still have)"
)


def read_json(path: Path) -> Any:
    """One of msearch's JSON files in an Edge folder; a damaged one is a StoreError."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise StoreError(f"{path} is not readable JSON ({err}): {REBUILD}") from err


def call(fn: Any, *args: Any, where: Path | None = None, loading: bool = False) -> Any:
    """Run one Edge call, turning its untyped errors into msearch's typed ones.

    qdrant_edge raises plain ``Exception`` for everything, and a Rust panic (pyo3's
    ``PanicException``, a ``BaseException``) on some damaged files: both become StoreError.
    A shard that fails to load (``loading``) has damaged files, and the error says so.
    """
    try:
        return fn(*args)
    except BaseException as err:
        if not isinstance(err, Exception) and type(err).__name__ != "PanicException":
            raise  # KeyboardInterrupt, SystemExit ...
        message = str(err)
        if not isinstance(err, Exception):
            raise StoreError(
                f"Qdrant Edge panicked ({message})"
                + (f" on {where}" if where else "")
                + f": {REBUILD}"
            ) from err
        if "WouldBlock" in message:
            raise StoreLockedError(
                f"the Qdrant Edge collection at {where} is open in another process; a folder "
                "serves one process at a time per collection. Close the other process, or use "
                "a Qdrant server (url=...) for concurrent access."
            ) from err
        raise StoreError(
            f"Qdrant Edge failed: {message}"
            + (f" ({where})" if where else "")
            + (f": {REBUILD}" if loading else "")
        ) from err
