"""Draws the figures of the docs pages into docs/figures/<name>.png, from ulmlite's own code and the
committed benchmark results, so that a picture cannot drift from what it shows.

    python docs/figures.py                 every figure
    python docs/figures.py stlr bpt3c      some of them
    python docs/figures.py --out DIR       somewhere else (the tests use this)

Deterministic, no network, no training: a few seconds in all (most of it importing torch).
"""

import argparse
import ast
import inspect
import json
import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Rectangle  # noqa: E402

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT))  # this checkout's ulmlite, whatever else is installed

DPI = 110
# Okabe-Ito: distinguishable with every common form of colour blindness.
COLUMN_COLORS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00"]
GREY, DARK = "#9a9a9a", "#333333"

plt.rcParams.update({
    "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "xtick.labelsize": 8, "ytick.labelsize": 8,
    "legend.fontsize": 8, "axes.spines.top": False, "axes.spines.right": False, "savefig.dpi": DPI,
    "figure.dpi": DPI, "svg.hashsalt": "ulmlite", "path.simplify": False,
})

FIGURES = {}


def figure(func):
    """Registers `draw_NAME` as the figure NAME (docs/figures/NAME.png)."""
    FIGURES[func.__name__.removeprefix("draw_")] = func
    return func


def _tint(color: str, amount: float = 0.72) -> tuple:
    """`color` mixed with white (amount 1 = white)."""
    r, g, b = matplotlib.colors.to_rgb(color)
    return (r + (1 - r) * amount, g + (1 - g) * amount, b + (1 - b) * amount)


def _arrow(ax, start, end, color=DARK, lw=1.2, style="-|>", mutation=10, **kw):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=mutation, color=color, lw=lw,
                                 shrinkA=0, shrinkB=0, **kw))


def _mb(n_bytes: float) -> str:
    return f"{n_bytes / 1e6:.1f} MB" if n_bytes < 1e8 else f"{n_bytes / 1e6:.0f} MB"


def _gflop(flops: float) -> str:
    if flops < 1e8:
        return f"{flops / 1e6:.1f} MFLOP"
    return f"{flops / 1e9:.2f} GFLOP" if flops < 1e9 else f"{flops / 1e9:.1f} GFLOP"


# --- docs/text.md: the language-model loader ---------------------------------------------------------


