"""ulmlite.nn.LSTM against torch.nn.LSTM: outputs, final states and every gradient, over random
shapes, with and without (h0, c0), in float32 and float64, for every backend available."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from ulmlite.nn import LSTM
from ulmlite.nn.fused_lstm import fused_layer_available

BACKENDS = ["python", "torch"] + (["fused"] if fused_layer_available() else [])
TOLERANCE = {torch.float64: dict(rtol=1e-10, atol=1e-10), torch.float32: dict(rtol=1e-5, atol=1e-5)}


def make_pair(input_size, hidden_size, backend, dtype, bias=True):
    reference = torch.nn.LSTM(input_size, hidden_size, bias=bias).to(dtype)
    mine = LSTM(input_size, hidden_size, bias=bias, backend=backend).to(dtype)
    mine.load_state_dict(reference.state_dict())
    return mine, reference


def run_and_grad(module, x, hx, dy, dh, dc):
    x = x.clone().requires_grad_()
    hx = None if hx is None else tuple(s.clone().requires_grad_() for s in hx)
    y, (h, c) = module(x, hx)
    torch.autograd.backward((y, h, c), (dy, dh, dc))
    grads = [x.grad] + ([s.grad for s in hx] if hx is not None else []) + [p.grad for p in module.parameters()]
    return (y, h, c), grads


@pytest.mark.parametrize("backend", BACKENDS)
@given(
    input_size=st.integers(1, 24),
    hidden_size=st.integers(1, 24),
    seq_len=st.integers(1, 9),
    batch=st.integers(1, 6),
    with_state=st.booleans(),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    bias=st.booleans(),
)
def test_matches_torch_lstm(backend, input_size, hidden_size, seq_len, batch, with_state, dtype, bias):
    mine, reference = make_pair(input_size, hidden_size, backend, dtype, bias)
    x = torch.randn(seq_len, batch, input_size, dtype=dtype)
    hx = tuple(torch.randn(1, batch, hidden_size, dtype=dtype) for _ in range(2)) if with_state else None
    dy = torch.randn(seq_len, batch, hidden_size, dtype=dtype)
    dh, dc = torch.randn(1, batch, hidden_size, dtype=dtype), torch.randn(1, batch, hidden_size, dtype=dtype)
    outs, grads = run_and_grad(mine, x, hx, dy, dh, dc)
    ref_outs, ref_grads = run_and_grad(reference, x, hx, dy, dh, dc)
    for got, want in zip(outs + tuple(grads), ref_outs + tuple(ref_grads), strict=True):
        torch.testing.assert_close(got, want, **TOLERANCE[dtype])


@pytest.mark.parametrize("backend", BACKENDS)
def test_unbatched_input_like_torch(backend):
    mine, reference = make_pair(5, 7, backend, torch.float64)
    x = torch.randn(4, 5, dtype=torch.float64)
    hx = (torch.randn(1, 7, dtype=torch.float64), torch.randn(1, 7, dtype=torch.float64))
    y, (h, c) = mine(x, hx)
    y_ref, (h_ref, c_ref) = reference(x, hx)
    for got, want in ((y, y_ref), (h, h_ref), (c, c_ref)):
        torch.testing.assert_close(got, want)


def test_state_dict_keys_match_torch():
    assert LSTM(3, 4).state_dict().keys() == torch.nn.LSTM(3, 4).state_dict().keys()
    reference = torch.nn.LSTM(3, 4)
    reference.load_state_dict(LSTM(3, 4).state_dict())  # and the other way round


@pytest.mark.parametrize(
    "x, hx, message",
    [
        (torch.randn(4, 2, 6), None, r"input of shape \(seq_len, batch, 5\)"),
        (torch.randn(4), None, r"input of shape \(seq_len, batch, 5\)"),
        (torch.randint(0, 3, (4, 2, 5)), None, "floating-point"),
        (torch.randn(0, 2, 5), None, "empty sequence"),
        (torch.randn(4, 2, 5), (torch.zeros(1, 3, 7), torch.zeros(1, 2, 7)), r"h0 of shape \(1, 2, 7\)"),
        (torch.randn(4, 2, 5), (torch.zeros(1, 2, 7), torch.zeros(2, 7)), r"c0 of shape \(1, 2, 7\)"),
    ],
)
def test_bad_input_names_expected_shape(x, hx, message):
    with pytest.raises((ValueError, TypeError), match=message):
        LSTM(5, 7, backend="python")(x, hx)


def test_bad_backend_and_sizes():
    with pytest.raises(ValueError, match="backend must be one of"):
        LSTM(3, 4, backend="cudnn")
    with pytest.raises(ValueError, match="positive"):
        LSTM(0, 4)
