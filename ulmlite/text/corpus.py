"""Two flat corpus formats: tokens (a string table and int32 indices into it) and numbers (int32 vocabulary
ids). Both keep documents as offsets into one array, never as lists of arrays (fastai v0.7 held an
array per document, 6-8x the ids in memory). Saved as plain .npy and JSON; loading maps the arrays."""

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ulmlite._util import write_folder_atomically


@dataclass
class TokenCorpus:
    """Tokenized documents: `strings[ids[offsets[k]:offsets[k+1]]]` are the tokens of document k."""

    strings: list[str]
    ids: np.ndarray  # int32 indices into strings
    offsets: np.ndarray  # int64, len = n_docs + 1

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_tokens(self) -> int:
        return int(self.offsets[-1])

    def doc(self, k: int) -> list[str]:
        return [self.strings[i] for i in self.ids[self.offsets[k] : self.offsets[k + 1]]]

    def __iter__(self):
        return (self.doc(k) for k in range(len(self)))

    def select(self, docs) -> "TokenCorpus":
        """The documents at indices `docs`, in that order (no re-tokenizing)."""
        docs = np.asarray(docs, dtype=np.int64)
        offsets = np.asarray(self.offsets, dtype=np.int64)
        lengths = offsets[docs + 1] - offsets[docs]
        parts = [np.asarray(self.ids[offsets[k] : offsets[k + 1]]) for k in docs]
        ids = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)
        return TokenCorpus(self.strings, ids.astype(np.int32), np.concatenate([[0], np.cumsum(lengths)]))

    def counts(self) -> Counter:
        """Token frequencies (one bincount over the indices)."""
        freq = np.bincount(self.ids, minlength=len(self.strings))
        return Counter({s: int(n) for s, n in zip(self.strings, freq, strict=True) if n})

    def save(self, folder: str | Path) -> Path:
        def write(tmp: Path):
            (tmp / "strings.json").write_text(json.dumps(self.strings), encoding="utf-8")
            np.save(tmp / "ids.npy", np.asarray(self.ids, dtype=np.int32))
            np.save(tmp / "offsets.npy", np.asarray(self.offsets, dtype=np.int64))

        return write_folder_atomically(Path(folder), write)

    @classmethod
    def load(cls, folder: str | Path) -> "TokenCorpus":
        folder = Path(folder)
        strings = json.loads((folder / "strings.json").read_text(encoding="utf-8"))
        return cls(strings, np.load(folder / "ids.npy", mmap_mode="r"), np.load(folder / "offsets.npy"))


@dataclass
class NumericCorpus:
    """Numericalized documents: vocabulary ids of document k are `ids[offsets[k]:offsets[k+1]]`,
    with optional integer labels (one per document)."""

    ids: np.ndarray  # int32
    offsets: np.ndarray  # int64, len = n_docs + 1
    labels: np.ndarray | None = None  # int64, len = n_docs

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def doc(self, k: int) -> np.ndarray:
        return self.ids[self.offsets[k] : self.offsets[k + 1]]

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def save(self, folder: str | Path) -> Path:
        def write(tmp: Path):
            np.save(tmp / "ids.npy", np.asarray(self.ids, dtype=np.int32))
            np.save(tmp / "offsets.npy", np.asarray(self.offsets, dtype=np.int64))
            if self.labels is not None:
                np.save(tmp / "labels.npy", np.asarray(self.labels, dtype=np.int64))

        return write_folder_atomically(Path(folder), write)

    @classmethod
    def load(cls, folder: str | Path, mmap: bool = True) -> "NumericCorpus":
        folder = Path(folder)
        labels = folder / "labels.npy"
        return cls(
            np.load(folder / "ids.npy", mmap_mode="r" if mmap else None),
            np.load(folder / "offsets.npy"),
            np.load(labels) if labels.exists() else None,
        )
