"""The compiled extension loads, registers its ops, and the pointwise cell op matches a plain
PyTorch reference (values and gradients), passes opcheck and gradcheck, and rejects bad input."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import ulmlite
from ulmlite.nn.fused_lstm import lstm_cell

pytestmark = pytest.mark.skipif(not ulmlite.extension_available(), reason="ulmlite._C not built")


def reference_cell(gates, c_prev):
    """The LSTM pointwise step written with torch ops (gate order i, f, g, o)."""
    i, f, g, o = gates.float().chunk(4, dim=1) if gates.dtype == torch.bfloat16 else gates.chunk(4, dim=1)
    c = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * torch.tanh(g)
    h = torch.sigmoid(o) * torch.tanh(c)
    return h.to(gates.dtype), c


def test_ops_registered():
    assert hasattr(torch.ops.ulmlite, "lstm_cell_forward")
    assert hasattr(torch.ops.ulmlite, "lstm_cell_backward")


@given(batch=st.integers(1, 9), hidden=st.integers(1, 37), dtype=st.sampled_from([torch.float32, torch.float64]))
def test_cell_matches_reference(batch, hidden, dtype):
    gates = torch.randn(batch, 4 * hidden, dtype=dtype, requires_grad=True)
    c_prev = torch.randn(batch, hidden, dtype=dtype, requires_grad=True)
    h, c = lstm_cell(gates, c_prev)
    gates_ref = gates.detach().clone().requires_grad_()
    c_prev_ref = c_prev.detach().clone().requires_grad_()
    h_ref, c_ref = reference_cell(gates_ref, c_prev_ref)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(h, h_ref, **tol)
    torch.testing.assert_close(c, c_ref, **tol)
    dh, dc = torch.randn_like(h), torch.randn_like(c)
    torch.autograd.backward((h, c), (dh, dc))
    torch.autograd.backward((h_ref, c_ref), (dh, dc))
    torch.testing.assert_close(gates.grad, gates_ref.grad, **tol)
    torch.testing.assert_close(c_prev.grad, c_prev_ref.grad, **tol)


def test_cell_bfloat16_keeps_float32_state():
    gates = torch.randn(4, 4 * 24, dtype=torch.float64)
    c_prev = torch.randn(4, 24, dtype=torch.float64)
    h, c = lstm_cell(gates.bfloat16(), c_prev.float())
    assert h.dtype == torch.bfloat16 and c.dtype == torch.float32
    h_ref, c_ref = reference_cell(gates.bfloat16().double(), c_prev.float().double())
    torch.testing.assert_close(h.double(), h_ref, rtol=1e-2, atol=1e-2)
    torch.testing.assert_close(c.double(), c_ref, rtol=1e-5, atol=1e-5)


def test_cell_gradcheck():
    gates = torch.randn(3, 4 * 5, dtype=torch.float64, requires_grad=True)
    c_prev = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lstm_cell, (gates, c_prev))


def test_cell_gradcheck_through_activated_gates():
    """The third output (activated gates) is differentiable too."""
    gates = torch.randn(2, 4 * 3, dtype=torch.float64, requires_grad=True)
    c_prev = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    fn = lambda g, c: torch.ops.ulmlite.lstm_cell_forward(g, c)
    assert torch.autograd.gradcheck(fn, (gates, c_prev))


def test_cell_opcheck():
    gates = torch.randn(3, 4 * 5, requires_grad=True)
    c_prev = torch.randn(3, 5, requires_grad=True)
    torch.library.opcheck(torch.ops.ulmlite.lstm_cell_forward.default, (gates, c_prev))
    act = torch.rand(3, 20)
    c, dh, dc = torch.randn(3, 5), torch.randn(3, 5), torch.randn(3, 5)
    torch.library.opcheck(torch.ops.ulmlite.lstm_cell_backward.default, (act, c, c_prev.detach(), dh, dc))


def test_cell_under_torch_compile():
    gates, c_prev = torch.randn(2, 16), torch.randn(2, 4)
    compiled = torch.compile(lstm_cell, backend="aot_eager", fullgraph=True)
    h, c = compiled(gates, c_prev)
    h_ref, c_ref = reference_cell(gates, c_prev)
    torch.testing.assert_close(h, h_ref)
    torch.testing.assert_close(c, c_ref)


@pytest.mark.parametrize(
    "gates, c_prev, message",
    [
        (torch.randn(2, 7), torch.randn(2, 1), "4\\*hidden"),
        (torch.randn(2, 8, 1), torch.randn(2, 2), "4\\*hidden"),
        (torch.randn(2, 8), torch.randn(3, 2), "c_prev must have shape \\[2, 2\\]"),
        (torch.randn(2, 8), torch.randn(2, 2, dtype=torch.float64), "c_prev must have dtype Float"),
        (torch.randint(0, 3, (2, 8)), torch.randn(2, 2), "float32, float64 or bfloat16"),
        (torch.randn(2, 8).bfloat16(), torch.randn(2, 2).bfloat16(), "c_prev must have dtype Float"),
        (torch.randn(8, 2).t(), torch.randn(2, 2), "gates must be contiguous"),
        (torch.randn(2, 8), torch.randn(2, 2, device="meta"), "one device"),
    ],
)
def test_cell_rejects_bad_input(gates, c_prev, message):
    with pytest.raises(RuntimeError, match=message):
        torch.ops.ulmlite.lstm_cell_forward(gates, c_prev)


def test_cell_empty_batch():
    h, c, act = torch.ops.ulmlite.lstm_cell_forward(torch.randn(0, 8), torch.randn(0, 2))
    assert h.shape == (0, 2) and c.shape == (0, 2) and act.shape == (0, 8)
