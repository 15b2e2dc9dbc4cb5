"""Readers for the corpus layouts the lesson meets: the IMDB folders, CSV files with a label column
and one or more text columns, plain text with separated documents or one per line (`read_documents`
reads any of them, for every command), and the folders `ulmlite tokenize` writes.

Bad input is handled in one documented way everywhere:
- invalid UTF-8 bytes are replaced by U+FFFD ("�"), with a warning naming the file;
- NUL characters become spaces (in the tokenizer);
- an empty text is kept in a labelled data set (it has a label) and skipped in a plain corpus;
- a missing or unknown label, a missing column, or a single class raises ValueError naming the
  file and row.
"""

import csv
import io
import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ulmlite.text.corpus import NumericCorpus, TokenCorpus
from ulmlite.text.vocab import Vocab


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        warnings.warn(f"{path}: invalid UTF-8 replaced by U+FFFD", stacklevel=3)
        return data.decode("utf-8", errors="replace")


@dataclass
class TextDataset:
    """Documents (a str, or a tuple of str fields each) with integer labels indexing `classes`."""

    docs: list
    labels: np.ndarray | None = None
    classes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.docs)


def _check_classes(labels: list[str], classes: list[str] | None, where: str) -> tuple[np.ndarray, list[str]]:
    if classes is None:
        classes = sorted(set(labels))
        if len(classes) < 2:
            raise ValueError(f"{where}: a classifier needs at least 2 classes, found only {classes}")
    index = {c: k for k, c in enumerate(classes)}
    return np.array([index[label] for label in labels], dtype=np.int64), list(classes)


def read_imdb(root: str | Path, split: str = "train", classes: tuple[str, ...] = ("neg", "pos"),
              unsup: bool = False) -> TextDataset:
    """`root/{split}/{class}/*.txt` (aclImdb's layout), sorted by file name. With `unsup`, the
    unlabelled `root/train/unsup` reviews are read instead (labels None), for the language model."""
    root = Path(root)
    if unsup:
        folder = root / split / "unsup"
        if not folder.is_dir():
            raise ValueError(f"no folder {folder}")
        return TextDataset([_read_text(p) for p in sorted(folder.glob("*.txt"))])
    docs, labels = [], []
    for k, name in enumerate(classes):
        folder = root / split / name
        if not folder.is_dir():
            raise ValueError(f"{root}: no folder {split}/{name} (expected train|test/pos|neg|unsup/*.txt)")
        files = sorted(folder.glob("*.txt"))
        docs += [_read_text(p) for p in files]
        labels += [k] * len(files)
    if len(set(labels)) < 2:
        raise ValueError(f"{root}/{split}: a classifier needs at least 2 classes with files, got {classes}")
    return TextDataset(docs, np.array(labels, dtype=np.int64), list(classes))


def read_csv(path: str | Path, label_col: str | None = "label", text_cols: tuple[str, ...] = ("text",),
             classes: list[str] | None = None) -> TextDataset:
    """A CSV with a header row. Each document is the tuple of its `text_cols` (several fields get
    `xfld 1`, `xfld 2` ...). `classes` fixes the label order (give the training set's classes when
    reading its validation and test sets); by default the sorted distinct labels."""
    path = Path(path)
    rows = csv.DictReader(io.StringIO(_read_text(path), newline=""))  # quoted fields may hold any line break
    if rows.fieldnames is None:
        raise ValueError(f"{path}: empty file, expected a header row")
    wanted = ([label_col] if label_col else []) + list(text_cols)
    missing = [c for c in wanted if c not in rows.fieldnames]
    if missing:
        raise ValueError(f"{path}: no column(s) {missing}; the columns are {rows.fieldnames}")
    docs, labels = [], []
    for line, row in enumerate(rows, start=2):
        fields = tuple(row[c] if row[c] is not None else "" for c in text_cols)
        docs.append(fields[0] if len(fields) == 1 else fields)
        if label_col:
            label = row[label_col]
            if label is None or label.strip() == "":
                raise ValueError(f"{path}, line {line}: missing label in column {label_col!r}")
            if classes is not None and label not in classes:
                raise ValueError(f"{path}, line {line}: unknown label {label!r}; the classes are {classes}")
            labels.append(label)
    if not label_col:
        return TextDataset(docs)
    ids, classes = _check_classes(labels, classes, str(path))
    return TextDataset(docs, ids, classes)


