"""Classifier batches: samplers that put documents of similar length together, and the padding
collate (fastai v0.7's SortSampler, SortishSampler and pad_collate)."""

import numpy as np
import torch


class SortSampler:
    """Indices by decreasing length (for validation: the least padding, order does not matter)."""

    def __init__(self, lengths):
        self.lengths = np.asarray(lengths)

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self):
        return iter(np.argsort(-self.lengths, kind="stable").tolist())


class SortishSampler:
    """Random, but nearly sorted (for training): shuffle, cut into megabatches of 50·bs sorted by
    decreasing length, cut those into batches of bs, shuffle the batches, and put the batch holding
    the longest document first (so an out-of-memory error shows at once, not mid-epoch).

    `batches()` gives the batches themselves, and the loader takes them as they are: every batch is
    cut from one sorted run, so its documents have similar lengths. The one short batch (when bs
    does not divide the corpus) goes last, unless it holds the longest document. (Re-cutting the
    flat order into bs-sized pieces after a short batch in the middle made every later batch
    straddle two length groups: 18% padding instead of 4% on the Rotten Tomatoes snippets.)"""

    def __init__(self, lengths, bs: int, seed: int | None = None):
        if bs < 1:
            raise ValueError(f"bs must be positive, got {bs}")
        self.lengths, self.bs = np.asarray(lengths), bs
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.lengths)

    def batches(self) -> list[np.ndarray]:
        order = self.rng.permutation(len(self.lengths))
        mega = 50 * self.bs
        if len(order):
            megabatches = np.split(order, range(mega, len(order), mega))
            order = np.concatenate([m[np.argsort(-self.lengths[m], kind="stable")] for m in megabatches])
        batches = [order[i : i + self.bs] for i in range(0, len(order), self.bs)]
        if not batches:
            return []
        longest = int(np.argmax([self.lengths[b].max() for b in batches]))
        batches[0], batches[longest] = batches[longest], batches[0]
        rest = [batches[k] for k in self.rng.permutation(np.arange(1, len(batches)))]
        short = [b for b in rest if len(b) < self.bs]
        return [batches[0]] + [b for b in rest if len(b) == self.bs] + short

    def __iter__(self):
        batches = self.batches()
        return iter(np.concatenate(batches).tolist() if batches else [])


def pad_collate(samples, pad_id: int = 1, pad_first: bool = True):
    """[(ids, label), ...] -> x (max_len, batch) LongTensor padded with pad_id, y (batch,).
    The lesson pads at the start, so every document's last token sits at the last step."""
    if not samples:
        raise ValueError("pad_collate got an empty batch")
    max_len = max(len(ids) for ids, _ in samples)
    x = torch.full((max_len, len(samples)), pad_id, dtype=torch.long)
    for k, (ids, _) in enumerate(samples):
        ids = torch.as_tensor(np.asarray(ids, dtype=np.int64))
        if len(ids):
            if pad_first:
                x[max_len - len(ids) :, k] = ids
            else:
                x[: len(ids), k] = ids
    y = torch.as_tensor([int(label) for _, label in samples], dtype=torch.long)
    return x, y


class ClassifierLoader:
    """Batches of (x (max_len, B) padded at the start, y (B,)) from a NumericCorpus with labels:
    SortishSampler order for training, SortSampler for evaluation."""

    def __init__(self, corpus, bs: int, train: bool, seed: int | None = None, pad_id: int = 1):
        if corpus.labels is None:
            raise ValueError("ClassifierLoader needs a corpus with labels")
        if len(corpus) == 0:
            raise ValueError("ClassifierLoader got an empty corpus")
        if bs < 1:
            raise ValueError(f"bs must be positive, got {bs}")
        self.corpus, self.bs, self.pad_id, self.train = corpus, bs, pad_id, train
        lengths = corpus.lengths()
        self.sampler = SortishSampler(lengths, bs, seed) if train else SortSampler(lengths)

    def __len__(self) -> int:
        return (len(self.corpus) + self.bs - 1) // self.bs

    def __iter__(self):
        if self.train:
            batches = self.sampler.batches()
        else:
            order = list(self.sampler)
            batches = [order[i : i + self.bs] for i in range(0, len(order), self.bs)]
        for batch in batches:
            yield self.collate(self.corpus, batch, self.pad_id)

    @staticmethod
    def collate(corpus, batch, pad_id: int = 1):
        labels = corpus.labels if corpus.labels is not None else np.zeros(len(corpus), dtype=np.int64)
        return pad_collate([(corpus.doc(k), labels[k]) for k in batch], pad_id)

    def state_dict(self) -> dict:
        return {"rng": self.sampler.rng.bit_generator.state} if isinstance(self.sampler, SortishSampler) else {}

    def load_state_dict(self, state: dict) -> None:
        if isinstance(self.sampler, SortishSampler):  # the training order: the only one drawn at random
            self.sampler.rng.bit_generator.state = state["rng"]
