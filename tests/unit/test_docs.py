"""The README's commands and the code blocks in README.md and docs/ stay true.

Every ```python block runs (in a fresh namespace, offline). A block whose fence says
``python compile-only`` needs something CI does not have (a Qdrant server, a GPU, a model
hub) and is compiled instead. ``python legacy-stack`` runs where infinity-emb is installed
(the legacy stack; see docs/stacks.md).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^```(python[^\n]*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def code_blocks() -> list[object]:
    blocks = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for number, match in enumerate(FENCE.finditer(page.read_text()), start=1):
            fence, code = match.group(1), match.group(2)
            marks = [pytest.mark.legacy_stack("infinity_emb")] if "legacy-stack" in fence else []
            where = f"{page.relative_to(ROOT)}#{number}"
            blocks.append(pytest.param(where, fence, code, marks=marks))
    return blocks


def bash_blocks(page: Path) -> list[str]:
    return re.findall(r"^```bash\n(.*?)^```", page.read_text(), re.MULTILINE | re.DOTALL)


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme_commands = [block.strip() for block in bash_blocks(ROOT / "README.md")]
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    test_command = ci_lines[-1].strip()
    assert test_command in readme_commands
    assert test_command.endswith("&& nox")
    noxfile = (ROOT / "noxfile.py").read_text()
    assert 'session.run("pytest"' in noxfile and "tests-legacy" in noxfile


@pytest.mark.parametrize(("where", "fence", "code"), code_blocks(), ids=lambda v: str(v)[:40])
def test_code_block_runs(where: str, fence: str, code: str, monkeypatch, tmp_path) -> None:
    compiled = compile(code, where, "exec")
    if "compile-only" in fence:
        return
    monkeypatch.chdir(tmp_path)  # blocks that write files write them here
    exec(compiled, {"__name__": "__docs__"})
