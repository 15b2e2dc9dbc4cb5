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
    """One LSTM layer through the fused op: x (T, B, I) -> y (T, B, H), h_T, c_T."""
    require_extension()
    if not fused_layer_available():
        raise RuntimeError(
            "this build of ulmlite._C has no fused LSTM layer (ulmlite::lstm_forward): rebuild with `make rebuild`"
        )
    y, h, c = _lstm_layer_impl(x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh)
    return y, h, c


def _lstm_layer_impl(x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh):
    raise NotImplementedError  # replaced below when the op is registered
