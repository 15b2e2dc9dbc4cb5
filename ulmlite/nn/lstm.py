"""The LSTM, written out (Hochreiter & Schmidhuber 1997; gate order and parameter layout of
`torch.nn.LSTM`), and the backend switch shared by every model in ulmlite.nn.

One layer, sequence first. With W = weight_ih (4H, I), R = weight_hh (4H, H), for each step t:
    gates = W x_t + b_ih + R h_{t-1} + b_hh        split into i, f, g, o
    c_t = σ(f) c_{t-1} + σ(i) tanh(g)              h_t = σ(o) tanh(c_t)
The input projection W x_t does not depend on h, so all steps take one GEMM; only R h_{t-1} is serial.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from ulmlite.nn import fused_lstm

BACKENDS = ("python", "torch", "fused", "auto")


def lstm_cell_python(gates: torch.Tensor, c_prev: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The pointwise half of one step: gate pre-activations (B, 4H) and c_prev (B, H) -> (h, c)."""
    i, f, g, o = gates.chunk(4, dim=1)
    c = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * torch.tanh(g)
    h = torch.sigmoid(o) * torch.tanh(c)
    return h, c


def lstm_layer_python(x, h0, c0, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """The readable reference: x (T, B, I), h0 and c0 (B, H) -> y (T, B, H), h_T, c_T."""
    x_proj = F.linear(x, weight_ih, bias_ih)  # all time steps in one GEMM: (T, B, 4H)
    h, c = h0, c0
    ys = []
    for x_t in x_proj:
        h, c = lstm_cell_python(x_t + F.linear(h, weight_hh, bias_hh), c)
        ys.append(h)
    return torch.stack(ys), h, c


def lstm_layer_torch(x, h0, c0, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """The same layer through PyTorch's own kernel (oneDNN on CPU, cuDNN on GPU)."""
    weights = [weight_ih, weight_hh] + ([bias_ih, bias_hh] if bias_ih is not None else [])
    y, h, c = torch.lstm(x, (h0[None], c0[None]), weights, bias_ih is not None, 1, 0.0, False, False, False)
    return y, h[0], c[0]


def lstm_layer_fused(x, h0, c0, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """The same layer through ulmlite's fused C++/CUDA op (csrc/)."""
    return fused_lstm.lstm_layer(x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh)


def resolve_backend(backend: str) -> str:
    """`auto` is `fused` when the compiled extension provides the fused layer, else `torch`."""
    if backend not in BACKENDS:
        raise ValueError(f"LSTM backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        return "fused" if fused_lstm.fused_layer_available() else "torch"
    return backend


LAYERS = {"python": lstm_layer_python, "torch": lstm_layer_torch, "fused": lstm_layer_fused}


class LSTM(nn.Module):
    """A drop-in for a single-layer, sequence-first `torch.nn.LSTM` with a choice of backend.

    Same parameter names and shapes (`weight_ih_l0`, ...), same `forward(x, (h0, c0)) -> (y, (h, c))`
    with h and c of shape (1, B, H), and unbatched (T, I) input as nn.LSTM allows.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, backend: str = "auto"):
        super().__init__()
        if input_size <= 0 or hidden_size <= 0:
            raise ValueError(f"LSTM sizes must be positive, got input_size={input_size}, hidden_size={hidden_size}")
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.backend = resolve_backend(backend)
        self.weight_ih_l0 = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh_l0 = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        if bias:
            self.bias_ih_l0 = nn.Parameter(torch.empty(4 * hidden_size))
            self.bias_hh_l0 = nn.Parameter(torch.empty(4 * hidden_size))
        else:
            self.register_parameter("bias_ih_l0", None)
            self.register_parameter("bias_hh_l0", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)  # as torch.nn.LSTM
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias}, backend={self.backend!r}"

    def forward(self, x: torch.Tensor, hx: tuple[torch.Tensor, torch.Tensor] | None = None):
        if not isinstance(x, torch.Tensor) or x.dim() not in (2, 3) or x.shape[-1] != self.input_size:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(
                f"LSTM expects input of shape (seq_len, batch, {self.input_size}) or (seq_len, {self.input_size}),"
                f" got {shape}"
            )
        if not x.is_floating_point():
            raise TypeError(f"LSTM expects a floating-point input, got {x.dtype}")
        unbatched = x.dim() == 2
        if unbatched:
            x = x.unsqueeze(1)
        seq_len, batch = x.shape[:2]
        if seq_len == 0:
            raise ValueError("LSTM got an empty sequence (seq_len = 0)")
        state_shape = (1, batch, self.hidden_size)
        if hx is None:
            h0 = c0 = x.new_zeros(batch, self.hidden_size)
        else:
            h0, c0 = (s.unsqueeze(1) if unbatched else s for s in hx)
            for name, s in (("h0", h0), ("c0", c0)):
                if s.shape != state_shape:
                    want = (1, self.hidden_size) if unbatched else state_shape
                    got = tuple(s.shape[:1] + s.shape[2:]) if unbatched else tuple(s.shape)
                    raise ValueError(f"LSTM expects {name} of shape {want}, got {got}")
            h0, c0 = h0[0], c0[0]
        y, h, c = LAYERS[self.backend](
            x, h0, c0, self.weight_ih_l0, self.weight_hh_l0, self.bias_ih_l0, self.bias_hh_l0
        )
        if unbatched:
            return y[:, 0], (h, c)
        return y, (h[None], c[None])
