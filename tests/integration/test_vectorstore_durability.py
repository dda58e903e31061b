"""An embedded folder outlives its process, and refuses a second process with a clear error.

Each step runs in its own Python process, as separate runs of an application would.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from msearch.store import Schema, Store, VectorSpec

WRITE = """
import json, sys
from langchain_msearch import MSearchEmbeddings, MSearchVectorStore
folder, model = sys.argv[1], sys.argv[2]
store = MSearchVectorStore(MSearchEmbeddings(model=model), "notes", path=folder)
texts = [f"note number {n} about topic {n % 7}" for n in range(120)]
ids = store.add_texts(texts, [{"n": n} for n in range(120)], ids=[f"note-{n}" for n in range(120)])
store.close()
print(json.dumps(ids))
"""

READ = """
import json, sys
from langchain_msearch import MSearchEmbeddings, MSearchVectorStore
folder, model = sys.argv[1], sys.argv[2]
store = MSearchVectorStore(MSearchEmbeddings(model=model), "notes", path=folder)
ids = [f"note-{n}" for n in range(120)]
docs = store.get_by_ids(ids)
top = store.similarity_search("note number 42 about topic 0", k=1)[0]
print(json.dumps({"count": store.store.count(), "ids": [d.id for d in docs],
                  "meta": [d.metadata["n"] for d in docs], "top": top.id}))
store.close()
"""

OPEN = """
import sys
from msearch.store import Store, StoreLockedError
try:
    Store("notes", path=sys.argv[1]).count()
except StoreLockedError as err:
    print("StoreLockedError:", err)
"""


def _run(script: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.slow  # two fresh processes each import torch and load MiniLM
def test_folder_keeps_every_point_across_processes(tmp_path: Path, minilm: str) -> None:
    folder = str(tmp_path / "qdrant")
    written = json.loads(_run(WRITE, folder, minilm))
    read = json.loads(_run(READ, folder, minilm))
    assert read["count"] == 120 and read["ids"] == written
    assert read["meta"] == list(range(120))
    assert read["top"] == "note-42"


@pytest.mark.parametrize("engine", ["edge", "qdrant-client"])
def test_second_process_gets_a_clear_lock_error(tmp_path: Path, engine: str) -> None:
    folder = str(tmp_path / "qdrant")
    with Store("notes", path=folder, engine=engine) as store:
        store.ensure_schema(Schema({"text": VectorSpec(2)}))  # the folder is now in use
        line = _run(OPEN, folder)
    assert line.startswith("StoreLockedError:")
    assert folder in line and "Qdrant server" in line and "url=" in line
    with Store("notes", path=folder) as reopened:  # released: opens again
        assert reopened.count() == 0 and reopened.schema is not None
