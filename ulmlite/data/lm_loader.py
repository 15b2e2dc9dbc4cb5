"""The language-model loader (AWD-LSTM / lesson 10): one stream of token ids cut into `bs` columns,
read in windows of variable length so that every epoch sees different window boundaries.

Window lengths, as in the lesson: the first window is bptt + 25 long; after that the base length
is bptt with probability 0.95 and bptt / 2 otherwise, and seq_len = max(5, int(N(base, 5))).
Every position of the batchified stream is an input exactly once per epoch (the last row only a
target); targets are the inputs shifted by one.
"""

import numpy as np
import torch

from ulmlite.text.corpus import NumericCorpus


class LanguageModelLoader:
    """Iterates `(x, y)` LongTensors of shape (seq_len, bs), y the next tokens; `len()` is the
    number of batches of the coming epoch (its window lengths are drawn in advance, from `seed`).

    Memory: without `shuffle_docs` the batches are views of `ids` (a memory map stays on disk);
    with it, one reordered copy of the stream is made per epoch (at most 1x the ids more)."""

    def __init__(self, ids, bs: int, bptt: int, backwards: bool = False, seed: int | None = None,
                 shuffle_docs: bool = False):
        self.offsets: np.ndarray | None = None  # document boundaries, known for a NumericCorpus
        if isinstance(ids, NumericCorpus):
            self.offsets = np.asarray(ids.offsets)
            ids = ids.ids
        ids = np.asarray(ids)
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"LanguageModelLoader expects a 1-D integer id array, got {ids.dtype} {ids.shape}")
        if bs < 1 or bptt < 1:
            raise ValueError(f"bs and bptt must be positive, got bs={bs}, bptt={bptt}")
        if len(ids) // bs < 2:
            raise ValueError(f"{len(ids)} tokens are too few for {bs} columns of at least 2 tokens")
        if shuffle_docs and self.offsets is None:
            raise ValueError("shuffle_docs needs document boundaries: pass a NumericCorpus")
        self.ids, self.bs, self.bptt, self.backwards = ids, bs, bptt, backwards
        self.shuffle_docs = shuffle_docs
        self.rng = np.random.default_rng(seed)
        self.n_rows = len(ids) // bs
        self._schedule = self._draw_schedule()

    def _draw_schedule(self) -> list[int]:
        lengths, i = [], 0
        while i < self.n_rows - 1:
            if i == 0:
                seq_len = self.bptt + 25
            else:
                base = self.bptt if self.rng.random() < 0.95 else self.bptt / 2
                seq_len = max(5, int(self.rng.normal(base, 5)))
            seq_len = min(seq_len, self.n_rows - 1 - i)
            lengths.append(seq_len)
            i += seq_len
        return lengths

    def __len__(self) -> int:
        return len(self._schedule)

    def state_dict(self) -> dict:
        """Where the random draws stand (for checkpoints: resuming replays the same batches)."""
        return {"rng": self.rng.bit_generator.state, "schedule": list(self._schedule)}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]
        self._schedule = list(state["schedule"])

    def _stream(self) -> np.ndarray:
        ids = self.ids
        if self.shuffle_docs:
            assert self.offsets is not None  # __init__ refuses shuffle_docs without them
            order = self.rng.permutation(len(self.offsets) - 1)
            ids = np.concatenate([ids[self.offsets[k] : self.offsets[k + 1]] for k in order])
        return ids[::-1] if self.backwards else ids

    def __iter__(self):
        schedule = self._schedule  # len() keeps answering for this epoch until it ends
        stream = self._stream()
        columns = stream[: self.n_rows * self.bs].reshape(self.bs, self.n_rows)  # column k = k-th slice
        i = 0
        for seq_len in schedule:
            window = np.ascontiguousarray(columns[:, i : i + seq_len + 1].T)  # (seq_len + 1, bs)
            window = torch.from_numpy(window.astype(np.int64))
            yield window[:-1], window[1:]
            i += seq_len
        self._schedule = self._draw_schedule()
