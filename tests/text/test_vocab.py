"""Vocabulary: the lesson's rules, JSON round trip, and fastai's itos.pkl read without running code."""

import pickle
from collections import Counter

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ulmlite.text import SPECIAL_TOKENS, Tokenizer, Vocab
from ulmlite.text.vocab import load_pickled_strings


def test_from_counts_follows_the_lesson():
    counts = Counter({"the": 10, "a": 3, "rare": 2, "once": 1, "xbos": 1})
    vocab = Vocab.from_counts(counts, max_vocab=60000, min_freq=2)
    assert vocab.itos[:2] == ["_unk_", "_pad_"]
    assert vocab.itos[: len(SPECIAL_TOKENS)] == list(SPECIAL_TOKENS)  # kept however rare
    assert "the" in vocab.stoi and "a" in vocab.stoi
    assert "rare" not in vocab.stoi and "once" not in vocab.stoi  # counts > 2 only
    assert len(Vocab.from_counts(Counter({f"w{k}": 5 for k in range(100)}), max_vocab=10)) == len(SPECIAL_TOKENS) + 10


@given(st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=30))
def test_json_round_trip_and_numericalize(tokens):
    vocab = Vocab.from_counts(Counter(tokens * 3), min_freq=2)
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        vocab.save(Path(tmp) / "v.json")
        again = Vocab.load(Path(tmp) / "v.json")
    assert again == vocab
    ids = vocab.numericalize(tokens)
    assert [vocab.itos[i] for i in ids] == tokens
    assert vocab.textify(ids) == " ".join(tokens)


def test_unknown_tokens_map_to_zero():
    vocab = Vocab.from_counts(Counter({"known": 5}))
    assert vocab.numericalize(["known", "nope"]).tolist() == [vocab.stoi["known"], 0]


def test_numericalize_corpus_matches_per_document():
    corpus = Tokenizer(n_workers=1, progress=False).corpus(["a b c a", "b b z"], cache=False)
    vocab = Vocab.from_corpus(corpus, min_freq=1)
    numbers = vocab.numericalize_corpus(corpus, labels=[0, 1])
    assert numbers.ids.dtype == np.int32
    for k in range(len(corpus)):
        assert numbers.doc(k).tolist() == vocab.numericalize(corpus.doc(k)).tolist()
    assert numbers.labels.tolist() == [0, 1]


def test_fastai_itos_pickle(tmp_path):
    path = tmp_path / "itos.pkl"
    path.write_bytes(pickle.dumps(["_unk_", "_pad_", "the", "xbos"]))
    assert Vocab.from_fastai_itos(path).itos == ["_unk_", "_pad_", "the", "xbos"]


class Exploit:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned > /tmp/ulmlite_pwned",))


@pytest.mark.parametrize("payload", [pickle.dumps(Exploit()), pickle.dumps([Exploit()]), pickle.dumps({"a": 1}),
                                     pickle.dumps(["ok", 3]), b"not a pickle"])
def test_malicious_or_wrong_pickles_are_refused(payload):
    with pytest.raises(ValueError, match="not a pickled list of str"):
        load_pickled_strings(payload)


def test_bad_vocab_files(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a ulmlite vocabulary"):
        Vocab.load(tmp_path / "bad.json")
    with pytest.raises(ValueError, match="must start with"):
        Vocab(["the", "_pad_"])
