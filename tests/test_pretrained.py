"""Vocabulary mapping and fastai weight conversion, on small state dicts built with those formats'
exact key names and shapes (no download)."""

import pickle

import pytest
import torch

from ulmlite.pretrained import convert_fastai, map_vocab
from ulmlite.text import Vocab

V, EMB, HID = 12, 6, 10
ITOS_V07 = ["_unk_", "_pad_", "the", "xbos", "xfld", "movie", ".", ",", "a", "and", "of", "to"]
ITOS_V1 = ["xxunk", "xxpad", "xxbos", "xxfld", "xxmaj", "xxup", "xxrep", "xxwrep", "the", ".", "movie", "a"]


def fastai_state(version: str) -> dict:
    torch.manual_seed(0)
    emb = torch.randn(V, EMB)
    state = {"0.encoder.weight": emb}
    state["0.encoder_with_dropout.embed.weight" if version == "v0.7" else "0.encoder_dp.emb.weight"] = emb.clone()
    sizes = [(EMB, HID), (HID, HID), (HID, EMB)]
    for k, (n_in, n_out) in enumerate(sizes):
        p = f"0.rnns.{k}."
        state[p + "module.weight_ih_l0"] = torch.randn(4 * n_out, n_in)
        raw = torch.randn(4 * n_out, n_out)
        if version == "v0.7":
            state[p + "module.weight_hh_l0_raw"] = raw
        else:
            state[p + "weight_hh_l0_raw"] = raw
            state[p + "module.weight_hh_l0"] = torch.nn.functional.dropout(raw, 0.5)  # a dropped copy
        state[p + "module.bias_ih_l0"] = torch.randn(4 * n_out)
        state[p + "module.bias_hh_l0"] = torch.randn(4 * n_out)
    state["1.decoder.weight"] = emb.clone()
    if version == "v1":
        state["1.decoder.bias"] = torch.randn(V)
    return state


@pytest.mark.parametrize("version", ["v0.7", "v1"])
def test_convert(tmp_path, version):
    state = fastai_state(version)
    weights = tmp_path / ("fwd_wt103.h5" if version == "v0.7" else "lm.pth")
    torch.save({"model": state, "opt": None} if version == "v1" else state, weights)
    itos = tmp_path / "itos.pkl"
    itos.write_bytes(pickle.dumps(ITOS_V07 if version == "v0.7" else ITOS_V1))
    model, vocab = convert_fastai(weights, itos)
    assert (model.config.emb_size, model.config.hidden_size, model.config.n_layers) == (EMB, HID, 3)
    assert vocab.itos[:2] == ["_unk_", "_pad_"] and ("xbos" in vocab.stoi)
    assert torch.equal(model.encoder.embedding.weight, state["0.encoder.weight"])
    assert model.decoder.decoder.weight is model.encoder.embedding.weight
    raw_key = "0.rnns.1.module.weight_hh_l0_raw" if version == "v0.7" else "0.rnns.1.weight_hh_l0_raw"
    assert torch.equal(model.encoder.rnns[1].module.weight_hh_l0, state[raw_key])  # the raw, not a dropped copy
    assert torch.equal(model.encoder.rnns[2].module.bias_ih_l0, state["0.rnns.2.module.bias_ih_l0"])
    assert (model.decoder.decoder.bias is not None) == (version == "v1")
    logits, _, _ = model.eval()(torch.tensor([[2], [5]]))
    assert logits.shape == (2, 1, V)


def test_bad_weight_files(tmp_path):
    itos = tmp_path / "itos.pkl"
    itos.write_bytes(pickle.dumps(ITOS_V07))
    truncated = tmp_path / "cut.h5"
    torch.save(fastai_state("v0.7"), truncated)
    truncated.write_bytes(truncated.read_bytes()[:200])
    with pytest.raises(ValueError, match="not a readable PyTorch state dict"):
        convert_fastai(truncated, itos)
    other = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(3, 3)}, other)
    with pytest.raises(ValueError, match="not a fastai AWD-LSTM"):
        convert_fastai(other, itos)
    short = tmp_path / "short.pkl"
    short.write_bytes(pickle.dumps(ITOS_V07[:5]))
    good = tmp_path / "good.h5"
    torch.save(fastai_state("v0.7"), good)
    with pytest.raises(ValueError, match="has 5 words but the weights have 12 rows"):
        convert_fastai(good, short)


def test_map_vocab_keeps_known_rows_and_gives_the_mean_to_new_words():
    old = Vocab(["_unk_", "_pad_", "the", "film"])
    new = Vocab(["_unk_", "_pad_", "film", "popcorn"])
    emb = torch.arange(8.0).view(4, 2)
    mapped = map_vocab(emb, old, new)
    assert torch.equal(mapped[2], emb[3])  # film
    assert torch.equal(mapped[3], emb.mean(0))  # popcorn: never seen
    assert torch.equal(mapped[0], emb[0])
