"""Python side of the fused LSTM ops in csrc/: fake (meta) kernels for torch.compile and the
autograd formulas, whose backward calls the registered backward op.

Schemas and kernels are in csrc/ops.cpp (CPU) and csrc/lstm_cuda.cu (CUDA); the per-element math
is csrc/lstm_pointwise.h.
"""

import torch

from ulmlite._extension import extension_available, require_extension


def _state_dtype(dtype: torch.dtype) -> torch.dtype:
    """Cell state and math run in float32 when the activations are bfloat16."""
    return torch.float32 if dtype == torch.bfloat16 else dtype


def lstm_cell(gates: torch.Tensor, c_prev: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The pointwise part of one LSTM step: gate pre-activations (B, 4H) and c_prev (B, H) in,
    (h, c) out. Differentiable; the backward is the op `ulmlite::lstm_cell_backward`."""
    require_extension()
    h, c, _ = torch.ops.ulmlite.lstm_cell_forward(gates, c_prev)
    return h, c


def _autocast_dtype(device_type: str) -> torch.dtype:
    """The dtype autocast runs the fused ops in. float16 (CUDA autocast's default) is refused with a
    message that says what to do: the ops keep bfloat16's float32 cell state and sums, not float16's."""
    dtype = torch.get_autocast_dtype(device_type)
    if dtype == torch.float16:
        raise TypeError(f"ulmlite's fused ops run in float32, float64 or bfloat16, not float16: use "
                        f"torch.autocast({device_type!r}, dtype=torch.bfloat16) (float16 autocast is CUDA's default)")
    return dtype


def _check_same_device(op: str, **tensors: torch.Tensor) -> None:
    """Fake kernels run for any mix of devices that includes `meta`; refuse a mix as the real ones do."""
    devices = {name: t.device for name, t in tensors.items()}
    if len(set(devices.values())) > 1:
        raise RuntimeError(f"{op}: all tensors must be on one device, got {devices}")


if extension_available():

    @torch.library.register_fake("ulmlite::lstm_cell_forward")
    def _cell_forward_fake(gates, c_prev):
        _check_same_device("lstm_cell_forward", gates=gates, c_prev=c_prev)
        batch, hidden = gates.shape[0], gates.shape[1] // 4
        return gates.new_empty((batch, hidden)), torch.empty_like(c_prev), torch.empty_like(gates)

    @torch.library.register_fake("ulmlite::lstm_cell_backward")
    def _cell_backward_fake(act, c, c_prev, dh, dc):
        _check_same_device("lstm_cell_backward", act=act, c=c, c_prev=c_prev, dh=dh, dc=dc)
        return torch.empty_like(act), torch.empty_like(c_prev)

    def _cell_setup_context(ctx, inputs, output):
        _, c_prev = inputs
        _, c, act = output
        ctx.save_for_backward(act, c, c_prev)
        ctx.set_materialize_grads(False)  # unused outputs give None, not zero tensors

    def _cell_backward(ctx, dh, dc, dact):
        act, c, c_prev = ctx.saved_tensors
        # A None grad means that output was not used: its gradient is zero.
        dh = torch.zeros(c.shape, dtype=act.dtype, device=act.device) if dh is None else dh.contiguous()
        dc = torch.zeros_like(c) if dc is None else dc.contiguous()
        dgates, dc_prev = torch.ops.ulmlite.lstm_cell_backward(act, c, c_prev, dh, dc)
        if dact is not None:  # someone used the activated gates: add their own path
            hidden = act.shape[1] // 4
            slope = act * (1 - act)  # sigmoid' for i, f, o
            slope[:, 2 * hidden : 3 * hidden] = 1 - act[:, 2 * hidden : 3 * hidden] ** 2  # tanh' for g
            dgates = dgates + dact * slope
        return dgates, dc_prev

    torch.library.register_autograd(
        "ulmlite::lstm_cell_forward", _cell_backward, setup_context=_cell_setup_context
    )


def fused_layer_available() -> bool:
    """True when the extension provides the fused LSTM layer op."""
    return extension_available() and hasattr(torch.ops.ulmlite, "lstm_forward")


def lstm_layer(x, h0, c0, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """One LSTM layer through the fused op: x (T, B, I), h0 and c0 (B, H) -> y (T, B, H), h_T, c_T.

    Differentiable in every input; the backward is the op `ulmlite::lstm_backward`. For bfloat16
    activations and weights the cell state is kept in float32 (c0 is converted, c_T is float32).
    """
    require_extension()
    if not fused_layer_available():
        raise RuntimeError("this build of ulmlite._C has no fused LSTM layer: rebuild it with `make rebuild`")
    if torch.is_autocast_enabled(x.device.type):  # a custom op is not cast by autocast itself
        dtype = _autocast_dtype(x.device.type)
        x, h0, weight_ih, weight_hh = (t.to(dtype) for t in (x, h0, weight_ih, weight_hh))
        bias_ih, bias_hh = (None if b is None else b.to(dtype) for b in (bias_ih, bias_hh))
    c0 = c0.to(_state_dtype(x.dtype))
    y, h, c, _, _ = torch.ops.ulmlite.lstm_forward(
        x.contiguous(), h0.contiguous(), c0.contiguous(), weight_ih.contiguous(), weight_hh.contiguous(),
        None if bias_ih is None else bias_ih.contiguous(), None if bias_hh is None else bias_hh.contiguous(),
    )
    return y, h, c


if fused_layer_available():

    @torch.library.register_fake("ulmlite::lstm_forward")
    def _layer_forward_fake(x, h0, c0, w_ih, w_hh, b_ih, b_hh):
        _check_same_device("lstm_forward", x=x, h0=h0, c0=c0, w_ih=w_ih, w_hh=w_hh)
        seq_len, batch, hidden = x.shape[0], x.shape[1], h0.shape[1]
        return (
            x.new_empty((seq_len, batch, hidden)),
            h0.new_empty((batch, hidden)),
            c0.new_empty((batch, hidden)),
            x.new_empty((seq_len, batch, 4 * hidden)),
            c0.new_empty((seq_len, batch, hidden)),
        )

    @torch.library.register_fake("ulmlite::lstm_backward")
    def _layer_backward_fake(dy, dh_last, dc_last, x, h0, c0, w_ih, w_hh, y, act, cs):
        _check_same_device("lstm_backward", dy=dy, x=x, h0=h0, w_hh=w_hh)
        return (
            torch.empty_like(x), torch.empty_like(h0), torch.empty_like(c0),
            torch.empty_like(w_ih), torch.empty_like(w_hh), w_hh.new_empty((w_hh.shape[0],)),
        )

    def _layer_setup_context(ctx, inputs, output):
        x, h0, c0, w_ih, w_hh, b_ih, _ = inputs
        y, _, _, act, cs = output
        ctx.has_bias = b_ih is not None
        ctx.set_materialize_grads(False)  # unused outputs give None, not zero tensors
        ctx.mark_non_differentiable(act, cs)  # saved for the backward, not for use
        ctx.save_for_backward(x, h0, c0, w_ih, w_hh, y, act, cs)

    def _layer_backward(ctx, dy, dh_last, dc_last, dact, dcs):
        x, h0, c0, w_ih, w_hh, y, act, cs = ctx.saved_tensors
        dy = torch.zeros_like(y) if dy is None else dy.contiguous()
        dh_last = torch.zeros_like(h0) if dh_last is None else dh_last.contiguous()
        dc_last = torch.zeros_like(c0) if dc_last is None else dc_last.contiguous()
        dx, dh0, dc0, dw_ih, dw_hh, db = torch.ops.ulmlite.lstm_backward(
            dy, dh_last, dc_last, x, h0, c0, w_ih, w_hh, y, act, cs
        )
        if not ctx.has_bias:
            return dx, dh0, dc0, dw_ih, dw_hh, None, None
        return dx, dh0, dc0, dw_ih, dw_hh, db, db

    torch.library.register_autograd("ulmlite::lstm_forward", _layer_backward, setup_context=_layer_setup_context)


# --- the fused decoder + cross-entropy ---------------------------------------------------------


def fused_loss_available() -> bool:
    """True when the extension provides the fused decoder + cross-entropy op."""
    return extension_available() and hasattr(torch.ops.ulmlite, "linear_cross_entropy")


def default_chunk_rows(vocab_size: int, element_size: int = 4) -> int:
    """Rows per chunk: the power of two giving at most 128 MB of logits (512 rows of a 60k vocabulary
    in float32, 1024 in bfloat16), at least 64. Blocked GEMMs like such row counts: at the lesson's
    size 1024 rows ran 1.2x faster than 1118 in bfloat16, 512 1.2x faster than 559 in float32."""
    rows = max(64, (128 << 20) // max(vocab_size * element_size, 1))
    return 1 << (rows.bit_length() - 1)


def linear_cross_entropy(input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                         target: torch.Tensor, chunk_rows: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """mean_i cross_entropy(input_i W^T + b, target_i) and the number of rows whose argmax is the
    target, without materializing the (N, V) logits. input (N, E), weight (V, E), target (N,).
    Differentiable in input, weight and bias; the gradients are computed in the forward pass (in the
    same chunks), so the backward only scales them."""
    if not fused_loss_available():
        raise RuntimeError("this build of ulmlite._C has no fused cross-entropy: rebuild it with `make rebuild`")
    if torch.is_autocast_enabled(input.device.type):  # a custom op is not cast by autocast itself
        dtype = _autocast_dtype(input.device.type)
        input, weight = input.to(dtype), weight.to(dtype)
        bias = None if bias is None else bias.to(dtype)
    with_grad = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (input, weight, bias))
    loss, correct, _, _, _ = torch.ops.ulmlite.linear_cross_entropy(
        input.contiguous(), weight.contiguous(), None if bias is None else bias.contiguous(), target.contiguous(),
        chunk_rows or default_chunk_rows(weight.shape[0], weight.element_size()), with_grad)
    return loss, correct


if fused_loss_available():

    @torch.library.register_fake("ulmlite::linear_cross_entropy")
    def _linear_cross_entropy_fake(input, weight, bias, target, chunk_rows, with_grad):
        _check_same_device("linear_cross_entropy", input=input, weight=weight, target=target)
        loss = input.new_empty((), dtype=torch.float64 if input.dtype == torch.float64 else torch.float32)
        correct = input.new_empty((), dtype=torch.int64)
        if not with_grad:
            return loss, correct, input.new_empty((0,)), input.new_empty((0,)), input.new_empty((0,))
        d_bias = input.new_empty((weight.shape[0],)) if bias is not None else input.new_empty((0,))
        return loss, correct, torch.empty_like(input), torch.empty_like(weight), d_bias

    def _lce_setup_context(ctx, inputs, output):
        _, _, bias, _, _, with_grad = inputs
        _, correct, d_input, d_weight, d_bias = output
        ctx.with_grad, ctx.has_bias = with_grad, bias is not None
        ctx.mark_non_differentiable(correct, d_input, d_weight, d_bias)
        ctx.save_for_backward(d_input, d_weight, d_bias)

    def _lce_backward(ctx, d_loss, *_):
        if not ctx.with_grad:
            raise RuntimeError("linear_cross_entropy was called with with_grad=False: it has no gradient")
        d_input, d_weight, d_bias = ctx.saved_tensors
        scale = d_loss.to(d_input.dtype)  # the loss is a mean: its gradient only scales the saved ones
        return (d_input * scale, d_weight * scale, d_bias * scale if ctx.has_bias else None, None, None, None)

    torch.library.register_autograd("ulmlite::linear_cross_entropy", _lce_backward, setup_context=_lce_setup_context)
