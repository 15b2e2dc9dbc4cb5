"""The fused decoder + cross-entropy op (csrc/cross_entropy*): property tests against F.linear +
F.cross_entropy, bfloat16 against a float64 reference, gradcheck, opcheck, torch.compile, the
language model's two loss backends, and bad input."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from ulmlite.nn import AWDLSTMConfig, LanguageModel
from ulmlite.nn.fused_loss import fused_loss_available, linear_cross_entropy

# Every test here runs on each CPU GEMM path this CPU allows and on the emulated CUDA kernels
# (the op_path fixture, tests/conftest.py).
pytestmark = [pytest.mark.skipif(not fused_loss_available(), reason="ulmlite._C not built"),
              pytest.mark.usefixtures("op_path")]


def reference(x, w, b, t):
    logits = F.linear(x, w, b)
    loss = F.cross_entropy(logits.to(torch.promote_types(logits.dtype, torch.float32)), t)
    return loss, (logits.argmax(1) == t).sum()


def loss_and_grads(fn, x, w, b, t):
    params = [p.detach().clone().requires_grad_() for p in (x, w, b) if p is not None]
    x_, w_ = params[0], params[1]
    b_ = params[2] if b is not None else None
    loss, correct = fn(x_, w_, b_, t)
    loss.backward()
    return loss.detach(), correct, [p.grad for p in params]


@given(n=st.integers(1, 40), e=st.integers(1, 21), v=st.integers(1, 70), chunk=st.integers(1, 50),
       bias=st.booleans(), dtype=st.sampled_from([torch.float32, torch.float64]), scale=st.sampled_from([0.1, 1, 10]))
def test_loss_accuracy_and_gradients_match_torch(n, e, v, chunk, bias, dtype, scale):
    x = torch.randn(n, e, dtype=dtype) * scale
    w, b = torch.randn(v, e, dtype=dtype), torch.randn(v, dtype=dtype) if bias else None
    t = torch.randint(0, v, (n,))
    ours = loss_and_grads(lambda *a: linear_cross_entropy(*a, chunk_rows=chunk), x, w, b, t)
    theirs = loss_and_grads(reference, x, w, b, t)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(ours[0], theirs[0], **tol)
    assert ours[1].item() == theirs[1].item()
    for a, c in zip(ours[2], theirs[2], strict=True):
        torch.testing.assert_close(a, c, **tol)


@given(n=st.integers(1, 30), v=st.sampled_from([5, 16, 17, 100, 1000]), chunk=st.integers(1, 30))
def test_bfloat16_within_bfloat16_tolerance_of_float64(n, v, chunk):
    e = 24
    x, w = torch.randn(n, e, dtype=torch.float64), torch.randn(v, e, dtype=torch.float64) * 0.3
    t = torch.randint(0, v, (n,))
    exact = loss_and_grads(reference, x, w, None, t)
    ours = loss_and_grads(lambda *a: linear_cross_entropy(*a, chunk_rows=chunk), x.bfloat16(), w.bfloat16(), None, t)
    assert ours[0].dtype == torch.float32 and ours[2][1].dtype == torch.bfloat16
    torch.testing.assert_close(ours[0].double(), exact[0], rtol=2e-2, atol=2e-2)
    for a, c in zip(ours[2], exact[2], strict=True):  # bfloat16 keeps 8 bits: a few % of the largest entry
        torch.testing.assert_close(a.double(), c, rtol=5e-2, atol=0.03 * c.abs().max().item())


def test_autocast_casts_to_bfloat16_and_keeps_float32_parameters():
    x, w = torch.randn(7, 8, requires_grad=True), torch.randn(30, 8, requires_grad=True)
    t = torch.randint(0, 30, (7,))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss, _ = linear_cross_entropy(x, w, None, t)
    loss.backward()
    assert loss.dtype == torch.float32 and w.grad.dtype == torch.float32 and x.grad.dtype == torch.float32
    torch.testing.assert_close(loss, F.cross_entropy(F.linear(x, w), t), rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("bias", [True, False])
def test_gradcheck_float64(bias):
    x = torch.randn(9, 5, dtype=torch.float64, requires_grad=True)
    w = torch.randn(11, 5, dtype=torch.float64, requires_grad=True)
    b = torch.randn(11, dtype=torch.float64, requires_grad=True) if bias else None
    t = torch.randint(0, 11, (9,))
    inputs = (x, w, b) if bias else (x, w)
    def loss(*a):
        return linear_cross_entropy(a[0], a[1], a[2] if bias else None, t, 4)[0]

    assert torch.autograd.gradcheck(loss, inputs)


def test_opcheck():
    x, w, b, t = torch.randn(6, 4), torch.randn(9, 4), torch.randn(9), torch.randint(0, 9, (6,))
    for args in ((x, w, b, t, 4, True), (x, w, None, t, 4, True), (x, w, b, t, 2, False)):
        torch.library.opcheck(torch.ops.ulmlite.linear_cross_entropy.default, args,
                              test_utils=("test_schema", "test_faketensor", "test_aot_dispatch_dynamic"))


def test_under_torch_compile():
    x, w, t = torch.randn(6, 4, requires_grad=True), torch.randn(9, 4, requires_grad=True), torch.randint(0, 9, (6,))
    compiled = torch.compile(lambda x, w: linear_cross_entropy(x, w, None, t, 4)[0], fullgraph=True)
    loss = compiled(x, w)
    loss.backward()
    torch.testing.assert_close(loss, F.cross_entropy(F.linear(x, w), t))


def test_the_language_models_two_loss_backends_agree():
    config = AWDLSTMConfig(vocab_size=60, emb_size=8, hidden_size=12, n_layers=2)
    ids, targets = torch.randint(0, 60, (7, 3)), torch.randint(0, 60, (7, 3))
    results = []
    for backend in ("torch", "fused"):
        torch.manual_seed(0)  # the same weights and the same dropout masks
        model = LanguageModel(AWDLSTMConfig(**{**config.__dict__, "loss_backend": backend}))
        loss, correct, _, _ = model.forward_loss(ids, targets)
        loss.backward()
        results.append((loss.detach(), correct, [p.grad.clone() for p in model.parameters()]))
    torch.testing.assert_close(results[0][0], results[1][0])
    assert results[0][1] == results[1][1]
    for a, b in zip(results[0][2], results[1][2], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_no_grad_returns_the_loss_only():
    x, w, t = torch.randn(5, 4, requires_grad=True), torch.randn(9, 4, requires_grad=True), torch.randint(0, 9, (5,))
    with torch.no_grad():
        loss, correct = linear_cross_entropy(x, w, None, t)
    assert not loss.requires_grad and 0 <= correct.item() <= 5


GOOD = dict(x=torch.randn(5, 4), w=torch.randn(9, 4), b=None, t=torch.randint(0, 9, (5,)), chunk=4)


@pytest.mark.parametrize("change, message", [
    (dict(t=torch.tensor([0, 1, 2, 3, 9])), r"targets must be in \[0, 9\), got \[0, 9\]"),
    (dict(t=torch.tensor([0, -1, 2, 3, 4])), r"targets must be in"),
    (dict(t=torch.randint(0, 9, (5,)).int()), "target must have dtype Long"),
    (dict(t=torch.randint(0, 9, (4,))), r"target must have shape \[5\]"),
    (dict(x=torch.randn(5, 3)), r"weight must have shape \[9, 3\]"),
    (dict(x=torch.randn(0, 4), t=torch.zeros(0, dtype=torch.long)), "no rows"),
    (dict(x=torch.randn(5, 4, 2)), r"input must have shape \(tokens, features\)"),
    (dict(w=torch.randn(9, 4, dtype=torch.float64)), "weight must have dtype Float"),
    (dict(x=torch.randn(4, 5).t()), "input must be contiguous"),
    (dict(b=torch.randn(8)), r"bias must have shape \[9\]"),
    (dict(x=torch.randn(5, 4).half(), w=torch.randn(9, 4).half()), "must be float32, float64 or bfloat16"),
    (dict(chunk=0), "chunk_rows must be positive"),
])
def test_bad_input_raises_a_clear_error(change, message):
    a = {**GOOD, **change}
    with pytest.raises(RuntimeError, match=message):
        torch.ops.ulmlite.linear_cross_entropy(a["x"], a["w"], a["b"], a["t"], a["chunk"], True)


def test_an_unknown_loss_backend_is_refused_when_the_model_is_built():
    with pytest.raises(ValueError, match="loss backend must be 'torch', 'fused' or 'auto', got 'bogus'"):
        LanguageModel(AWDLSTMConfig(vocab_size=10, emb_size=4, hidden_size=6, n_layers=1, loss_backend="bogus"))


def test_float16_autocast_is_refused_with_what_to_do():
    """CUDA autocast defaults to float16; the fused ops take bfloat16 (tested here on the CPU path)."""
    x, w, t = torch.randn(6, 4, requires_grad=True), torch.randn(9, 4), torch.randint(0, 9, (6,))
    with torch.autocast("cpu", dtype=torch.float16), pytest.raises(TypeError, match="dtype=torch.bfloat16"):
        linear_cross_entropy(x, w, None, t)
