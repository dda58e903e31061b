"""Durability of a Qdrant Edge folder: a process killed in the middle of a bulk upsert.

A child process upserts batches into an Edge folder and, each time ``upsert`` returns, appends
the batch's ids to an acknowledgement file. The test kills it with SIGKILL while it is still
writing, reopens the folder, and checks that every acknowledged point is there and that the
collection answers queries and takes new writes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from msearch.errors import StoreLockedError
from msearch.store import Record, Store

ROOT = Path(__file__).resolve().parents[2]
DIM = 32

CHILD = """
import os, sys
import numpy as np
from msearch.store import Record, Schema, Store, VectorSpec

folder, acks, DIM = sys.argv[1], sys.argv[2], int(sys.argv[3])
store = Store("bulk", Schema({"text": VectorSpec(DIM, model="toy")}), path=folder, engine="edge")
rng = np.random.default_rng(0)
with open(acks, "a", encoding="utf-8") as out:
    for batch in range(10_000):
        ids = [f"p{batch}-{i}" for i in range(50)]
        vectors = rng.normal(size=(50, DIM))
        store.upsert(
            [Record(id=pid, vectors={"text": v}, content=pid) for pid, v in zip(ids, vectors)]
        )
        out.write("\\n".join(ids) + "\\n")  # acknowledged: upsert has returned
        out.flush()
        os.fsync(out.fileno())
"""


def _acknowledged(path: Path) -> list[str]:
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").split("\n")
    return [line for line in lines[:-1] if line]  # the last line may be cut short


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_points_acknowledged_before_a_kill_survive(tmp_path: Path) -> None:
    folder, acks = tmp_path / "store", tmp_path / "acks.txt"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(folder), str(acks), str(DIM)], env=env, cwd=ROOT
    )
    try:
        deadline = time.monotonic() + 120
        while len(_acknowledged(acks)) < 3000:
            assert child.poll() is None, "the writer died before the kill"
            assert time.monotonic() < deadline, "the writer was too slow to start"
            time.sleep(0.05)
        # While the writer holds the collection, another process cannot open it.
        with (
            pytest.raises(StoreLockedError, match="open in another process"),
            Store("bulk", path=folder) as other,
        ):
            other.count()
        os.kill(child.pid, signal.SIGKILL)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    acknowledged = _acknowledged(acks)
    with Store("bulk", path=folder) as store:
        found = {hit.id for hit in store.get(acknowledged)}
        assert len(found) == len(acknowledged), "acknowledged points were lost"
        assert store.count() >= len(acknowledged)
        probe = store.get([acknowledged[-1]], with_vectors=True)[0]
        vector = (probe.vectors or {})["text"]
        assert store.query("text", vector, k=1)[0].id == acknowledged[-1]
        store.upsert([Record(id="after", vectors={"text": np.ones(DIM)})])
        assert store.get(["after"])[0].id == "after"
