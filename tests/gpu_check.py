"""`make gpu-check`: the CUDA path proven on a real GPU, in one command (about 5 minutes on one
H100-class GPU; every step has a time limit). Steps, in order, each named in the output and in
runs/gpu-check/report.json; the first failure stops the check with a non-zero exit:

1. the op tests on CUDA (tests/nn/test_fused.py and test_cross_entropy.py, the `cuda` parameter of
   the op_path fixture: TF32 off, so float32 is compared with float32);
2. compute-sanitizer memcheck, racecheck and synccheck on a few small shapes of every op;
3. lstm_forward + lstm_backward and the fused loss captured in a CUDA graph, replayed, and compared
   with eager runs of the same inputs;
4. benchmarks/bench_lstm.py --device cuda --quick and bench_lm_step.py --device cuda --quick.

Without a GPU it says so in one line and exits with status 2.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "runs" / "gpu-check"

# Small shapes for the sanitizers: B*H not a multiple of the block, V around it, bfloat16 too.
SANITIZED = r"""
import torch
from ulmlite.nn.fused_loss import linear_cross_entropy
from ulmlite.nn.fused_lstm import lstm_layer
torch.manual_seed(0)
for dtype in (torch.float32, torch.bfloat16):
    for (T, B, I, H) in ((3, 5, 7, 51), (2, 1, 3, 257)):
        x = torch.randn(T, B, I, device="cuda", dtype=dtype, requires_grad=True)
        w_ih = torch.randn(4 * H, I, device="cuda", dtype=dtype, requires_grad=True)
        w_hh = torch.randn(4 * H, H, device="cuda", dtype=dtype, requires_grad=True)
        h0 = torch.zeros(B, H, device="cuda", dtype=dtype)
        c0 = torch.zeros(B, H, device="cuda")
        y, h, c = lstm_layer(x, h0, c0, w_ih, w_hh)
        (y.float().sum() + c.sum()).backward()
    for V in (1, 255, 256, 257):
        x = torch.randn(9, 6, device="cuda", dtype=dtype, requires_grad=True)
        w = torch.randn(V, 6, device="cuda", dtype=dtype, requires_grad=True)
        t = torch.randint(0, V, (9,), device="cuda")
        loss, _ = linear_cross_entropy(x, w, None, t, chunk_rows=4)
        loss.backward()
