"""LSTM layer backends at the AWD-LSTM shapes and at small shapes: forward and forward+backward,
medians from one run, with torch.nn.LSTM (oneDNN on CPU) as the baseline and the GEMM rate
measured in the same run. The backends of one shape are timed in interleaved rounds, so that a slow
spell of the machine reaches them all alike. The fused layer runs once per CPU GEMM path this CPU
allows (ulmlite.hardware: onednn, onednn-fp32, aten), in bfloat16 only where bf16 is native.

    python benchmarks/bench_lstm.py [--quick]
    ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 \
        python benchmarks/bench_lstm.py     # as an AVX2-only CPU would run it (see common.py)
"""

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bar, gemm_gflops, interleaved_medians, print_table, write_results  # noqa: E402

from ulmlite import hardware  # noqa: E402
from ulmlite.nn import LSTM  # noqa: E402
from ulmlite.nn.fused_lstm import fused_layer_available  # noqa: E402

AWD_SHAPES = [(400, 1150), (1150, 1150), (1150, 400)]  # the lesson's three layers
SMALL_SHAPES = [(64, 128), (128, 256)]


def layer_flops(seq_len, batch, input_size, hidden_size) -> float:
    """Forward GEMM FLOPs of one layer: input projection + recurrent projection, all steps."""
    return 2 * seq_len * batch * 4 * hidden_size * (input_size + hidden_size)


def workloads(backend, input_size, hidden_size, seq_len, batch, dtype, path=None, device="cpu"):
    """The forward (no grad) and the forward + backward of one layer, as two callables; `path` is
    the CPU GEMM path the fused layer takes (set before each call). On CUDA each call ends with a
    synchronize, so that the clock reads the work, not its launch."""
    torch.manual_seed(0)
    if backend == "nn.LSTM":
        module = torch.nn.LSTM(input_size, hidden_size)
    else:
        module = LSTM(input_size, hidden_size, backend=backend)
    module = module.to(device=device, dtype=dtype)
    x = torch.randn(seq_len, batch, input_size, dtype=dtype, device=device, requires_grad=True)
    take_path = (lambda: hardware.set_gemm_path(path)) if path else (lambda: None)
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)

    def forward():
        take_path()
        with torch.no_grad():
            module(x)
        sync()

    def forward_backward():
        take_path()
        y, (h, c) = module(x)
        y.sum().backward()
        sync()

    return forward, forward_backward


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats and shapes (a few minutes)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    args = parser.parse_args()
    cuda = torch.device(args.device).type == "cuda"
    if cuda and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device here")
    repeats = 2 if args.quick else 5
    # On CUDA the GEMMs are cuBLAS's whatever the CPU path says: one fused run, and bfloat16 always.
    paths = ([None] if cuda else hardware.allowed_gemm_paths()) if fused_layer_available() else []
    bf16 = fused_layer_available() and (cuda or hardware.choose_precision("auto").bf16)
    configs = [("awd", i, h, 70, 52) for i, h in AWD_SHAPES] + [("small", i, h, 70, 32) for i, h in SMALL_SHAPES]
    if args.quick:
        configs = [c for c in configs if c[1:3] != (1150, 1150)]

    gemm = {
        "fp32_step_gemm": gemm_gflops(52, 1150, 4600, device=args.device),
        "fp32_big_gemm": gemm_gflops(3640, 1150, 4600, repeats=3, device=args.device),
    }
    print(f"torch.mm float32 GFLOP/s: per-step shape (52x1150 @ 1150x4600) {gemm['fp32_step_gemm']:.0f},"
          f" input-projection shape (3640x1150 @ 1150x4600) {gemm['fp32_big_gemm']:.0f}")

    if bf16:
        gemm["bf16_step_gemm"] = gemm_gflops(52, 1150, 4600, dtype=torch.bfloat16, device=args.device)
    # (backend, dtype, GEMM path): the fused layer on every path, bfloat16 on the best one.
    runs = [(b, torch.float32, None) for b in ("nn.LSTM", "torch", "python")]
    runs += [("fused", torch.float32, p) for p in paths] + ([("fused", torch.bfloat16, paths[0])] if bf16 else [])
    rows = []
    for group, input_size, hidden_size, seq_len, batch in configs:
        flops = layer_flops(seq_len, batch, input_size, hidden_size)
        # Every backend of a shape is timed in the same rounds (see interleaved_medians), forward
        # and forward + backward each.
        fns = {}
        for run in runs:
            fns[run, "fwd"], fns[run, "fwd_bwd"] = workloads(run[0], input_size, hidden_size, seq_len, batch,
                                                             run[1], run[2], args.device)
        medians = interleaved_medians(fns, repeats)
        if not cuda:
            hardware.set_gemm_path("auto")
        base = (medians[runs[0], "fwd"], medians[runs[0], "fwd_bwd"])
        for run in runs:
            backend, dtype, path = run
            fwd, fwd_bwd = medians[run, "fwd"], medians[run, "fwd_bwd"]
            rows.append({
                "group": group, "shape": f"{input_size}->{hidden_size}", "T": seq_len, "B": batch,
                "backend": backend, "device": args.device,
                "gemm_path": "cuda" if cuda and backend == "fused" else path or "",
                "dtype": str(dtype).replace("torch.", ""),
                "fwd_ms": fwd * 1e3, "fwd_bwd_ms": fwd_bwd * 1e3,
                "fwd_GFLOPs": flops / fwd / 1e9, "fwd_bwd_GFLOPs": 3 * flops / fwd_bwd / 1e9,
                "fwd_vs_nn.LSTM": base[0] / fwd, "fwd_bwd_vs_nn.LSTM": base[1] / fwd_bwd,
            })
    print_table(rows, ["group", "shape", "T", "B", "backend", "gemm_path", "dtype", "fwd_ms", "fwd_bwd_ms",
                       "fwd_GFLOPs", "fwd_bwd_GFLOPs", "fwd_vs_nn.LSTM", "fwd_bwd_vs_nn.LSTM"])
    write_results(__file__, rows, bars=bars_from(rows), extra={"gemm_gflops": gemm, "quick": args.quick,
                                                               "device": args.device},
                  suffix=".cuda" if cuda else "")


def bars_from(rows: list[dict]) -> dict:
    """The issues' bars, each the worst shape of its group (forward+backward ratio), for the path
    this CPU takes by default (the first of `gemm_paths()`) and, as `..._aten`, for the portable one."""
    def worst(group, dtype, path):
        ratios = [r["fwd_bwd_vs_nn.LSTM"] for r in rows if r["group"] == group and r["backend"] == "fused"
                  and r["dtype"] == dtype and r["gemm_path"] == path]
        return min(ratios) if ratios else None

    paths = [r["gemm_path"] for r in rows if r["backend"] == "fused"]
    if not paths:
        return {}
    default = paths[0]
    wanted = {
        "fused_vs_torch_small": ("small", "float32", 2.0, default),
        "fused_vs_torch_awd_fp32": ("awd", "float32", 1.0, default),
        "fused_bf16_vs_torch_awd_fp32": ("awd", "bfloat16", 2.0, default),
        "fused_vs_torch_awd_fp32_aten": ("awd", "float32", 1.0, "aten"),
    }
    return {name: {**bar(worst(group, dtype, path), target), "gemm_path": path}
            for name, (group, dtype, target, path) in wanted.items() if worst(group, dtype, path) is not None}


if __name__ == "__main__":
    main()
