"""Generation: reproducible with a seed; never `_unk_` when asked not to."""

import pytest
import torch

from ulmlite.generate import detokenize, generate
from ulmlite.nn import AWDLSTMConfig, LanguageModel
from ulmlite.text import Vocab

VOCAB = Vocab(["_unk_", "_pad_", "xbos", "xfld", "t_up", "tk_rep", "tk_wrep", "xxmaj", "1", "the", "film", "was",
               "good", ".", "\n"])


def model_preferring_unk():
    torch.manual_seed(0)
    model = LanguageModel(AWDLSTMConfig(vocab_size=len(VOCAB), emb_size=8, hidden_size=12, decoder_bias=True))
    with torch.no_grad():
        model.decoder.decoder.bias[0] = 50.0  # _unk_ would win every time
    return model


def test_reproducible_with_seed():
    model = model_preferring_unk()
    a = generate(model, VOCAB, "the film", 20, temperature=1.0, top_k=5, seed=3)
    b = generate(model, VOCAB, "the film", 20, temperature=1.0, top_k=5, seed=3)
    assert a == b and len(a) == 20


def test_never_unk_when_asked():
    model = model_preferring_unk()
    for seed in range(5):
        assert "_unk_" not in generate(model, VOCAB, "the", 30, seed=seed, no_unk=True)
    assert generate(model, VOCAB, "the", 5, temperature=0, no_unk=False) == ["_unk_"] * 5


def test_bad_arguments():
    with pytest.raises(ValueError, match="temperature"):
        generate(model_preferring_unk(), VOCAB, "the", 3, temperature=-1)


def test_detokenize():
    assert detokenize(["the", "film", "was", "n't", "good", "."]) == "the film wasn't good."
