"""The fused LSTM layer op (csrc/): opcheck, gradcheck, property tests against torch.nn.LSTM,
bfloat16 against a float64 reference, torch.compile, WeightDrop, and bad input."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from ulmlite.nn import LSTM, AWDLSTMConfig, AWDLSTMEncoder, WeightDrop
from ulmlite.nn.fused_lstm import fused_layer_available, lstm_layer

# Every test here runs on each CPU GEMM path this CPU allows and on the emulated CUDA kernels
# (the op_path fixture, tests/conftest.py).
pytestmark = [pytest.mark.skipif(not fused_layer_available(), reason="ulmlite._C not built"),
              pytest.mark.usefixtures("op_path")]


def layer_inputs(seq_len, batch, input_size, hidden, dtype=torch.float64, bias=True, grad=True):
    shapes = [(seq_len, batch, input_size), (batch, hidden), (batch, hidden), (4 * hidden, input_size),
              (4 * hidden, hidden)] + ([(4 * hidden,), (4 * hidden,)] if bias else [])
    tensors = [torch.randn(*s, dtype=dtype).requires_grad_(grad) for s in shapes]
    return tensors + ([] if bias else [None, None])


@pytest.mark.parametrize("bias", [True, False])
def test_gradcheck_float64(bias):
    inputs = layer_inputs(4, 3, 5, 6, bias=bias)
    assert torch.autograd.gradcheck(lstm_layer, inputs)


def test_opcheck_forward_and_backward():
    x, h0, c0, w_ih, w_hh, b_ih, b_hh = layer_inputs(3, 2, 4, 5, dtype=torch.float32)
    torch.library.opcheck(torch.ops.ulmlite.lstm_forward.default, (x, h0, c0, w_ih, w_hh, b_ih, b_hh))
    torch.library.opcheck(torch.ops.ulmlite.lstm_forward.default, (x, h0, c0, w_ih, w_hh, None, None))
    with torch.no_grad():
        y, h, c, act, cs = torch.ops.ulmlite.lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    dy, dh, dc = torch.randn_like(y), torch.randn_like(h), torch.randn_like(c)
    args = (dy, dh, dc, x.detach(), h0.detach(), c0.detach(), w_ih.detach(), w_hh.detach(), y, act, cs)
    torch.library.opcheck(torch.ops.ulmlite.lstm_backward.default, args)


@given(
    seq_len=st.integers(1, 8),
    batch=st.integers(1, 5),
    input_size=st.integers(1, 20),
    hidden=st.sampled_from([1, 3, 7, 13, 17, 33]),
    with_state=st.booleans(),
    bias=st.booleans(),
    dtype=st.sampled_from([torch.float32, torch.float64]),
)
def test_every_output_and_gradient_matches_torch_lstm(seq_len, batch, input_size, hidden, with_state, bias, dtype):
    reference = torch.nn.LSTM(input_size, hidden, bias=bias).to(dtype)
    fused = LSTM(input_size, hidden, bias=bias, backend="fused").to(dtype)
    fused.load_state_dict(reference.state_dict())
    x = torch.randn(seq_len, batch, input_size, dtype=dtype)
    hx = tuple(torch.randn(1, batch, hidden, dtype=dtype) for _ in range(2)) if with_state else None
    grads_out = [torch.randn(seq_len, batch, hidden, dtype=dtype)] + [
        torch.randn(1, batch, hidden, dtype=dtype) for _ in range(2)
    ]
    results = []
    for module in (fused, reference):
        xi = x.clone().requires_grad_()
        hxi = None if hx is None else tuple(s.clone().requires_grad_() for s in hx)
        y, (h, c) = module(xi, hxi)
        torch.autograd.backward((y, h, c), grads_out)
        grads = [xi.grad] + ([s.grad for s in hxi] if hxi else []) + [p.grad for p in module.parameters()]
        results.append([y, h, c] + grads)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-10)
    for got, want in zip(*results, strict=True):
        torch.testing.assert_close(got, want, **tol)


def test_bfloat16_against_float64_reference():
    torch.manual_seed(3)
    x, h0, c0, w_ih, w_hh, b_ih, b_hh = layer_inputs(12, 4, 24, 40, dtype=torch.float64, grad=False)
    w_ih, w_hh = w_ih * 0.2, w_hh * 0.2
    bf = [t.bfloat16() for t in (x, h0, w_ih, w_hh, b_ih, b_hh)]
    as64 = [t.double().requires_grad_() for t in bf]  # the same (rounded) numbers in float64
    bf = [t.requires_grad_() for t in bf]
    c0_32 = c0.float().requires_grad_()
    c0_64 = c0.float().double().requires_grad_()
    y, h, c = lstm_layer(bf[0], bf[1], c0_32, *bf[2:])
    assert y.dtype == torch.bfloat16 and c.dtype == torch.float32
    y64, h64, c64 = lstm_layer(as64[0], as64[1], c0_64, *as64[2:])
    torch.testing.assert_close(y.double(), y64, rtol=0, atol=3e-2)
    torch.testing.assert_close(c.double(), c64, rtol=0, atol=3e-2)
    dy = torch.randn_like(y64)
    torch.autograd.backward((y, c), (dy.bfloat16(), torch.ones_like(c)))
    torch.autograd.backward((y64, c64), (dy.bfloat16().double(), torch.ones_like(c64)))
    for got, want in zip(bf + [c0_32], as64 + [c0_64], strict=True):
        scale = want.grad.abs().max().item()
        torch.testing.assert_close(got.grad.double(), want.grad, rtol=0, atol=4e-2 * max(scale, 1.0))


def test_runs_under_torch_compile():
    module = LSTM(6, 8, backend="fused")
    x = torch.randn(5, 2, 6, requires_grad=True)
    compiled = torch.compile(module, backend="aot_eager", fullgraph=True)
    y, (h, c) = compiled(x)
    y_ref, (h_ref, c_ref) = module(x)
    torch.testing.assert_close(y, y_ref)
    y.sum().backward()
    assert x.grad is not None and module.weight_hh_l0.grad is not None


def test_weight_drop_with_fused_backend():
    torch.manual_seed(0)
    fused = LSTM(4, 6, backend="fused")
    python = LSTM(4, 6, backend="python")
    python.load_state_dict(fused.state_dict())
    x = torch.randn(5, 2, 4)
    torch.manual_seed(7)
    y_fused, _ = WeightDrop(fused, 0.5).train()(x)
    torch.manual_seed(7)
    y_python, _ = WeightDrop(python, 0.5).train()(x)
    torch.testing.assert_close(y_fused, y_python)  # the same mask, an ordinary input to either backend


def test_fused_is_the_default_backend_when_built():
    encoder = AWDLSTMEncoder(AWDLSTMConfig(vocab_size=20, emb_size=4, hidden_size=6))
    assert all(rnn.module.backend == "fused" for rnn in encoder.rnns)


def good_args(T=3, B=2, n_in=4, H=5, dtype=torch.float32):
    return [torch.randn(T, B, n_in, dtype=dtype), torch.randn(B, H, dtype=dtype),
            torch.randn(B, H, dtype=torch.float32 if dtype == torch.bfloat16 else dtype),
            torch.randn(4 * H, n_in, dtype=dtype), torch.randn(4 * H, H, dtype=dtype),
            torch.randn(4 * H, dtype=dtype), torch.randn(4 * H, dtype=dtype)]


def with_arg(index, value, args=None):
    args = list(args or good_args())
    args[index] = value
    return args


@pytest.mark.parametrize(
    "args, message",
    [
        (with_arg(0, torch.randn(0, 2, 4)), "empty sequence"),
        (with_arg(0, torch.randn(2, 4)), r"x must have shape \(seq_len, batch, input_size\)"),
        (with_arg(0, torch.randn(3, 4, 2).transpose(1, 2)), "x must be contiguous"),
        (with_arg(3, torch.randn(4, 20).t()), "w_ih must be contiguous"),
        (with_arg(1, torch.randn(3, 5)), r"h0 must have shape \[2, 5\]"),
        (with_arg(2, torch.randn(2, 6)), r"c0 must have shape \[2, 5\]"),
        (with_arg(3, torch.randn(20, 3)), r"w_ih must have shape \[20, 4\]"),
        (with_arg(4, torch.randn(16, 5)), r"w_hh must have shape \[20, 5\]"),
        (with_arg(5, torch.randn(19)), r"b_ih must have shape \[20\]"),
        (with_arg(6, None), "both biases or neither"),
        (with_arg(4, torch.randn(20, 5, dtype=torch.float64)), "w_hh must have dtype Float"),
        (with_arg(0, torch.randint(0, 5, (3, 2, 4))), "float32, float64 or bfloat16"),
        (with_arg(2, torch.randn(2, 5).bfloat16(), good_args(dtype=torch.bfloat16)), "c0 must have dtype Float"),
        (with_arg(1, torch.randn(2, 5, device="meta")), "one device"),
    ],
)
def test_bad_input_raises_clear_runtime_error(args, message):
    with pytest.raises(RuntimeError, match=message):
        torch.ops.ulmlite.lstm_forward(*args)


def test_backward_op_checks_shapes():
    args = good_args()
    y, h, c, act, cs = torch.ops.ulmlite.lstm_forward(*args)
    with pytest.raises(RuntimeError, match=r"dy must have shape \[3, 2, 5\]"):
        torch.ops.ulmlite.lstm_backward(torch.randn(3, 2, 4), h, c, *args[:5], y, act, cs)
    with pytest.raises(RuntimeError, match=r"act must have shape \[3, 2, 20\]"):
        torch.ops.ulmlite.lstm_backward(torch.randn_like(y), h, c, *args[:5], y, act[:, :, :10].contiguous(), cs)


def test_long_products_match_torch_lstm():
    """T*B = 640 rows: the weight gradients are long reductions (the shapes where a GEMM path may
    choose another kernel than at the property tests' sizes)."""
    torch.manual_seed(0)
    reference = torch.nn.LSTM(24, 40)
    fused = LSTM(24, 40, backend="fused")
    fused.load_state_dict(reference.state_dict())
    x = torch.randn(40, 16, 24)
    grads = []
    for module in (fused, reference):
        module.zero_grad()
        xi = x.clone().requires_grad_()
        y, (h, c) = module(xi)
        (y.square().sum() + h.sum() + c.sum()).backward()
        grads.append([y, xi.grad] + [p.grad for p in module.parameters()])
    for ours, theirs in zip(*grads, strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-4)


def test_float16_autocast_is_refused_with_what_to_do():
    """CUDA autocast defaults to float16; the fused layer takes bfloat16 (tested on the CPU path)."""
    x, h0, c0 = torch.randn(3, 2, 4), torch.zeros(2, 5), torch.zeros(2, 5)
    w_ih, w_hh = torch.randn(20, 4), torch.randn(20, 5)
    with torch.autocast("cpu", dtype=torch.float16), pytest.raises(TypeError, match="dtype=torch.bfloat16"):
        lstm_layer(x, h0, c0, w_ih, w_hh)