torch.cuda.synchronize()
print("sanitized shapes ran")
"""


def graph_replay() -> dict:
    """Capture the fused ops in a CUDA graph, replay it on new inputs, compare with eager."""
    import torch

    import ulmlite.nn.fused_loss  # noqa: F401  (registers the autograd formulas)
    import ulmlite.nn.fused_lstm  # noqa: F401

    torch.manual_seed(0)
    T, B, F, H, V = 8, 4, 16, 32, 300  # F: the input size
    static = {
        "x": torch.randn(T, B, F, device="cuda"), "h0": torch.randn(B, H, device="cuda"),
        "c0": torch.randn(B, H, device="cuda"), "w_ih": torch.randn(4 * H, F, device="cuda") * 0.2,
        "w_hh": torch.randn(4 * H, H, device="cuda") * 0.2, "dy": torch.randn(T, B, H, device="cuda"),
        "inp": torch.randn(40, 12, device="cuda"), "w": torch.randn(V, 12, device="cuda"),
        "t": torch.randint(0, V, (40,), device="cuda"),
    }

    def step(a):
        y, h, c, act, cs = torch.ops.ulmlite.lstm_forward(a["x"], a["h0"], a["c0"], a["w_ih"], a["w_hh"], None, None)
        grads = torch.ops.ulmlite.lstm_backward(a["dy"], torch.zeros_like(h), torch.zeros_like(c), a["x"], a["h0"],
                                                a["c0"], a["w_ih"], a["w_hh"], y, act, cs)
        loss = torch.ops.ulmlite.linear_cross_entropy(a["inp"], a["w"], None, a["t"], 16, True)
        return [y, h, c, *grads, *loss]

    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(2):  # warm-up outside the capture (cuBLAS workspaces)
            step(static)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        captured = step(static)
    worst = 0.0
    for trial in range(3):
        fresh = {k: (torch.randint_like(v, 0, V) if k == "t" else torch.randn_like(v) * (0.2 if "w" in k else 1))
                 for k, v in static.items()}
        for k, v in fresh.items():
            static[k].copy_(v)
        graph.replay()
        eager = step(fresh)
        torch.cuda.synchronize()
        for a, b in zip(captured, eager, strict=True):
            if a.is_floating_point():
                worst = max(worst, float((a - b).abs().max()))
            elif not torch.equal(a, b):
                raise AssertionError(f"graph replay {trial}: an integer output differs from eager")
    if worst > 1e-5:
        raise AssertionError(f"graph replay differs from eager by {worst:.3g} (more than 1e-5)")
    return {"max_abs_difference": worst, "replays": 3}


def run(name: str, command: list[str], timeout: float, report: dict, env=None) -> None:
    print(f"gpu-check: {name} ...", flush=True)
    start = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=ROOT, timeout=timeout, env=env, capture_output=True, text=True)
    except subprocess.TimeoutExpired:
        fail(name, f"over its {timeout:.0f} s limit", report)
    seconds = time.perf_counter() - start
    report["steps"].append({"step": name, "seconds": seconds, "returncode": done.returncode,
                            "tail": (done.stdout + done.stderr)[-2000:]})
    if done.returncode != 0:
        print((done.stdout + done.stderr)[-4000:])
        fail(name, f"exit status {done.returncode}", report)
    print(f"gpu-check: {name} passed ({seconds:.0f} s)", flush=True)


def fail(name: str, why: str, report: dict) -> None:
    report["failed"] = {"step": name, "why": why}
    write(report)
    print(f"gpu-check: FAILED at step '{name}': {why}")
    sys.exit(1)


def write(report: dict) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "report.json").write_text(json.dumps(report, indent=1))


def main() -> int:
    import torch

    if not torch.cuda.is_available():
        print("gpu-check: no CUDA GPU on this machine (torch.cuda.is_available() is False): nothing checked")
        return 2
    import ulmlite

    if not ulmlite.extension_available() or not torch.cuda.is_available():
        print("gpu-check: ulmlite._C is not built (run `make build` on this machine first)")
        return 2
    report = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__, "steps": []}
    python = sys.executable
    env = {**os.environ, "HYPOTHESIS_PROFILE": "dev"}
    run("op tests on CUDA", [python, "-m", "pytest", "-q", "-x", "tests/nn/test_fused.py",
                             "tests/nn/test_cross_entropy.py", "-k", "cuda and not emulated"], 180, report, env)
    sanitizer = shutil.which("compute-sanitizer")
    if sanitizer is None:
        fail("compute-sanitizer", "compute-sanitizer is not on the PATH (it comes with the CUDA toolkit)", report)
    for tool in ("memcheck", "racecheck", "synccheck"):
        run(f"compute-sanitizer {tool}", [sanitizer, "--tool", tool, "--error-exitcode", "9", python, "-c", SANITIZED],
            120, report, env)
    print("gpu-check: CUDA graph capture and replay ...", flush=True)
    try:
        report["graph"] = graph_replay()
    except Exception as err:  # noqa: BLE001 - any failure of the step is the step's failure
        fail("CUDA graph capture and replay", str(err).splitlines()[0] if str(err) else type(err).__name__, report)
    difference = report["graph"]["max_abs_difference"]
    print(f"gpu-check: CUDA graph capture and replay passed (max difference {difference:.2g})")
    run("bench_lstm --device cuda --quick", [python, "benchmarks/bench_lstm.py", "--device", "cuda", "--quick"], 150,
        report, env)
    run("bench_lm_step --device cuda --quick", [python, "benchmarks/bench_lm_step.py", "--device", "cuda", "--quick"],
        150, report, env)
    report["passed"] = True
    write(report)
    print(f"gpu-check: every step passed; report: {OUT / 'report.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
