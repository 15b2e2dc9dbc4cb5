"""The docs' figures: every `figures/NAME.png` a docs page shows exists in docs/figures and is a real
PNG of a sane size, every figure docs/figures.py can draw is shown on some page, and the script
still draws all of them (into a temporary folder, so the committed PNGs stay as they are)."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
SCRIPT = DOCS / "figures.py"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
REFERENCE = re.compile(r"!\[[^\]]*\]\((?:\./)?figures/([A-Za-z0-9_\-]+)\.png\)")


def referenced() -> dict[str, list[str]]:
    """{figure name: [pages showing it]} over docs/*.md."""
    names: dict[str, list[str]] = {}
    for page in sorted(DOCS.glob("*.md")):
        for name in REFERENCE.findall(page.read_text(encoding="utf-8")):
            names.setdefault(name, []).append(page.name)
    return names


def drawable() -> list[str]:
    """The names docs/figures.py registers (imported without drawing anything)."""
    spec = importlib.util.spec_from_file_location("docs_figures", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.FIGURES)


def check_png(path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image

    assert path.read_bytes()[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    pixels = matplotlib.image.imread(path)
    height, width = pixels.shape[:2]
    assert 300 <= width <= 2000 and 200 <= height <= 2000, f"{path}: {width}x{height} pixels"
    assert pixels.std() > 0.01, f"{path} is blank"


def test_pages_show_figures():
    assert referenced(), "no docs page shows a figure"


@pytest.mark.parametrize("name", sorted(referenced()))
def test_referenced_figure_exists(name):
    check_png(DOCS / "figures" / f"{name}.png")


def test_every_figure_is_shown():
    shown = referenced()
    missing = [name for name in drawable() if name not in shown]
    assert not missing, f"docs/figures.py draws {missing}, which no docs/*.md page shows"


def test_script_draws_every_figure(tmp_path):
    names = drawable()
    run = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path)], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    for name in names:
        check_png(tmp_path / f"{name}.png")
    assert sorted(p.stem for p in tmp_path.glob("*.png")) == sorted(names)
