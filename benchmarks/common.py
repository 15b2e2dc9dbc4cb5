"""Shared benchmark helpers: timing medians, the machine description, GEMM rates, and the results
JSON (`benchmarks/results/<script>.json`, or `<name>.json`, with every printed row and the issue's `bars`)."""

import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results"


def median_time(fn, repeats: int, warmup: int = 1) -> float:
    """Median wall time of fn() in seconds over `repeats` runs after `warmup` runs."""
    return interleaved_medians({"fn": fn}, repeats, warmup)["fn"]


def interleaved_medians(fns: dict, repeats: int, warmup: int = 1) -> dict:
    """Median wall time in seconds of each of `fns` (name -> callable), timed in rounds: every round
    runs each function once, starting one further along each time. Slow drifts of the machine's
    speed (other tenants, clocks) then reach every function alike, and the ratios between them
    hold better than when each is timed in a block of its own."""
    names = list(fns)
    for name in names:
        for _ in range(warmup):
            fns[name]()
    times = {name: [] for name in names}
    for r in range(repeats):
        for k in range(len(names)):
            name = names[(r + k) % len(names)]
            start = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


# Set together, these make an AVX-512 machine compute as an AVX2-only one does: ATen's kernels, oneDNN's
# dispatch (its bf16 check then fails, as on an AMD Zen 2) and MKL's all stop at AVX2. The machine
# record keeps whichever of them a run had.
ISA_LIMITS = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS", "ULMLITE_ONEDNN")


def machine() -> dict:
    """Where the run happened: the CPU, what it offers, and the paths and precision ulmlite chose."""
    from ulmlite import hardware

    cpu = hardware.cpu_info()
    precision = hardware.choose_precision("auto")
    return {
        "cpu": cpu.model,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "cpu_capability": cpu.capability,
        "onednn_bf16_supported": cpu.onednn_bf16,
        "bf16_instructions": list(cpu.bf16_flags),
        "gemm_path": hardware.gemm_path(),
        "detected_gemm_path": hardware.detected_gemm_path(),
        "auto_precision": precision.precision,
        "auto_precision_reason": precision.reason,
        "isa_limits": {k: os.environ[k] for k in ISA_LIMITS if k in os.environ},
        "platform": platform.platform(),
    }


def gemm_gflops(m: int, k: int, n: int, dtype=torch.float32, repeats: int = 5, device="cpu") -> float:
    """Measured rate of torch.mm (m x k) @ (k x n) in GFLOP/s (on CUDA synchronized before the clock)."""
    a, b = torch.randn(m, k, dtype=dtype, device=device), torch.randn(k, n, dtype=dtype, device=device)
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    seconds = median_time(lambda: (torch.mm(a, b), sync()), repeats)
    return 2 * m * k * n / seconds / 1e9


def onednn_fp32_gflops(m: int, k: int, n: int, repeats: int = 3) -> float:
    """oneDNN's float32 matmul (m x k) @ (k x n), the weight reordered once (mkldnn ops PyTorch ships)."""
    a, w = torch.randn(m, k), torch.randn(n, k)
    packed = torch.ops.mkldnn._reorder_linear_weight(w, m)
    seconds = median_time(lambda: torch.ops.mkldnn._linear_pointwise(a, packed, None, "none", [], ""), repeats)
    return 2 * m * k * n / seconds / 1e9


def print_table(rows: list[dict], columns: list[str]) -> None:
    widths = [max(len(c), *(len(format_cell(r.get(c))) for r in rows)) for c in columns]
    print("  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True)))
    for r in rows:
        print("  ".join(format_cell(r.get(c)).rjust(w) for c, w in zip(columns, widths, strict=True)))


def format_cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return "" if value is None else str(value)


def bar(value: float, target: float, higher_is_better: bool = True) -> dict:
    holds = value >= target if higher_is_better else value <= target
    return {"value": value, "target": target, "holds": bool(holds)}


# The accuracy bars of the IMDB issue: the forward + backward ensemble on our test split, four points
# over NBSVM-bi's 88.8% on IMDB (as the paper's 95.4 stood over 91.2), and 0.80 on Rotten Tomatoes.
ACCURACY_TARGETS = {"imdb_test_accuracy": 0.92, "ulmfit_test_accuracy": 0.80}


def accuracy_bar_applies(report: dict, directions: list[str]) -> bool:
    """Whether a run's ensemble accuracy is the bar: both directions, and for a lesson (IMDB) run the
    classifier trained on every training review, not a `--train-docs` subset (nor a report that does not
    say). A demo (RT) run always trains on every training snippet."""
    every_document = ("imdb_test_accuracy" not in report
                      or report["train_docs"] == report.get("train_docs_available"))
    return every_document and list(directions) == ["forward", "backward"]


def last_perplexities(report: dict) -> dict:
    """{direction: {step: its last validation perplexity}} of a demo or lesson report, for the language-
    model steps (the classifier's history has none)."""
    return {name: {step: history[-1]["perplexity"] for step, history in report["history"][name].items()
                   if history and "perplexity" in history[-1]} for name in report["models"]}


def write_results(script: str, rows: list[dict], bars: dict, extra: dict | None = None, suffix: str = "",
                  name: str | None = None) -> Path:
    RESULTS.mkdir(exist_ok=True)
    # A run with the ISA limits (or oneDNN off) is another machine, and a CUDA run (suffix ".cuda")
    # another device: each gets a file of its own.
    limited = any(k in os.environ for k in ISA_LIMITS)
    path = RESULTS / f"{name or Path(script).stem}{suffix}{'.limited' if limited else ''}.json"
    payload = {"script": Path(script).name, "machine": machine(), "rows": rows, "bars": bars, **(extra or {})}
    path.write_text(json.dumps(payload, indent=1))
    print(f"wrote {path}")
    return path
