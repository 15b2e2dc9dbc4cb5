"""Every ```python block in docs/*.md runs, in order, one namespace per page, in a temporary
folder: a docs page whose example breaks fails the tests. Blocks fenced as ```python no-run are
shown to the reader but skipped (used only for commands that take minutes).

What a block prints is shown under it in an ```output block, and compared with what it really
prints: exactly (trailing spaces aside), or, for ```output approx, with every number within a
relative tolerance (default 25%, `approx=0.1` for 10%; a number under 1 may also differ by 0.02)
and the words exact. A block that prints but shows no output fails, so the outputs cannot go stale."""

import contextlib
import io
import math
import os
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
BLOCK = re.compile(r"^```(python|output)([^\n]*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def code_blocks(page: Path) -> list[tuple[int, str, tuple[str, str] | None]]:
    """(line, source, (output options, expected output) or None) of every python block that runs."""
    text = page.read_text(encoding="utf-8")
    blocks: list[tuple[int, str, tuple[str, str] | None]] = []
    last_python = None
    for match in BLOCK.finditer(text):
        kind, options, body = match.group(1), match.group(2).strip(), match.group(3)
        line = text.count("\n", 0, match.start()) + 2
        if kind == "output":
            if last_python is None or blocks[last_python][2] is not None:
                raise AssertionError(f"{page.name}:{line}: an output block must follow the python block it shows")
            blocks[last_python] = (*blocks[last_python][:2], (options, body))
            continue
        if "no-run" in options:
            last_python = None
            continue
        blocks.append((line, body, None))
        last_python = len(blocks) - 1
    return blocks


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip("\n").splitlines()]


def outputs_match(expected: str, actual: str, options: str) -> bool:
    if "approx" not in options:
        return _lines(expected) == _lines(actual)
    rel = float(re.search(r"approx=([\d.]+)", options).group(1)) if "approx=" in options else 0.25
    want, got = NUMBER.findall(expected), NUMBER.findall(actual)
    if NUMBER.sub("#", "\n".join(_lines(expected))) != NUMBER.sub("#", "\n".join(_lines(actual))):
        return False
    return len(want) == len(got) and all(
        math.isclose(float(w), float(g), rel_tol=rel) or (abs(float(w)) < 1 and abs(float(w) - float(g)) <= 0.02)
        for w, g in zip(want, got, strict=True))


PAGES = sorted(DOCS.glob("*.md"))


def test_docs_exist():
    assert (DOCS / "index.md") in PAGES


@pytest.mark.parametrize("expected, actual, options, same", [
    ("loss 2.30\n", "loss 2.30", "", True), ("loss 2.30", "loss 2.31", "", False),
    ("loss 2.30", "loss 2.50", "approx", True), ("loss 2.30", "loss 3.50", "approx", False),
    ("loss 2.30", "gain 2.30", "approx", False), ("p 0.01", "p 0.03", "approx", True),
    ("a 100", "a 109", "approx=0.1", True), ("a 100", "a 115", "approx=0.1", False),
])
def test_outputs_match(expected, actual, options, same):
    assert outputs_match(expected, actual, options) is same


def test_an_output_block_belongs_to_a_python_block(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("text\n```output\n1\n```\n")
    with pytest.raises(AssertionError, match="must follow"):
        code_blocks(page)


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_docs_page_runs(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ULMLITE_DOCS_TEST", "1")
    namespace = {"__name__": f"docs_{page.stem}"}
    blocks = code_blocks(page)
    for line, source, shown in blocks:
        code = compile(source, f"{page}:{line}", "exec")
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(code, namespace)  # noqa: S102 - executing our own docs is the point
        actual = printed.getvalue()
        if shown is None:
            assert not actual.strip(), f"{page.name}:{line} prints but shows no ```output block:\n{actual}"
        else:
            assert outputs_match(shown[1], actual, shown[0]), (
                f"{page.name}:{line}: the page shows\n{shown[1]}\nbut the block prints\n{actual}")
    assert blocks or page.name != "index.md", "docs/index.md should show runnable code"
    os.environ.pop("ULMLITE_DOCS_TEST", None)
