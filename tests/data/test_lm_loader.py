"""The language-model loader: every token once per epoch, in order, targets shifted by one."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from ulmlite.data import LanguageModelLoader
from ulmlite.text import NumericCorpus


@given(n=st.integers(20, 3000), bs=st.integers(1, 9), bptt=st.integers(1, 40), backwards=st.booleans(),
       seed=st.integers(0, 1000))
def test_every_token_once_in_order(n, bs, bptt, backwards, seed):
    ids = np.arange(n, dtype=np.int32)
    loader = LanguageModelLoader(ids, bs, bptt, backwards=backwards, seed=seed)
    expected_batches = len(loader)
    batches = list(loader)
    assert len(batches) == expected_batches
    x = torch.cat([b[0] for b in batches])
    y = torch.cat([b[1] for b in batches])
    stream = ids[::-1] if backwards else ids
    rows = n // bs
    columns = torch.from_numpy(stream[: rows * bs].astype(np.int64).reshape(bs, rows)).T
    assert torch.equal(x, columns[:-1])  # each position an input exactly once, in order
    assert torch.equal(y, columns[1:])  # targets are the inputs shifted by one
    assert all(b[0].shape == b[1].shape and b[0].dtype == torch.long for b in batches)


def test_window_lengths_follow_the_lesson():
    loader = LanguageModelLoader(np.arange(200_000), bs=4, bptt=70, seed=0)
    lengths = [x.shape[0] for x, _ in loader]
    assert lengths[0] == 95  # bptt + 25
    assert min(lengths[:-1]) >= 5
    middle = np.array(lengths[1:-1])
    assert 60 < np.median(middle) < 80
    short = (middle < 50).mean()  # bptt / 2 about 5% of the time
    assert 0.02 < short < 0.09


def test_seed_makes_it_reproducible_and_epochs_differ():
    a = LanguageModelLoader(np.arange(5000), 4, 20, seed=1)
    b = LanguageModelLoader(np.arange(5000), 4, 20, seed=1)
    first = [x.shape[0] for x, _ in a]
    assert first == [x.shape[0] for x, _ in b]
    assert first != [x.shape[0] for x, _ in a]  # the next epoch draws new lengths


def test_shuffled_documents_are_a_permutation():
    offsets = np.array([0, 3, 7, 12, 20])
    corpus = NumericCorpus(np.arange(20, dtype=np.int32), offsets)
    loader = LanguageModelLoader(corpus, bs=1, bptt=3, seed=0, shuffle_docs=True)
    seen = torch.cat([torch.cat([x[:1, 0], y[:, 0]]) if k == 0 else y[:, 0] for k, (x, y) in enumerate(loader)])
    assert sorted(seen.tolist()) == list(range(20))
    docs = {tuple(range(offsets[k], offsets[k + 1])) for k in range(4)}
    order, i = [], 0
    values = seen.tolist()
    while i < len(values):
        doc = next(d for d in docs if d[0] == values[i])
        assert tuple(values[i : i + len(doc)]) == doc  # documents stay whole
        order.append(doc)
        i += len(doc)


def test_batches_do_not_copy_the_stream():
    ids = np.arange(100_000, dtype=np.int32)
    loader = LanguageModelLoader(ids, 8, 70)
    assert loader.ids is ids  # kept by reference, batches are cut from a view


@pytest.mark.parametrize("kwargs, message", [
    (dict(ids=np.arange(10), bs=8, bptt=5), "too few"),
    (dict(ids=np.zeros((3, 3), dtype=int), bs=1, bptt=5), "1-D integer"),
    (dict(ids=np.arange(100.0), bs=1, bptt=5), "1-D integer"),
    (dict(ids=np.arange(100), bs=0, bptt=5), "positive"),
    (dict(ids=np.arange(100), bs=2, bptt=5, shuffle_docs=True), "NumericCorpus"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LanguageModelLoader(**kwargs)
