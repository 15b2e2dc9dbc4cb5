"""The vocabulary: `itos` (id -> token) and `stoi` (token -> id), `_unk_` = 0 and `_pad_` = 1, as
in the lesson. Saved as JSON; fastai's `itos.pkl` is read only through a restricted unpickler."""

import io
import json
import pickle
from collections import Counter
from pathlib import Path

import numpy as np

from ulmlite.text.corpus import NumericCorpus, TokenCorpus
from ulmlite.text.rules import PAD, SPECIAL_TOKENS, UNK


class Vocab:
    def __init__(self, itos: list[str]):
        if len(itos) < 2 or itos[0] != UNK or itos[1] != PAD:
            raise ValueError(f"a vocabulary must start with {UNK!r} (id 0) and {PAD!r} (id 1)")
        if len(set(itos)) != len(itos):
            raise ValueError("a vocabulary cannot hold the same token twice")
        self.itos = list(itos)
        self.stoi = {s: i for i, s in enumerate(self.itos)}

    unk_id, pad_id = 0, 1

    @classmethod
    def from_counts(cls, counts: Counter, max_vocab: int = 60000, min_freq: int = 2, known=None) -> "Vocab":
        """The `max_vocab` most frequent tokens seen more than `min_freq` times (the lesson:
        60000 and counts > 2), after the special tokens, which are always kept. Tokens in `known`
        (e.g. a pretrained model's vocabulary) need to be seen only once."""
        specials = list(SPECIAL_TOKENS)
        known = known if known is not None else ()
        common = [t for t, n in counts.most_common() if (n > min_freq or t in known) and t not in specials]
        return cls(specials + common[:max_vocab])

    @classmethod
    def from_corpus(cls, corpus: TokenCorpus, max_vocab: int = 60000, min_freq: int = 2, known=None) -> "Vocab":
        return cls.from_counts(corpus.counts(), max_vocab, min_freq, known)

    def __len__(self) -> int:
        return len(self.itos)

    def __eq__(self, other) -> bool:
        return isinstance(other, Vocab) and self.itos == other.itos

    def numericalize(self, tokens: list[str]) -> np.ndarray:
        return np.array([self.stoi.get(t, self.unk_id) for t in tokens], dtype=np.int32)

    def textify(self, ids, sep: str = " ") -> str:
        return sep.join(self.itos[int(i)] for i in ids)

    def numericalize_corpus(self, corpus: TokenCorpus, labels=None) -> NumericCorpus:
        """Map a whole token corpus at once: one lookup per distinct string, then one gather."""
        table = np.array([self.stoi.get(s, self.unk_id) for s in corpus.strings], dtype=np.int32)
        ids = table[np.asarray(corpus.ids)] if len(table) else np.zeros(0, dtype=np.int32)
        return NumericCorpus(ids, np.asarray(corpus.offsets, dtype=np.int64),
                             None if labels is None else np.asarray(labels, dtype=np.int64))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"itos": self.itos}, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> "Vocab":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            itos = data["itos"]
        except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError) as err:
            raise ValueError(f"{path} is not a ulmlite vocabulary (JSON with an 'itos' list): {err}") from None
        if not isinstance(itos, list) or not all(isinstance(s, str) for s in itos):
            raise ValueError(f"{path}: 'itos' must be a list of strings")
        return cls(itos)

    @classmethod
    def from_fastai_itos(cls, path: str | Path) -> "Vocab":
        """fastai's `itos_wt103.pkl` / `itos.pkl`: a pickled list of str, read by an unpickler that
        refuses every global (no code can run), then checked to be a list of str."""
        itos = load_pickled_strings(Path(path).read_bytes())
        return cls(itos)


class _NoGlobals(pickle.Unpickler):
    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only a list of str is accepted")


def load_pickled_strings(data: bytes) -> list[str]:
    """Unpickle a list of str and nothing else."""
    try:
        value = _NoGlobals(io.BytesIO(data)).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, AttributeError) as err:
        raise ValueError(f"not a pickled list of str: {err}") from None
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise ValueError(f"not a pickled list of str (got {type(value).__name__})")
    return value
