"""AWD-LSTM encoder, language model, BPT3C and the concat-pooling classifier."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from ulmlite.nn import (
    AWDLSTMConfig,
    AWDLSTMEncoder,
    LanguageModel,
    MultiBatchEncoder,
    TextClassifier,
    ar_tar_loss,
    masked_concat_pool,
)

SMALL = AWDLSTMConfig(vocab_size=50, emb_size=8, hidden_size=12, n_layers=3, backend="python")


def test_lesson_defaults():
    c = AWDLSTMConfig()
    assert (c.vocab_size, c.emb_size, c.hidden_size, c.n_layers, c.pad_id) == (60002, 400, 1150, 3, 1)
    drops = [c.dropouti, c.dropout, c.wdrop, c.dropoute, c.dropouth]
    assert drops == pytest.approx([x * 0.7 for x in [0.25, 0.1, 0.2, 0.02, 0.15]])
    k = AWDLSTMConfig.classifier()
    assert [k.dropouti, k.wdrop, k.dropoute, k.dropouth] == pytest.approx([x * 0.5 for x in [0.4, 0.5, 0.05, 0.3]])


def test_encoder_shapes_and_last_layer_size():
    enc = AWDLSTMEncoder(SMALL)
    raw, out = enc(torch.randint(0, 50, (7, 3)))
    assert [r.shape for r in raw] == [(7, 3, 12), (7, 3, 12), (7, 3, 8)]
    assert [o.shape for o in out] == [r.shape for r in raw]
    sizes = [(r.module.input_size, r.module.hidden_size) for r in enc.rnns]
    assert sizes == [(8, 12), (12, 12), (12, 8)]


def test_hidden_state_is_carried_detached_and_reset():
    enc = AWDLSTMEncoder(SMALL).eval()
    ids = torch.randint(0, 50, (10, 2))
    whole = enc(ids)[0][-1]
    enc.reset()
    first = enc(ids[:4])[0][-1]
    second = enc(ids[4:])[0][-1]  # continues from the carried state
    torch.testing.assert_close(torch.cat([first, second]), whole)
    assert all(not h.requires_grad and not c.requires_grad for h, c in enc.hidden)
    enc.reset()
    assert enc.hidden is None
    restarted = enc(ids[4:])[0][-1]  # from a zero state again: not the carried result
    assert not torch.allclose(restarted, second)
    fresh = AWDLSTMEncoder(SMALL).eval()
    fresh.load_state_dict(enc.state_dict())
    torch.testing.assert_close(restarted, fresh(ids[4:])[0][-1])


def test_batch_size_change_resets_state():
    enc = AWDLSTMEncoder(SMALL)
    enc(torch.randint(0, 50, (5, 3)))
    raw, _ = enc(torch.randint(0, 50, (5, 2)))
    assert raw[-1].shape == (5, 2, 8)


def test_decoder_is_tied_to_embedding():
    lm = LanguageModel(SMALL)
    assert lm.decoder.decoder.weight is lm.encoder.embedding.weight
    logits, raw, out = lm(torch.randint(0, 50, (6, 2)))
    assert logits.shape == (6, 2, 50)
    assert len(raw) == len(out) == 3


def test_language_model_layer_groups_cover_every_parameter_once():
    lm = LanguageModel(SMALL)
    groups = lm.layer_groups()
    assert len(groups) == 4
    ids = [id(p) for g in groups for m in g for p in m.parameters()]
    assert sorted(set(ids)) == sorted({id(p) for p in lm.parameters()})


def test_classifier_layer_groups():
    clf = TextClassifier(AWDLSTMConfig.classifier(vocab_size=50, emb_size=8, hidden_size=12, backend="python"), 3)
    groups = clf.layer_groups()
    assert len(groups) == 5
    ids = [id(p) for g in groups for m in g for p in m.parameters()]
    assert len(ids) == len(set(ids)) and set(ids) == {id(p) for p in clf.parameters()}


def test_ar_tar_formula():
    raw = [torch.tensor([[[1.0]], [[3.0]], [[6.0]]])]
    out = [torch.tensor([[[2.0]], [[0.0]], [[0.0]]])]
    # alpha · mean(out²) = 2 · 4/3 ; beta · mean(diff²) = 1 · (4 + 9)/2
    assert ar_tar_loss(raw, out, alpha=2, beta=1).item() == pytest.approx(2 * 4 / 3 + 13 / 2)


@given(doc_len=st.integers(1, 40), bptt=st.integers(1, 9))
def test_bpt3c_equals_single_pass_when_max_len_covers_the_document(doc_len, bptt):
    torch.manual_seed(doc_len)
    enc = AWDLSTMEncoder(SMALL).eval()
    ids = torch.randint(0, 50, (doc_len, 2))
    enc.reset()
    raw_single, out_single = enc(ids)
    raw_multi, out_multi = MultiBatchEncoder(enc, bptt=bptt, max_len=doc_len + 3)(ids)
    for a, b in zip(raw_single + out_single, raw_multi + out_multi, strict=True):
        torch.testing.assert_close(a, b)


def test_bpt3c_keeps_only_the_last_max_len_outputs():
    enc = AWDLSTMEncoder(SMALL).eval()
    ids = torch.randint(0, 50, (30, 2))
    enc.reset()
    raw_single, _ = enc(ids)
    raw_multi, _ = MultiBatchEncoder(enc, bptt=4, max_len=10)(ids)
    assert raw_multi[-1].shape[0] == 10
    torch.testing.assert_close(raw_multi[-1], raw_single[-1][-10:])


@given(length=st.integers(1, 10), pad_before=st.integers(0, 5), pad_after=st.integers(0, 5))
def test_masked_pooling_ignores_padding(length, pad_before, pad_after):
    torch.manual_seed(length)
    real = torch.randn(length, 1, 4)
    plain = masked_concat_pool(real, torch.zeros(length, 1, dtype=torch.bool))
    padded = torch.cat([torch.randn(pad_before, 1, 4) * 100, real, torch.randn(pad_after, 1, 4) * 100])
    mask = torch.tensor([True] * pad_before + [False] * length + [True] * pad_after).unsqueeze(1)
    torch.testing.assert_close(masked_concat_pool(padded, mask), plain)
    torch.testing.assert_close(plain, torch.cat([real[-1], real.max(0).values, real.mean(0)], dim=1))


def test_classifier_shapes_and_padding_first():
    clf = TextClassifier(AWDLSTMConfig.classifier(vocab_size=50, emb_size=8, hidden_size=12, backend="python"), 3,
                         bptt=5, max_len=12)
    ids = torch.randint(2, 50, (17, 4))
    ids[:3, 0] = 1  # pad id at the start of the first document
    logits, raw, out = clf(ids)
    assert logits.shape == (4, 3)
    assert raw[-1].shape == (12, 4, 8)
    logits.sum().backward()


@pytest.mark.parametrize(
    "ids, error, message",
    [
        (torch.randint(0, 50, (5,)), ValueError, r"shape \(seq_len, batch\)"),
        (torch.randint(0, 50, (5, 2, 1)), ValueError, r"shape \(seq_len, batch\)"),
        (torch.rand(5, 2), TypeError, "integer token ids"),
        (torch.full((5, 2), 50), ValueError, r"\[0, 50\)"),
        (torch.full((5, 2), -1), ValueError, r"\[0, 50\)"),
    ],
)
def test_bad_token_ids(ids, error, message):
    with pytest.raises(error, match=message):
        LanguageModel(SMALL)(ids)
    with pytest.raises(error, match=message):
        TextClassifier(AWDLSTMConfig.classifier(vocab_size=50, emb_size=8, hidden_size=12), 2)(ids)


def test_bad_classifier_arguments():
    with pytest.raises(ValueError, match="at least 2 classes"):
        TextClassifier(SMALL, 1)