@figure
def draw_lm_batches():
    """The real LanguageModelLoader on the stream 0..999 (the example of docs/text.md section 6)."""
    from ulmlite.data import LanguageModelLoader

    n_tokens, bs, bptt, seed = 1000, 4, 10, 0
    loader = LanguageModelLoader(np.arange(n_tokens, dtype=np.int32), bs=bs, bptt=bptt, seed=seed)
    batches = [(x.numpy(), y.numpy()) for x, y in loader]
    lengths = [len(x) for x, _ in batches]
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    n_rows = int(starts[-1] + lengths[-1] + 1)  # the last row is only a target
    column_of = {int(batches[0][0][0, j]): j for j in range(bs)}  # each column starts at its first id
    # The pair of consecutive batches to zoom into: the shortest two after the long first window.
    k = min(range(1, len(batches) - 1), key=lambda i: lengths[i] + lengths[i + 1])

    fig = plt.figure(figsize=(8.2, 7.4))
    grid = fig.add_gridspec(2, 2, height_ratios=[0.55, 4.2], width_ratios=[1.0, 2.6], hspace=0.42, wspace=0.1,
                            left=0.07, right=0.965, top=0.9, bottom=0.03)
    fig.suptitle(f"LanguageModelLoader(np.arange({n_tokens}), bs={bs}, bptt={bptt}, seed={seed}): "
                 f"{len(batches)} batches in an epoch", fontsize=11, fontweight="bold")

    # 1. The stream, cut into bs contiguous columns.
    ax = fig.add_subplot(grid[0, :])
    col_len = n_tokens // bs
    for j in range(bs):
        ax.add_patch(Rectangle((j * col_len, 0), col_len, 1, color=COLUMN_COLORS[j]))
        ax.text((j + 0.5) * col_len, 0.5, f"column {j}: ids {j * col_len}–{(j + 1) * col_len - 1}", ha="center",
                va="center", color="white", fontweight="bold")
    ax.set_xlim(0, n_tokens)
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.set_xticks([j * col_len for j in range(bs + 1)])
    ax.spines["left"].set_visible(False)
    ax.set_title(f"1. The token stream is cut into bs = {bs} contiguous columns ({col_len} tokens each)",
                 loc="left")

    # 2. The columns side by side, read in windows of variable length.
    ax = fig.add_subplot(grid[1, 0])
    for b, (start, length) in enumerate(zip(starts, lengths, strict=True)):
        for j in range(bs):
            ax.add_patch(Rectangle((j + 0.06, start), 0.88, length, facecolor=COLUMN_COLORS[j],
                                   alpha=0.95 if b % 2 == 0 else 0.55, linewidth=0))
        if b in (0, len(batches) - 1):
            ax.text(-0.12, start + length / 2, f"batch {b}\n({length} rows)", ha="right", va="center", fontsize=7.5)
    ax.add_patch(Rectangle((0, starts[k]), bs, lengths[k] + lengths[k + 1], fill=False, edgecolor="black", lw=1.4))
    ax.text(-0.12, starts[k] + (lengths[k] + lengths[k + 1]) / 2, f"batches\n{k}, {k + 1}\n(right)", ha="right",
            va="center", fontsize=7.5, fontweight="bold")
    for j in range(bs):
        ax.text(j + 0.5, -2, str(j * col_len), ha="center", va="bottom", fontsize=7.5)
    ax.set_xlim(0, bs)
    ax.set_ylim(n_rows, -9)
    ax.set_xticks([j + 0.5 for j in range(bs)], [f"col {j}" for j in range(bs)])
    ax.xaxis.tick_top()
    ax.set_yticks([])
    for side in ("left", "bottom", "top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_title("2. Batches = windows down the columns\n(first: bptt + 25 rows)", loc="left", pad=16)
    ax.text(bs + 0.12, n_rows / 2, f"time ↓ ({n_rows} rows)", rotation=90, ha="left", va="center", fontsize=8)

    # 3. Two consecutive batches' x and y, token by token.
    ax = fig.add_subplot(grid[1, 1])
    ax.set_axis_off()
    gap = 2.2  # rows between batch k and k + 1
    y_left = bs + 1.4  # where the y matrices start (in cells)
    row_of = {}

    def matrix(values, left, top, outline_row=None):
        for r in range(values.shape[0]):
            for j in range(values.shape[1]):
                token = int(values[r, j])
                col = column_of[max(c for c in column_of if c <= token)]
                ax.add_patch(Rectangle((left + j + 0.04, top + r + 0.04), 0.92, 0.92, facecolor=_tint(
                    COLUMN_COLORS[col]), edgecolor=COLUMN_COLORS[col], lw=0.8))
                ax.text(left + j + 0.5, top + r + 0.5, str(token), ha="center", va="center", fontsize=8)
        if outline_row is not None:
            ax.add_patch(Rectangle((left, top + outline_row), values.shape[1], 1, fill=False, edgecolor="black",
                                   lw=1.6, ls="--"))

    top = 1.0
    for n, b in enumerate((k, k + 1)):
        x, y = batches[b]
        row_of[b] = top
        matrix(x, 0, top, outline_row=0 if n == 1 else None)
        matrix(y, y_left, top, outline_row=len(y) - 1 if n == 0 else None)
        ax.text(-0.25, top + len(x) / 2, f"batch {b}\n{len(x)} rows", ha="right", va="center", fontsize=8.5,
                fontweight="bold")
        top += len(x) + gap
    ax.text(bs / 2, 0.75, "x (inputs)", ha="center", va="bottom", fontsize=8.5, fontweight="bold")
    ax.text(y_left + bs / 2, 0.75, "y (targets): x shifted by one", ha="center", va="bottom", fontsize=8.5,
            fontweight="bold")
    total_rows = top - gap
    for j in range(bs):  # column j of batch k continues in column j of batch k + 1
        _arrow(ax, (j + 0.5, row_of[k] + lengths[k] + 0.05), (j + 0.5, row_of[k + 1] - 0.05),
               color=COLUMN_COLORS[j], lw=1.6, mutation=12)
    ax.text(-0.25, row_of[k] + lengths[k] + gap / 2, "each column goes on where it\nstopped: its hidden state (h, c)\n"
            "is carried to the next batch", ha="right", va="center", fontsize=8)
    assert np.array_equal(batches[k][1][-1], batches[k + 1][0][0])  # what the dashed outlines claim
    ax.text(y_left + bs / 2, row_of[k] + lengths[k] + gap / 2, "the dashed rows are equal:\ny's last row = "
            "the next x's first", ha="center", va="center", fontsize=8, color=DARK)
    ax.set_xlim(-5.0, y_left + bs + 0.5)
    ax.set_ylim(total_rows + 0.2, -0.2)
    ax.set_title(f"3. Batches {k} and {k + 1}, token by token: (seq_len, bs) tensors", loc="left")
    return fig


# --- docs/awd_lstm.md: BPT3C ---------------------------------------------------------------------------


def _bpt3c_trace(doc_len: int):
    """Runs ulmlite's MultiBatchEncoder (lesson defaults) on a document of `doc_len` tokens with a
    probe encoder; -> (bptt, max_len, [(start, length, with_grad)], pooled positions)."""
    import torch
    from torch import nn

    from ulmlite.nn.classifier import MultiBatchEncoder

    defaults = inspect.signature(MultiBatchEncoder).parameters
    bptt, max_len = defaults["bptt"].default, defaults["max_len"].default

    class Probe(nn.Module):
        """Stands in for AWDLSTMEncoder: records each call (first position, length, autograd on?)
        and returns every token's position as its output, so the kept positions can be read off."""

        def __init__(self):
            super().__init__()
            self.config = type("Config", (), {"vocab_size": doc_len})()
            self.calls, self.position = [], 0

        def reset(self):
            self.position = 0

        def forward(self, ids):
            n = ids.shape[0]
            self.calls.append((self.position, n, torch.is_grad_enabled()))
            out = torch.arange(self.position, self.position + n, dtype=torch.float32).view(n, 1, 1)
            self.position += n
            return [out], [out]

    probe = Probe()
    ids = torch.arange(doc_len).view(doc_len, 1)
    _, outputs = MultiBatchEncoder(probe, bptt=bptt, max_len=max_len)(ids)
    return bptt, max_len, probe.calls, outputs[-1].flatten().long().tolist()


@figure
def draw_bpt3c():
    """MultiBatchEncoder's chunks on a long and a short review, recorded from the real module."""
    docs = [2000, 450]
    traces = [_bpt3c_trace(n) for n in docs]
    bptt, max_len = traces[0][:2]
    grad_color, nograd_color = COLUMN_COLORS[0], "#c8c8c8"

    fig, axes = plt.subplots(2, 1, figsize=(8.2, 4.0))
    fig.subplots_adjust(left=0.02, right=0.98, top=0.85, bottom=0.2, hspace=0.9)
    fig.suptitle(f"BPT3C: MultiBatchEncoder(bptt={bptt}, max_len={max_len}) on a long and a short review",
                 fontsize=11, fontweight="bold")
    for ax, doc_len, (_, _, calls, pooled) in zip(axes, docs, traces, strict=True):
        n_nograd = sum(1 for _, _, g in calls if not g)
        for start, length, with_grad in calls:
            ax.add_patch(Rectangle((start + 2, 0), length - 4, 1, facecolor=grad_color if with_grad else nograd_color,
                                   edgecolor="none"))
        for (s0, n0, _), (s1, _, _) in zip(calls[:-1], calls[1:], strict=True):  # the state, carried
            _arrow(ax, (s0 + n0 * 0.55, 1.12), (s1 + 14, 1.12), color=DARK, lw=0.7, mutation=6,
                   connectionstyle="arc3,rad=-0.5")
        lo, hi = min(pooled), max(pooled) + 1
        ax.annotate("", xy=(lo, -0.3), xytext=(hi, -0.3), arrowprops=dict(arrowstyle="|-|", color="black",
                                                                            lw=1.1, mutation_scale=4))
        label = f"pooled by the head: the last {hi - lo} outputs (positions {lo}–{hi - 1})"
        if hi - lo > 0.5 * docs[0]:
            ax.text((lo + hi) / 2, -0.45, label, ha="center", va="top", fontsize=8.5)
        else:
            ax.text(hi + 20, -0.3, label, ha="left", va="center", fontsize=8.5)
        n_grad = len(calls) - n_nograd
        title = f"{doc_len} tokens: {len(calls)} chunks"
        if n_nograd:
            first_grad = calls[n_nograd][0]
            title += (f"; the first {n_nograd} run under torch.no_grad() (outputs dropped, only the state kept), "
                      f"the last {n_grad} with gradient")
            if first_grad < lo:  # a chunk that reaches into the pooled span keeps its gradient, all of it
                ax.annotate(f"chunk {first_grad}–{first_grad + bptt - 1} reaches into the last {max_len}:\n"
                            f"run with gradient, its first {lo - first_grad} outputs cut off",
                            xy=(first_grad + (lo - first_grad) / 2, 0.0), xytext=(first_grad - 15, -0.5), ha="right",
                            va="center", fontsize=7.5, arrowprops=dict(arrowstyle="-", color=DARK, lw=0.7))
        else:
            title += ", all with gradient: shorter than max_len, everything is pooled"
        ax.set_title(title, loc="left", fontsize=9)
        ax.set_xlim(0, docs[0])
        ax.set_ylim(-1.05, 1.5)
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
        ax.set_xticks(range(0, docs[0] + 1, 4 * bptt))
        ax.tick_params(axis="x", pad=1)
    axes[-1].set_xlabel("token position in the review", labelpad=1)
    handles = [Rectangle((0, 0), 1, 1, color=nograd_color), Rectangle((0, 0), 1, 1, color=grad_color)]
    fig.legend(handles, ["chunk run without gradient", "chunk run with gradient (activations kept for backward)"],
               loc="lower left", ncol=2, frameon=False, bbox_to_anchor=(0.01, 0.0))
    fig.text(0.99, 0.035, "arrows: the state (h, c) carried to the next chunk, detached\n"
             "(gradients stop at every chunk boundary)", ha="right", va="bottom", fontsize=8)
    return fig


# --- docs/fused_lstm.md: the cell and the layer ------------------------------------------------------


@figure
def draw_lstm_cell():
    """The LSTM cell (PyTorch's gate order i, f, g, o) beside its equations."""
    fig = plt.figure(figsize=(8.6, 3.9))
    ax = fig.add_axes([0.0, 0.0, 0.58, 0.9])
    eq = fig.add_axes([0.58, 0.0, 0.42, 0.9])
    fig.suptitle(r"One LSTM step: four gates from $x_t$ and $h_{t-1}$, and an additive cell-state path", fontsize=11,
                 fontweight="bold", y=0.97)
    sigma_color, tanh_color, cell_color = COLUMN_COLORS[0], COLUMN_COLORS[1], COLUMN_COLORS[5]
    ax.set_xlim(-0.6, 10.2)
    ax.set_ylim(-0.5, 5.9)
    ax.set_axis_off()
    ax.add_patch(FancyBboxPatch((0.9, 0.45), 7.4, 4.75, boxstyle="round,pad=0.02,rounding_size=0.3",
                                facecolor="#f6f6f6", edgecolor=GREY, lw=1))

    def gate(x, y, label, color, name):
        ax.add_patch(FancyBboxPatch((x - 0.42, y - 0.3), 0.84, 0.6, boxstyle="round,pad=0.02,rounding_size=0.1",
                                    facecolor=color, edgecolor="none"))
        ax.text(x, y, label, ha="center", va="center", color="white", fontsize=10, fontweight="bold")
        ax.text(x - 0.5, y - 0.42, name, ha="right", va="top", fontsize=9, color=color, fontweight="bold")

    def node(x, y, symbol):
        ax.add_patch(Circle((x, y), 0.24, facecolor="white", edgecolor=DARK, lw=1.2, zorder=3))
        ax.text(x, y, symbol, ha="center", va="center", fontsize=11, zorder=4)

    bus_y, gate_y, cell_y = 1.05, 2.45, 4.6
    gates = {"f": 2.5, "i": 3.75, "g": 5.0, "o": 6.35}
    # The cell state: c_{t-1} -> (x f) -> (+ i g) -> c_t, no matrix multiply on the way.
    ax.plot([-0.4, 9.5], [cell_y, cell_y], color=cell_color, lw=3, solid_capstyle="butt", zorder=1)
    _arrow(ax, (9.2, cell_y), (9.75, cell_y), color=cell_color, lw=3, mutation=14)
    ax.text(-0.45, cell_y + 0.22, "$c_{t-1}$", fontsize=11, va="bottom")
    ax.text(9.75, cell_y + 0.22, "$c_t$", fontsize=11, va="bottom", ha="right")
    node(gates["f"], cell_y, "×")
    node(4.4, cell_y, "+")
    ax.text(3.45, cell_y + 0.35, "additive path", fontsize=8.5, color=cell_color, ha="center", va="bottom",
            fontweight="bold")
    # The input bus: h_{t-1} from the left, x_t from below.
    ax.plot([-0.4, gates["o"]], [bus_y, bus_y], color=DARK, lw=1.4)
    ax.text(-0.45, bus_y + 0.15, "$h_{t-1}$", fontsize=11, va="bottom")
    _arrow(ax, (1.4, -0.35), (1.4, bus_y), lw=1.4)
    ax.text(1.55, -0.3, "$x_t$", fontsize=11, va="bottom")
    ax.text(3.9, bus_y - 0.2, "$W x_t + R\\,h_{t-1} + b$  (4H pre-activations)", fontsize=8.5, ha="center",
            va="top")
    for name, x in gates.items():
        _arrow(ax, (x, bus_y), (x, gate_y - 0.3), lw=1.1)
        gate(x, gate_y, "tanh" if name == "g" else "σ", tanh_color if name == "g" else sigma_color, name)
    # f scales the old cell state; i * g is added to it.
    _arrow(ax, (gates["f"], gate_y + 0.3), (gates["f"], cell_y - 0.24), lw=1.1)
    node(4.4, 3.55, "×")
    ax.plot([gates["i"], gates["i"]], [gate_y + 0.3, 3.55], color=DARK, lw=1.1)
    _arrow(ax, (gates["i"], 3.55), (4.4 - 0.24, 3.55), lw=1.1)
    ax.plot([gates["g"], gates["g"]], [gate_y + 0.3, 3.55], color=DARK, lw=1.1)
    _arrow(ax, (gates["g"], 3.55), (4.4 + 0.24, 3.55), lw=1.1)
    _arrow(ax, (4.4, 3.55 + 0.24), (4.4, cell_y - 0.24), lw=1.1)
    # h_t = o * tanh(c_t).
    hx = 7.5
    _arrow(ax, (hx, cell_y), (hx, 3.55 + 0.3), lw=1.1)
    ax.add_patch(FancyBboxPatch((hx - 0.42, 3.55 - 0.3), 0.84, 0.6, boxstyle="round,pad=0.02,rounding_size=0.28",
                                facecolor="white", edgecolor=tanh_color, lw=1.5))
    ax.text(hx, 3.55, "tanh", ha="center", va="center", fontsize=9, color=tanh_color, fontweight="bold")
    _arrow(ax, (hx, 3.55 - 0.3), (hx, gate_y + 0.24), lw=1.1)
    node(hx, gate_y, "×")
    _arrow(ax, (gates["o"] + 0.42, gate_y), (hx - 0.24, gate_y), lw=1.1)
    ax.plot([hx, hx], [gate_y - 0.24, bus_y], color=DARK, lw=1.4)
    _arrow(ax, (hx, bus_y), (9.75, bus_y), lw=1.4)
    ax.text(9.75, bus_y + 0.15, "$h_t$", fontsize=11, va="bottom", ha="right")
    ax.text(9.75, bus_y - 0.15, "output $y_t$,\nnext step's $h$", fontsize=8, va="top", ha="right")

    eq.set_axis_off()
    lines = [
        (r"$i_t = \sigma(W_i x_t + R_i h_{t-1} + b_i)$", "input gate", sigma_color),
        (r"$f_t = \sigma(W_f x_t + R_f h_{t-1} + b_f)$", "forget gate", sigma_color),
        (r"$g_t = \tanh(W_g x_t + R_g h_{t-1} + b_g)$", "candidate", tanh_color),
        (r"$o_t = \sigma(W_o x_t + R_o h_{t-1} + b_o)$", "output gate", sigma_color),
        (r"$c_t = f_t \odot c_{t-1} + i_t \odot g_t$", "cell state", cell_color),
        (r"$h_t = o_t \odot \tanh(c_t)$", "hidden state", DARK),
    ]
    for n, (tex, what, color) in enumerate(lines):
        y = 0.93 - n * 0.1 - (0.04 if n >= 4 else 0)
        eq.text(0.02, y, tex, fontsize=11.5, va="center", transform=eq.transAxes)
        eq.text(0.98, y, what, fontsize=8.5, va="center", ha="right", color=color, transform=eq.transAxes)
    eq.text(0.02, 0.03, "W = weight_ih (4H×I), R = weight_hh (4H×H), rows in\n"
            "PyTorch's order i, f, g, o. Along the thick cell-state line\n"
            r"$\partial c_t / \partial c_{t-1} = f_t$: no weight matrix, no squashing,"
            "\nso the gradient survives many steps.", fontsize=8.5, va="bottom", transform=eq.transAxes,
            linespacing=1.4)
    return fig


def _layer_blocks(T: int, B: int, n_in: int, H: int, elem: int = 4):
    """The GEMMs and pointwise passes of csrc/lstm_layer.cpp for one layer, with the FLOPs and the
    bytes each reads and writes (`elem` bytes per number)."""
    G = 4 * H
    step_gemm = dict(flops=2 * B * H * G, bytes=(B * H + G * H + B * G) * elem)
    return {
        "input": dict(label="input projection  X·W_ihᵀ", shape=f"({T * B}×{n_in})·({n_in}×{G})",
                      flops=2 * T * B * n_in * G, bytes=(T * B * n_in + G * n_in + T * B * G) * elem),
        "fwd_gemm": dict(label=r"$h_{t-1} R^T$", shape=f"({B}×{H})·({H}×{G})", **step_gemm),
        # reads h·Rᵀ, P_t (4H each) and c_{t-1}; writes h_t, c_t and the 4 activated gates
        "fwd_pointwise": dict(label="gates, $c_t$, $h_t$", shape=f"{B}×{H}", flops=30 * B * H,
                              bytes=(2 * G + H + 2 * H + G) * B * elem),
        # reads the gates, c_t, c_{t-1}, dy_t, dh, dc; writes dG_t and dc_{t-1}
        "bwd_pointwise": dict(label="$dG_t$, $dc$", shape=f"{B}×{H}", flops=30 * B * H,
                              bytes=(G + 5 * H + G + H) * B * elem),
        "bwd_gemm": dict(label=r"$dG_t\,R$", shape=f"({B}×{G})·({G}×{H})", **step_gemm),
        "dx": dict(label="dX = dG·W_ih", shape=f"({T * B}×{G})·({G}×{n_in})", flops=2 * T * B * G * n_in,
                   bytes=(T * B * G + G * n_in + T * B * n_in) * elem),
        "dw_ih": dict(label="dW_ih = dGᵀ·X", shape=f"({G}×{T * B})·({T * B}×{n_in})", flops=2 * G * T * B * n_in,
                      bytes=(T * B * G + T * B * n_in + G * n_in) * elem),
        "dw_hh": dict(label="dW_hh = dGᵀ·[h_0…h_{T-1}]", shape=f"({G}×{T * B})·({T * B}×{H})",
                      flops=2 * G * T * B * H, bytes=(T * B * G + T * B * H + G * H) * elem),
        "db": dict(label="db = Σ dG", shape=f"{T * B}×{G}", flops=T * B * G, bytes=(T * B * G + G) * elem),
    }


@figure
def draw_fused_layer_timeline():
    """One fused layer, forward and backward, as the blocks of csrc/lstm_layer.cpp: bars are the
    time each block would take at the rates the committed benchmark runs measured."""
    lstm = json.loads((RESULTS / "bench_lstm.json").read_text())
    inv = json.loads((RESULTS / "bench_investigation.json").read_text())
    T, B, n_in, H = 70, 52, 400, 1150
    row = next(r for r in lstm["rows"] if r["shape"] == f"{n_in}->{H}" and r["backend"] == "fused"
               and r["dtype"] == "float32" and r["gemm_path"] == "onednn")
    rate = row["fwd_bwd_GFLOPs"] * 1e9  # the layer's own average rate, forward + backward
    bandwidth = inv["limits"]["memory_bandwidth_gbs"] * 1e9
    blocks = _layer_blocks(T, B, n_in, H)
    for b in blocks.values():  # roofline: the larger of the compute time and the memory time
        b["ms"] = 1e3 * max(b["flops"] / rate, b["bytes"] / bandwidth)
        b["bound"] = "compute" if b["flops"] / rate >= b["bytes"] / bandwidth else "memory"

    big, step, pw, grad = COLUMN_COLORS[0], COLUMN_COLORS[1], COLUMN_COLORS[2], COLUMN_COLORS[3]
    fig, (ax, zoom) = plt.subplots(2, 1, figsize=(8.6, 6.7), height_ratios=[1.6, 1.0])
    fig.subplots_adjust(left=0.03, right=0.98, top=0.865, bottom=0.03, hspace=0.78)
    fig.suptitle(f"One fused LSTM layer, {n_in}→{H}, T = {T}, B = {B}, float32: forward then backward",
                 fontsize=11, fontweight="bold")
    fig.text(0.5, 0.91, f"bar length = estimated time: max(FLOPs ÷ {rate / 1e9:.0f} GFLOP/s, bytes ÷ "
             f"{bandwidth / 1e9:.1f} GB/s); rates from benchmarks/results/bench_lstm.json (the layer's average)\n"
             "and bench_investigation.json (memory bandwidth), AMD EPYC, 2 cores. "
             f"Measured there: forward {row['fwd_ms']:.0f} ms, forward + backward {row['fwd_bwd_ms']:.0f} ms.",
             ha="center", va="center", fontsize=8, color=DARK)

    t = 0.0
    spans = {}

    def block(key, color, y=0.0, height=1.0):
        nonlocal t
        ax.add_patch(Rectangle((t, y), blocks[key]["ms"], height, facecolor=color, edgecolor="white", lw=0.3))
        t += blocks[key]["ms"]

    def span(name, start):
        spans[name] = (start, t)

    start = t
    block("input", big)
    span("input", start)
    start = t
    for _ in range(T):
        block("fwd_gemm", step)
        block("fwd_pointwise", pw)
    span("fwd_steps", start)
    start = t
    for _ in range(T):
        block("bwd_pointwise", pw)
        block("bwd_gemm", step)
    span("bwd_steps", start)
    for key in ("dx", "dw_ih", "dw_hh", "db"):
        start = t
        block(key, grad if key != "db" else pw)
        span(key, start)
    total = t
    forward_end = spans["fwd_steps"][1]
    ax.axvline(forward_end, color="black", lw=1.2, ymin=0.02, ymax=0.98)
    ax.text(forward_end / 2, 2.75, f"forward ≈ {forward_end:.0f} ms", ha="center", fontweight="bold")
    ax.text((forward_end + total) / 2, 2.75, f"backward ≈ {total - forward_end:.0f} ms", ha="center",
            fontweight="bold")

    b = blocks
    notes = {
        "fwd_steps": (f"{T} serial steps t = 1…T:\n$h_{{t-1}} R^T$ GEMM + pointwise\n"
                      f"{T} × ({_gflop(b['fwd_gemm']['flops'])}, "
                      f"{_mb(b['fwd_gemm']['bytes'] + b['fwd_pointwise']['bytes'])})", 1.2),
        "bwd_steps": (f"{T} serial steps t = T…1:\npointwise + $dG_t\\,R$ GEMM\n"
                      f"{T} × ({_gflop(b['bwd_gemm']['flops'])}, "
                      f"{_mb(b['bwd_gemm']['bytes'] + b['bwd_pointwise']['bytes'])})", 1.2),
        "dw_hh": (f"$dW_{{hh}} = dG^T\\,[h_0 \\ldots h_{{T-1}}]$\n{_gflop(b['dw_hh']['flops'])}, "
                  f"{_mb(b['dw_hh']['bytes'])}", -0.2),
    }
    spans["dx_dw_ih"] = (spans["dx"][0], spans["dw_ih"][1])
    notes["dx_dw_ih"] = (f"$dX = dG\\,W_{{ih}}$, $dW_{{ih}} = dG^T X$\neach {_gflop(b['dx']['flops'])}, "
                         f"{_mb(b['dx']['bytes'])}", -0.2)
    for key, (text, y) in notes.items():
        lo, hi = spans[key]
        ax.text((lo + hi) / 2, y, text, ha="center", va="bottom" if y > 0 else "top", fontsize=7.8)
    ax.text(0, -0.2, f"input projection: 1 GEMM for all {T} steps\n{b['input']['shape']}\n"
            f"{_gflop(b['input']['flops'])}, {_mb(b['input']['bytes'])}", ha="left", va="top", fontsize=7.8)
    ax.text(spans["db"][1] + 3, 0.5, f"db\n{_mb(b['db']['bytes'])}", ha="left", va="center", fontsize=7.5)
    ax.set_xlim(0, total * 1.05)
    ax.set_ylim(-1.6, 3.2)
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    ax.set_xlabel("estimated time (ms)")
    handles = [Rectangle((0, 0), 1, 1, color=c) for c in (big, step, pw, grad)]
    ax.legend(handles, ["input GEMM (parallel over t)", "per-step GEMM (serial)", "pointwise pass (fused)",
                        "weight-gradient / dX GEMMs (parallel over t)"], ncol=2, loc="upper center",
              bbox_to_anchor=(0.5, -0.24), frameon=False, handlelength=1.2, columnspacing=1.5)

    # One forward and one backward step, enlarged.
    zoom.set_title("one step of each loop, enlarged: the GEMM reads all of R (21 MB) for a 52-row product, "
                   "the pointwise pass is a few MB", loc="left", fontsize=9)
    t = 0.0
    for name, keys in (("forward step t", ("fwd_gemm", "fwd_pointwise")),
                       ("backward step t", ("bwd_pointwise", "bwd_gemm"))):
        start = t
        for key in keys:
            blk = b[key]
            color = step if "gemm" in key else pw
            zoom.add_patch(Rectangle((t, 0), blk["ms"], 1, facecolor=color, edgecolor="white", lw=0.5))
            intensity = blk["flops"] / blk["bytes"]
            label = (f"{blk['label']}\n{blk['shape']}\n{_gflop(blk['flops'])}, {_mb(blk['bytes'])}\n"
                     f"{intensity:.0f} FLOP/byte: {blk['bound']}-bound")
            if "gemm" in key:
                zoom.text(t + blk["ms"] / 2, 0.5, label, ha="center", va="center", fontsize=7.5, color="white")
            else:
                zoom.annotate(f"pointwise: {blk['label']}\n≈{_gflop(blk['flops'])}, {_mb(blk['bytes'])}\n"
                              f"{blk['ms']:.2f} ms, {blk['bound']}-bound", xy=(t + blk["ms"] / 2, 1.0),
                              xytext=(t + blk["ms"] / 2, 1.55), ha="center",
                              va="bottom", fontsize=7.5, arrowprops=dict(arrowstyle="-", color=DARK, lw=0.8))
            t += blk["ms"]
        zoom.text((start + t) / 2, -0.18, f"{name}: {t - start:.2f} ms", ha="center", va="top", fontsize=8.5,
                  fontweight="bold")
        t += 1.0
    zoom.set_xlim(-0.02, t - 1.0 + 0.02)
    zoom.set_ylim(-0.45, 2.3)
    zoom.set_yticks([])
    zoom.spines["left"].set_visible(False)
    zoom.set_xticks([])
    zoom.spines["bottom"].set_visible(False)
    return fig


# --- docs/training.md: STLR and gradual unfreezing ----------------------------------------------------


def _classifier_stages():
    """The default `stages` list of ulmlite.ulmfit.train_classifier, read from its source and
    evaluated with the recipe's defaults: [(trainable, epochs, schedule args), ...]."""
    from ulmlite import ulmfit

    tree = ast.parse(inspect.getsource(ulmfit.train_classifier))
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "stages" for t in node.targets):
            value = node.value
            if isinstance(value, ast.BoolOp):  # stages = schedule or [...]
                value = value.values[-1]
            code = compile(ast.Expression(value), "train_classifier", "eval")
            return eval(code, {"__builtins__": {}, "dict": dict}, {"recipe": ulmfit.Recipe()}), ulmfit.Recipe()
    raise RuntimeError("train_classifier no longer assigns `stages`: update docs/figures.py")


