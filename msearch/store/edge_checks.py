"""Damage checks for a Qdrant Edge shard, made before Edge reads its files.

Edge reads some damaged files by aborting the whole process (one flipped byte in a segment's
id tracker makes it allocate ~100 GB, and Rust aborts with SIGABRT), which no ``try`` can
catch. So msearch checks a shard before loading it, in one of two ways:

- **Checksums**, recorded each time msearch closes the shard cleanly: every file's size, and
  a BLAKE2b digest of each file under ``HASHED_BYTES`` (versions, journals, configs; JSON files
  with their keys sorted, since Edge rewrites them in a new order on every load and flush) and
  of the id trackers at any size (where one flipped byte aborts Edge). The large preallocated files
  (vector and payload pages, flags, the WAL) are checked by size only, which keeps a check to a
  few milliseconds. Opening a shard whose files no longer match is a StoreError naming the
  first file that differs. The record is removed before msearch's first write, so a process
  killed mid-write leaves no stale record.
- **A probe** where there is no record (after a crash, or a store written before msearch kept
  one): the shard is loaded once in a child process first. A child killed by a signal means the
  files are damaged, and the parent reports it instead of dying the same way. So does a child
  that takes longer than ``PROBE_SECONDS`` or, on Linux, grows past twice the disk space of the
  shard's files plus ``PROBE_SPARE_BYTES`` (a flipped byte in one of Edge's status files makes
  it map and fill a 128 GB file, gigabytes a second); the child is killed then.
"""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from msearch.errors import StoreError
from msearch.store.folders import write_json

#: The record beside the shard folder.
CHECKSUMS = "msearch-checksums.json"
#: Files under this size are hashed; larger ones (mmap pages, flags, the WAL) only sized.
HASHED_BYTES = 1024 * 1024
#: Files hashed at any size: a segment's id tracker, whose damage aborts Qdrant Edge.
_ALWAYS_HASHED = "mutable_id_tracker."
#: The probe's time limit: loading a healthy shard, WAL replay included, takes seconds.
PROBE_SECONDS = 60.0
#: Memory a probe may use beyond twice the size of the shard's files.
PROBE_SPARE_BYTES = 1024 * 1024 * 1024

_PROBE = "import sys, qdrant_edge\nshard = qdrant_edge.EdgeShard.load(sys.argv[1])\nshard.close()\n"


def record(collection: Path, shard: Path) -> None:
    """Write the checksums of ``shard``'s files (after a clean close)."""
    write_json(collection / CHECKSUMS, {"files": _describe(shard)}, indent=0)


def forget(collection: Path) -> None:
    """Drop the record: the shard's files are about to change."""
    (collection / CHECKSUMS).unlink(missing_ok=True)


#: What ``check`` did, as ``msearch info`` reports it.
BY_CHECKSUMS = "its files match the checksums msearch recorded when it last closed it"
BY_PROBE = "no checksums recorded (the last process did not close it): a test load passed"


def check(collection: Path, shard: Path, rebuild: str) -> str:
    """Raise StoreError if ``shard`` is damaged: by its checksums, else by a probe; say which."""
    path = collection / CHECKSUMS
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))["files"]
    except FileNotFoundError:
        _probe(shard, rebuild)
        return BY_PROBE
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise StoreError(f"{path} is not readable ({err}): {rebuild}") from err
    found = _describe(shard)
    for name in sorted(set(recorded) | set(found)):
        if recorded.get(name) != found.get(name):
            what = "is missing" if name not in found else "changed since msearch closed it"
            if name not in recorded:
                what = "was not there when msearch closed the store"
            raise StoreError(f"{shard / name} {what}: {rebuild}")
    return BY_CHECKSUMS


def _describe(shard: Path) -> dict[str, str]:
    """Each file under ``shard`` (relative path) -> its size, and digest when small."""
    out = {}
    for item in sorted(shard.rglob("*")):
        if not item.is_file():
            continue
        if item.suffix == ".json":  # Edge writes its maps in a new key order each time
            out[str(item.relative_to(shard))] = _digest(_canonical_json(item.read_bytes()))
            continue
        size = item.stat().st_size
        entry = str(size)
        if size < HASHED_BYTES or item.name.startswith(_ALWAYS_HASHED):
            entry += ":" + _digest(item.read_bytes())
        out[str(item.relative_to(shard))] = entry
    return out


def _canonical_json(data: bytes) -> bytes:
    """The JSON document in ``data`` with its keys sorted; unreadable JSON as it is."""
    try:
        return json.dumps(json.loads(data), sort_keys=True).encode()
    except ValueError:
        return data


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _probe(shard: Path, rebuild: str) -> None:
    """Load ``shard`` in a child process; a child that dies by a signal, runs too long or
    grows too large means damaged files."""
    # the bytes the files take on disk: Edge preallocates sparse files, and a damaged status
    # file makes it grow one to 128 GB of holes
    limit = 2 * sum(f.stat().st_blocks * 512 for f in shard.rglob("*") if f.is_file())
    limit += PROBE_SPARE_BYTES
    child = subprocess.Popen(
        [sys.executable, "-c", _PROBE, str(shard)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + PROBE_SECONDS
    try:
        while child.poll() is None:
            if time.monotonic() > deadline:
                raise StoreError(
                    f"Qdrant Edge did not finish loading {shard} in {PROBE_SECONDS:g} s: {rebuild}"
                )
            if _resident_bytes(child.pid) > limit:
                raise StoreError(
                    f"Qdrant Edge used more than {limit // 2**20} MiB loading {shard}: {rebuild}"
                )
            time.sleep(0.02)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    if child.returncode < 0:
        name = signal.Signals(-child.returncode).name
        raise StoreError(f"Qdrant Edge crashed ({name}) loading {shard}: {rebuild}")
    # Any other failure (a lock held by another process, a readable error) is left to the
    # load in this process, which reports it with its own typed error.


def _resident_bytes(pid: int) -> int:
    """A process's resident memory (Linux); 0 where the system does not say."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0
