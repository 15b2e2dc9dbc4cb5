"""Every ```python block in docs/*.md runs, in order, one namespace per page, in a temporary
folder: a docs page whose example breaks fails the tests. Blocks fenced as ```python no-run are
shown to the reader but skipped (used only for commands that take minutes)."""

import os
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
BLOCK = re.compile(r"^```python([^\n]*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def code_blocks(page: Path) -> list[tuple[int, str]]:
    text = page.read_text(encoding="utf-8")
    blocks = []
    for match in BLOCK.finditer(text):
        if "no-run" in match.group(1):
            continue
        line = text.count("\n", 0, match.start()) + 2
        blocks.append((line, match.group(2)))
    return blocks


PAGES = sorted(DOCS.glob("*.md"))


def test_docs_exist():
    assert (DOCS / "index.md") in PAGES


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_docs_page_runs(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ULMLITE_DOCS_TEST", "1")
    namespace = {"__name__": f"docs_{page.stem}"}
    blocks = code_blocks(page)
    for line, source in blocks:
        code = compile(source, f"{page}:{line}", "exec")
        exec(code, namespace)  # noqa: S102 - executing our own docs is the point
    assert blocks or page.name != "index.md", "docs/index.md should show runnable code"
    os.environ.pop("ULMLITE_DOCS_TEST", None)
