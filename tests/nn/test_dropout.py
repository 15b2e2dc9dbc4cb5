"""The defining property of each AWD-LSTM dropout."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from ulmlite.nn import LSTM, EmbeddingDropout, LockedDropout, WeightDrop


@given(p=st.floats(0.05, 0.9), rows=st.integers(2, 40))
def test_embedding_dropout_zeroes_whole_rows_and_scales_the_rest(p, rows):
    emb = torch.nn.Embedding(rows, 6)
    drop = EmbeddingDropout(emb, p).train()
    words = torch.arange(rows).repeat(3, 1)  # every word three times
    out = drop(words)
    weight = emb.weight.detach()
    for w in range(rows):
        vecs = out[:, w]  # the same word everywhere in the batch: all dropped or all kept
        dropped = torch.all(vecs == 0)
        assert dropped or torch.allclose(vecs, (weight[w] / (1 - p)).expand_as(vecs))


def test_embedding_dropout_keeps_expectation():
    emb = torch.nn.Embedding(1, 4)
    drop = EmbeddingDropout(emb, 0.3).train()
    samples = torch.stack([drop(torch.zeros(1, 1, dtype=torch.long)) for _ in range(20000)])
    torch.testing.assert_close(samples.mean(0).squeeze(), emb.weight[0].detach(), rtol=0.05, atol=0.02)


@given(p=st.floats(0.05, 0.9), seq_len=st.integers(2, 12))
def test_locked_dropout_mask_is_the_same_at_every_step(p, seq_len):
    x = torch.ones(seq_len, 3, 8)
    out = LockedDropout(p).train()(x)
    assert torch.equal(out, out[:1].expand_as(out))
    kept = out[out != 0]
    torch.testing.assert_close(kept, torch.full_like(kept, 1 / (1 - p)))


def test_locked_dropout_keeps_expectation():
    out = LockedDropout(0.4).train()(torch.ones(1, 200, 200))
    assert abs(out.mean().item() - 1.0) < 0.03


def test_weight_drop_first_step_unchanged_later_steps_changed():
    torch.manual_seed(1)
    lstm = LSTM(4, 16, backend="python")
    drop = WeightDrop(lstm, 0.5).train()
    x = torch.randn(5, 3, 4)
    y_plain, _ = lstm(x)
    y_drop, _ = drop(x)
    torch.testing.assert_close(y_drop[0], y_plain[0])  # h0 = 0: the recurrent matrix is not used yet
    assert not torch.allclose(y_drop[1:], y_plain[1:])
    assert torch.equal(lstm.weight_hh_l0, drop.module.weight_hh_l0)  # the raw weight is untouched


def test_weight_drop_one_mask_per_forward_and_gradients_reach_the_raw_weight():
    lstm = LSTM(3, 5, backend="python")
    drop = WeightDrop(lstm, 0.5).train()
    y, _ = drop(torch.randn(4, 2, 3))
    y.sum().backward()
    grad = lstm.weight_hh_l0.grad
    # Dropped entries get no gradient; with one mask for all steps a dropped entry stays at zero.
    assert grad is not None and (grad == 0).any() and (grad != 0).any()


def test_weight_drop_works_with_torch_lstm():
    lstm = torch.nn.LSTM(3, 5)
    drop = WeightDrop(lstm, 0.5).train()
    y, _ = drop(torch.randn(4, 2, 3))
    y.sum().backward()
    assert lstm.weight_hh_l0.grad is not None


@pytest.mark.parametrize("make", [
    lambda: LockedDropout(0.5),
    lambda: EmbeddingDropout(torch.nn.Embedding(10, 4), 0.5),
    lambda: WeightDrop(LSTM(3, 4, backend="python"), 0.5),
])
def test_identity_in_eval(make):
    module = make().eval()
    x = torch.randint(0, 10, (5, 2)) if isinstance(module, EmbeddingDropout) else torch.randn(5, 2, 3)
    reference = {
        LockedDropout: lambda: x,
        EmbeddingDropout: lambda: module.embedding(x),
        WeightDrop: lambda: module.module(x)[0],
    }[type(module)]()
    out = module(x)
    out = out[0] if isinstance(out, tuple) else out
    assert torch.equal(out, reference)


def test_identity_at_p_zero():
    x = torch.randn(5, 2, 3)
    assert torch.equal(LockedDropout(0.0).train()(x), x)
    emb = torch.nn.Embedding(10, 4)
    words = torch.randint(0, 10, (5, 2))
    assert torch.equal(EmbeddingDropout(emb, 0.0).train()(words), emb(words))
    lstm = LSTM(3, 4, backend="python")
    assert torch.equal(WeightDrop(lstm, 0.0).train()(x)[0], lstm(x)[0])


def test_bad_probability_and_weight_name():
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        LockedDropout(1.0)
    with pytest.raises(ValueError, match="no weight named"):
        WeightDrop(LSTM(3, 4), 0.5, weights=("weight_hh",))
