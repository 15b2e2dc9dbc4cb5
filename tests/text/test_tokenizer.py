"""The tokenizer: parallel equals serial, the cache hits and returns identical results, bad input."""

import numpy as np
import pytest

from ulmlite.text import TokenCorpus, Tokenizer
from ulmlite.text import tokenizer as tokenizer_module

DOCS = [f"Review {k}: it was GREAT!!!! really really really really good." for k in range(60)] + [
    ("A Title", "and its body"), "", "tab\tand\nnewline",
]


def test_parallel_equals_serial(tmp_path):
    serial = Tokenizer(n_workers=1, chunk_size=7, progress=False).corpus(DOCS, cache=False)
    parallel = Tokenizer(n_workers=2, chunk_size=7, progress=False).corpus(DOCS, cache=False)
    assert list(serial) == list(parallel)
    assert list(serial)[0] == Tokenizer().tokenize(DOCS[0])
    assert len(serial) == len(DOCS)


def test_cache_hit_returns_identical_tokens_without_tokenizing(tmp_path, monkeypatch):
    tok = Tokenizer(n_workers=1, cache_dir=str(tmp_path), progress=False)
    first = tok.corpus(DOCS)
    monkeypatch.setattr(Tokenizer, "_run", lambda *a, **k: pytest.fail("tokenized again on a cache hit"))
    second = tok.corpus(DOCS)
    assert second.strings == first.strings
    assert np.array_equal(second.ids, first.ids) and np.array_equal(second.offsets, first.offsets)


def test_cache_key_depends_on_content_and_settings():
    tok = Tokenizer()
    assert tok.cache_key(["a b"]) != tok.cache_key(["a c"])
    assert tok.cache_key(["a b"]) != Tokenizer(mark_capitalized=True).cache_key(["a b"])
    assert tok.cache_key([("a", "b")]) != tok.cache_key(["a b"])  # fields are part of the content


def test_corpus_round_trip(tmp_path):
    corpus = Tokenizer(n_workers=1, progress=False).corpus(DOCS, cache=False)
    again = TokenCorpus.load(corpus.save(tmp_path / "c"))
    assert list(again) == list(corpus)
    assert again.counts() == corpus.counts()


def test_empty_document_and_nul_characters():
    tok = Tokenizer()
    assert tok.tokenize("") == ["\n", "xbos", "xfld", "1"]
    assert "\x00" not in "".join(tok.tokenize("a\x00b"))


def test_long_document_is_tokenized_in_pieces(monkeypatch):
    monkeypatch.setattr(tokenizer_module, "LONG_TEXT", 1000)
    words = ["alpha", "beta", "gamma", "delta", "epsilon"]
    text = " ".join(words[k % 5] + words[k // 5 % 5] for k in range(2000))
    tokens = Tokenizer().tokenize(text)
    assert tokens[4:] == text.split()


def test_ten_megabyte_document():
    text = ("This is a fairly ordinary sentence about a film. " * 210_000)[:10_000_000]
    tokens = Tokenizer().tokenize(text)
    assert len(tokens) > 2_000_000 and tokens[-1] in text


def test_bad_document_type():
    with pytest.raises(TypeError, match="a document is a str or a tuple"):
        Tokenizer().tokenize(42)