class PlainTextCorpus:
    """Plain text with documents separated by a line holding only `separator` (a form feed in
    ../shared/data/general_en). Streams: each iteration reads the file again, line by line."""

    def __init__(self, path: str | Path, separator: str = "\f"):
        self.path, self.separator = Path(path), separator
        if not self.path.is_file():
            raise ValueError(f"no such file: {self.path}")

    def __iter__(self) -> Iterator[str]:
        lines: list[str] = []
        with open(self.path, encoding="utf-8", errors="replace", newline="") as f:
            for line in f:
                if line.rstrip("\r\n") == self.separator:
                    yield from self._emit(lines)
                    lines = []
                else:
                    lines.append(line)
        yield from self._emit(lines)

    @staticmethod
    def _emit(lines: list[str]) -> Iterator[str]:
        text = "".join(lines).strip()
        if text:
            yield text


def read_lines(path: str | Path) -> list[str]:
    """One document per non-empty line (e.g. rt_polarity's unlabelled plot summaries)."""
    return [line for line in _read_text(Path(path)).splitlines() if line.strip()]


FORMATS = ("auto", "plain", "lines", "csv", "imdb")


def read_documents(paths, fmt: str = "auto", text_cols: tuple[str, ...] = ("text",), label_col: str | None = None,
                   classes: list[str] | None = None, separator: str = "\f", split: str = "train",
                   unsup: bool = False) -> TextDataset:
    """The documents of one or more files in one of FORMATS (auto: csv for *.csv, imdb for a
    folder, else plain), with labels when `label_col` is given (csv: that column; imdb: its class
    folders, none with `unsup`). Several files make one data set: labelled ones must share their classes."""
    docs: list = []
    labels: list = []
    for path in map(Path, paths):
        kind = fmt if fmt != "auto" else "csv" if path.suffix.lower() == ".csv" else "imdb" if path.is_dir() \
            else "plain"
        if kind not in FORMATS:
            raise ValueError(f"unknown format {kind!r}; one of {', '.join(FORMATS)}")
        if kind == "csv":
            data = read_csv(path, label_col=label_col, text_cols=tuple(text_cols), classes=classes)
        elif kind == "imdb":
            data = read_imdb(path, split=split, unsup=unsup, **({"classes": tuple(classes)} if classes else {}))
        else:
            data = TextDataset(read_lines(path) if kind == "lines" else list(PlainTextCorpus(path, separator)))
        docs += data.docs
        if label_col and data.labels is not None:
            classes = classes or data.classes
            labels += data.labels.tolist()
    if not docs:
        raise ValueError(f"no documents in {', '.join(map(str, paths))}")
    if labels and len(labels) != len(docs):
        raise ValueError(f"{', '.join(map(str, paths))}: some files have labels and some do not")
    return TextDataset(docs, np.asarray(labels, dtype=np.int64) if labels else None, list(classes or []))


def is_tokenized(path: str | Path) -> bool:
    """Whether `path` is a folder written by `ulmlite tokenize`."""
    return all((Path(path) / name).is_file() for name in ("ids.npy", "offsets.npy", "vocab.json"))


def load_tokenized(folder: str | Path):
    """(TokenCorpus, labels or None, classes) of a folder written by `ulmlite tokenize`: its tokens
    as strings again (the words its vocabulary left out read as _unk_)."""
    folder = Path(folder)
    numbers, vocab = NumericCorpus.load(folder, mmap=False), Vocab.load(folder / "vocab.json")
    classes_file = folder / "classes.json"
    classes = json.loads(classes_file.read_text()) if classes_file.is_file() else []
    tokens = TokenCorpus(list(vocab.itos), np.asarray(numbers.ids, dtype=np.int32), np.asarray(numbers.offsets))
    return tokens, numbers.labels, classes