def _classifier_group_names() -> list[str]:
    """Names of a (tiny) TextClassifier's layer groups, from the input side to the output side."""
    from ulmlite.nn import AWDLSTMConfig, TextClassifier

    config = AWDLSTMConfig.classifier(vocab_size=10, emb_size=4, hidden_size=4, backend="python")
    names, lstm = [], 0
    for group in TextClassifier(config, n_classes=2).layer_groups():
        kind = type(group[0]).__name__
        if kind == "Embedding":
            names.append("embedding")
        elif kind == "WeightDrop":
            lstm += 1
            names.append(f"LSTM {lstm}")
        else:
            names.append("head")
    return names


@figure
def draw_stlr():
    """ulmlite.train.SlantedTriangular (the docs' example), and train_classifier's three stages."""
    from ulmlite.train import SlantedTriangular
    from ulmlite.train.layer_groups import discriminative_lrs

    fig = plt.figure(figsize=(8.4, 7.2))
    top_fig, bottom_fig = fig.subfigures(2, 1, height_ratios=[1.0, 1.5], hspace=0.0)

    # 1. The schedule itself, beside its formula.
    total, lr_max, cut_frac, ratio = 1000, 0.01, 0.1, 32
    top_fig.suptitle(f"Slanted triangular learning rates: SlantedTriangular(lr_max={lr_max}, total={total}, "
                     f"cut_frac={cut_frac}, ratio={ratio})", fontsize=10, fontweight="bold", x=0.02, ha="left")
    ax, eq = top_fig.subplots(1, 2, width_ratios=[1.0, 0.95])
    top_fig.subplots_adjust(left=0.1, right=0.975, top=0.86, bottom=0.2, wspace=0.05)
    stlr = SlantedTriangular(lr_max=lr_max, total=total, cut_frac=cut_frac, ratio=ratio)
    steps = np.arange(total)
    lrs = [stlr(int(t))[0] for t in steps]
    cut = math.floor(total * cut_frac)
    ax.plot(steps, lrs, color=COLUMN_COLORS[0], lw=2)
    ax.axvline(cut, color=GREY, lw=0.8, ls=":")
    ax.text(cut + 25, lr_max * 0.99, f"cut = {cut}", va="top", fontsize=8.5)
    ax.axhline(lr_max / ratio, color=GREY, lw=0.8, ls=":")
    ax.text(total * 0.995, lr_max / ratio * 1.6, f"lr_max / ratio = {lr_max / ratio:.2g}", ha="right", va="bottom",
            fontsize=8.5)
    ax.set_xlim(0, total)
    ax.set_ylim(0, lr_max * 1.06)
    ax.set_xlabel(f"step t (T = {total} steps)", labelpad=1)
    ax.set_ylabel("learning rate")
    eq.set_axis_off()
    eq.text(0.06, 0.98, "Howard & Ruder 2018, eq. 3", fontsize=8.5, va="top", transform=eq.transAxes)
    formula = [(0.83, r"$cut = \lfloor T \cdot cut\_frac \rfloor$"),
               (0.69, r"$p = t\,/\,cut$   if $t < cut$, else"),
               (0.53, r"$p = 1 - \dfrac{t - cut}{cut \cdot (1/cut\_frac - 1)}$"),
               (0.3, r"$\eta_t = \eta_{max} \cdot \dfrac{1 + p\,(ratio - 1)}{ratio}$")]
    for y, tex in formula:
        eq.text(0.06, y, tex, fontsize=10.5, va="center", transform=eq.transAxes)
    eq.text(0.06, 0.0, "a short linear warm-up to lr_max, then a long linear decay\nto lr_max / ratio",
            fontsize=8.5, color=DARK, va="bottom", transform=eq.transAxes)

    # 2. The classifier's stages, as ulmlite runs them (discriminative rates, lesson defaults).
    stages, recipe = _classifier_stages()
    names = _classifier_group_names()
    n_groups = len(names)
    base = discriminative_lrs(recipe.clf_lr, n_groups) if recipe.clf_discriminative else [recipe.clf_lr] * n_groups
    group_colors = [COLUMN_COLORS[k % len(COLUMN_COLORS)] for k in range(n_groups)]
    rule = f"lr = {recipe.clf_lr:g} for the head, ÷ 2.6 per group below" if recipe.clf_discriminative else "one rate"
    bottom_fig.suptitle(f"Gradual unfreezing in ulmlite.ulmfit.train_classifier, Recipe() defaults:\n"
                        f"one STLR cycle per stage, {rule}", fontsize=10, fontweight="bold", x=0.02, ha="left",
                        y=0.99, va="top", linespacing=1.3)
    grid = bottom_fig.add_gridspec(2, 3, height_ratios=[1.6, 1.0], hspace=0.12, wspace=0.08, left=0.1, right=0.975,
                                   top=0.79, bottom=0.08)
    axes = [bottom_fig.add_subplot(grid[0, s]) for s in range(3)]
    lanes = [bottom_fig.add_subplot(grid[1, s]) for s in range(3)]
    steps_per_epoch = 100  # only the shape matters: the schedule is over epochs × steps
    lowest = []
    for s, (trainable, epochs, args) in enumerate(stages):
        n = trainable % n_groups if trainable < 0 else trainable  # freeze_to(n): groups n and above train
        args = dict(args)
        plan = SlantedTriangular(lr_max=1.0, total=epochs * steps_per_epoch, **args)
        t = np.arange(epochs * steps_per_epoch)
        factor = np.array([plan(int(i))[0] for i in t])
        ax, lane = axes[s], lanes[s]
        for k in range(n, n_groups):
            ax.plot(t / steps_per_epoch, base[k] * factor, color=group_colors[k], lw=1.6)
            lowest.append(base[k] * factor.min())
        ax.set_yscale("log")
        ax.set_xlim(0, epochs)
        ax.set_xticks(range(0, epochs + 1, 1 if epochs <= 2 else max(1, epochs // 7)))
        ax.tick_params(axis="x", labelbottom=False)
        frac = "1/3" if abs(args["cut_frac"] - 1 / 3) < 1e-9 else f"{args['cut_frac']:g}"
        ax.set_title(f"stage {s + 1}: freeze_to({trainable}), {epochs} epoch{'s' if epochs > 1 else ''}\n"
                     f"cut_frac {frac}, ratio {args['ratio']:g}", fontsize=9)
        if s == 0:
            ax.set_ylabel("learning rate per group\n(log scale)")
        else:
            ax.tick_params(axis="y", which="both", labelleft=False)
        for k in range(n_groups):
            lane.add_patch(Rectangle((0, k + 0.1), epochs, 0.8, facecolor=group_colors[k] if k >= n else "white",
                                     edgecolor=group_colors[k], lw=1, hatch=None if k >= n else "////",
                                     alpha=1 if k >= n else 0.5))
            lane.text(epochs / 2, k + 0.5, "trains" if k >= n else "frozen", ha="center", va="center",
                      fontsize=7.5, color="white" if k >= n else DARK)
        lane.set_xlim(0, epochs)
        lane.set_ylim(0, n_groups)
        lane.set_xticks(range(0, epochs + 1, 1 if epochs <= 2 else max(1, epochs // 7)))
        lane.set_xlabel("epoch", labelpad=1)
        if s == 0:
            lane.set_yticks([k + 0.5 for k in range(n_groups)], names)
        else:
            lane.set_yticks([])
        lane.tick_params(axis="y", length=0)
        for side in ("left", "top", "right"):
            lane.spines[side].set_visible(False)
    for ax in axes:
        ax.set_ylim(min(lowest) / 1.5, max(base) * 1.6)
    return fig


# --- docs/investigation.md: where a step's time goes ---------------------------------------------------


@figure
def draw_step_time():
    """The lesson-size step, cost model against measurement, from bench_investigation.json."""
    data = json.loads((RESULTS / "bench_investigation.json").read_text())
    lesson = next(r for r in data["rows"] if r["config"] == "lesson")
    model = data["model"]["lesson"]["seconds"]
    machine = data["machine"]
    dec, lstm, other = COLUMN_COLORS[0], COLUMN_COLORS[1], COLUMN_COLORS[2]
    model_parts = [  # (legend name, bar label, seconds, colour)
        ("decoder GEMMs", "decoder GEMMs\n(400 → 60,002)", model["decoder"], dec),
        ("softmax + cross-entropy (model)", None, model["softmax_ce"], _tint(dec, 0.45)),
        ("LSTM batched GEMMs", "LSTM\nbatched GEMMs", model["lstm_batched"], lstm),
        ("LSTM serial GEMMs", "LSTM serial\nGEMMs (70 steps)", model["lstm_serial"], _tint(lstm, 0.45)),
        ("LSTM pointwise (model)", None, model["lstm_pointwise"], _tint(lstm, 0.75)),
        ("embedding, dropouts, AR/TAR (model)", None, model["embedding_dropouts"], _tint(other, 0.5)),
        ("Adam", None, model["optimizer"], other),
    ]
    measured_parts = [
        ("decoder + cross-entropy", "decoder + cross-entropy", lesson["measured_decoder_ce_s"], dec),
        ("3 LSTM layers", "3 LSTM layers (nn.LSTM)", lesson["measured_lstm_s"], lstm),
        ("Adam", None, lesson["measured_optimizer_s"], other),
    ]
    rest = lesson["measured_step_s"] - sum(p[2] for p in measured_parts)
    if rest > 0:  # the components were timed alone: what the whole step took beyond them
        measured_parts.append(("the rest of the measured step", None, rest, "#cfcfcf"))

    fig, ax = plt.subplots(figsize=(8.4, 3.6))
    fig.subplots_adjust(left=0.13, right=0.97, top=0.79, bottom=0.3)
    fig.suptitle(f"Where a lesson-size LM training step goes (float32; V {lesson['V']:,}, E {lesson['E']}, "
                 f"H {lesson['H']}, {lesson['tokens_per_step']:,} tokens)", fontsize=10.5, fontweight="bold")
    fig.text(0.5, 0.865, f"{machine['cpu']}, {machine['cores']} cores, torch {machine['torch'].split('+')[0]}; "
             "from benchmarks/results/bench_investigation.json: the cost model (benchmarks/cost_model.py)\n"
             "at the GEMM rates and bandwidth measured in that run, and the components timed alone "
             "(forward + backward) in the same run", ha="center", va="center", fontsize=8, color=DARK)
    for y, parts, total in ((1, model_parts, model["total"]), (0, measured_parts, lesson["measured_step_s"])):
        left = 0.0
        for _, label, seconds, color in parts:
            ax.barh(y, seconds, left=left, color=color, edgecolor="white", height=0.62)
            if label:
                text_color = "white" if color in (dec, lstm, other) else "black"
                ax.text(left + seconds / 2, y, f"{label}\n{seconds:.2f} s ({seconds / total:.0%})", ha="center",
                        va="center", fontsize=7.8, color=text_color, linespacing=1.15)
            left += seconds
        ax.text(left + 0.06, y, f"{total:.2f} s", va="center", fontsize=9, fontweight="bold")
    ax.set_yticks([1, 0], ["cost model", "measured"])
    ax.tick_params(axis="y", length=0, labelsize=9)
    ax.set_xlim(0, max(model["total"], lesson["measured_step_s"]) * 1.09)
    ax.set_ylim(-0.45, 1.45)
    ax.set_xlabel("seconds per training step (forward + backward + Adam)", labelpad=2)
    handles, labels = [], []
    for name, label, seconds, color in model_parts + measured_parts:
        if label is None and name != "Adam":
            handles.append(Rectangle((0, 0), 1, 1, color=color))
            labels.append(f"{name}: {seconds:.2f} s")
    adam = {"model": model["optimizer"], "measured": lesson["measured_optimizer_s"]}
    handles.append(Rectangle((0, 0), 1, 1, color=other))
    labels.append(f"Adam: model {adam['model']:.2f} s, measured {adam['measured']:.2f} s")
    ax.legend(handles, labels, ncol=3, loc="upper center", bbox_to_anchor=(0.45, -0.3), frameon=False,
              fontsize=7.5, handlelength=1.0, columnspacing=1.2)
    return fig


# --- the command line ---------------------------------------------------------------------------------


def draw(names, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        fig = FIGURES[name]()
        path = out / f"{name}.png"
        fig.savefig(path, dpi=DPI, metadata={"Software": None})  # no version stamp: the same file every run
        plt.close(fig)
        written.append(path)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"figures to draw (default all): {', '.join(FIGURES)}")
    parser.add_argument("--out", type=Path, default=DOCS / "figures", help="folder to write into (docs/figures)")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in FIGURES]
    if unknown:
        parser.error(f"unknown figure(s) {', '.join(unknown)}; known: {', '.join(FIGURES)}")
    for path in draw(args.names or list(FIGURES), args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
