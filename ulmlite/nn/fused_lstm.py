"""Python side of the fused LSTM ops (the cell and the layer): fake (meta) kernels for torch.compile
and the autograd formulas, whose backward calls the registered backward op.

Schemas are in csrc/ops.cpp, the kernels in csrc/lstm_layer.cpp, lstm_cpu.cpp and lstm_cuda.cu; the
per-element math is csrc/lstm_pointwise.h.
"""

import torch

from ulmlite._extension import autocast_dtype, check_same_device, extension_available, require_extension


def _state_dtype(dtype: torch.dtype) -> torch.dtype:
    """Cell state and math run in float32 when the activations are bfloat16."""
    return torch.float32 if dtype == torch.bfloat16 else dtype


def lstm_cell(gates: torch.Tensor, c_prev: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The pointwise part of one LSTM step: gate pre-activations (B, 4H) and c_prev (B, H) in,
    (h, c) out. Differentiable; the backward is the op `ulmlite::lstm_cell_backward`."""
    require_extension()
    h, c, _ = torch.ops.ulmlite.lstm_cell_forward(gates, c_prev)
    return h, c


if extension_available():

    @torch.library.register_fake("ulmlite::lstm_cell_forward")
    def _cell_forward_fake(gates, c_prev):
        check_same_device("lstm_cell_forward", gates=gates, c_prev=c_prev)
        batch, hidden = gates.shape[0], gates.shape[1] // 4
        return gates.new_empty((batch, hidden)), torch.empty_like(c_prev), torch.empty_like(gates)

    @torch.library.register_fake("ulmlite::lstm_cell_backward")
    def _cell_backward_fake(act, c, c_prev, dh, dc):
        check_same_device("lstm_cell_backward", act=act, c=c, c_prev=c_prev, dh=dh, dc=dc)
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
        dtype = autocast_dtype(x.device.type)
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
        check_same_device("lstm_forward", x=x, h0=h0, c0=c0, w_ih=w_ih, w_hh=w_hh)
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
        check_same_device("lstm_backward", dy=dy, x=x, h0=h0, w_hh=w_hh)
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
