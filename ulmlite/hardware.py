"""What this CPU computes fast, and the two choices made from it.

1. **The GEMM path of the fused ops** (csrc/gemm.h): "onednn" (oneDNN for every float32 and
   bfloat16 GEMM, where the CPU passes PyTorch's oneDNN bf16 check: AVX-512 BW/VL/DQ or
   AVX-NE-CONVERT), "onednn-fp32" (oneDNN's reordered-weight GEMMs in float32 only: AVX2-only x86),
   or "aten" (at::mm and friends: MKL / OpenBLAS). `ULMLITE_ONEDNN=0` forces "aten";
   `set_gemm_path` / `gemm_path_forced` let a test run any path at or below the CPU's.
2. **The training precision** (`choose_precision`): bfloat16 autocast only where this CPU computes
   bfloat16 natively, float32 elsewhere. Without oneDNN's bf16 support a bf16 GEMM is emulated and
   hundreds of times slower (0.29 against 136 GFLOP/s in float32, measured on an AVX2-only AMD EPYC
   Zen 2); with the bf16 dot-product instructions (AVX512_BF16, AMX) it is about twice as fast as
   float32. Between the two (AVX-512 without them, AVX-NE-CONVERT, Arm) a probe of a few ms decides.

Both take the CPU's description as an input (`CPUInfo`), so the tests check every answer on any machine.
"""

import contextlib
import functools
import platform
import subprocess
import time
import warnings
from dataclasses import dataclass

import torch

from ulmlite._extension import extension_available, require_extension

PRECISIONS = ("auto", "fp32", "bf16")
# Flags (Linux /proc/cpuinfo; `bf16` is Arm's FEAT_BF16) of instructions that compute in bfloat16.
BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")
# bfloat16 autocast is chosen where a bf16 GEMM runs at least this many times the float32 rate:
# the rest of a training step (pointwise work, conversions) gains less than the GEMMs.
BF16_MIN_SPEEDUP = 1.3


@dataclass(frozen=True)
class CPUInfo:
    model: str
    capability: str  # torch.backends.cpu.get_cpu_capability(): the vector ISA ATen's kernels use
    onednn_bf16: bool  # torch.ops.mkldnn._is_mkldnn_bf16_supported(): oneDNN computes bf16 at all
    bf16_flags: tuple[str, ...]  # of BF16_FLAGS, those the CPU reports (empty where unknown)
    flags_known: bool = True  # False where the CPU's flags could not be read

    def describe(self) -> str:
        bf16 = ", ".join(self.bf16_flags) if self.bf16_flags else "none" if self.flags_known else "unknown"
        return (f"{self.model} ({self.capability}; oneDNN bf16 {'yes' if self.onednn_bf16 else 'no'}; "
                f"bf16 instructions {bf16})")


def _cpu_flags() -> tuple[str, set[str] | None]:
    """The CPU's model name and feature flags, None where this system does not say."""
    model, flags = platform.processor() or platform.machine(), None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip().lower()
                if key in ("model name", "cpu model") and model in ("", platform.machine(), platform.processor()):
                    model = value.strip()
                elif key in ("flags", "features") and flags is None:
                    flags = set(value.split())
    except OSError:
        pass
    if flags is None and platform.system() == "Darwin":
        try:
            out = subprocess.run(["sysctl", "-n", "hw.optional.arm.FEAT_BF16", "machdep.cpu.brand_string"],
                                 capture_output=True, text=True, timeout=5).stdout.split("\n")
            flags = {"bf16"} if out and out[0].strip() == "1" else set()
            model = out[1].strip() if len(out) > 1 and out[1].strip() else model
        except (OSError, subprocess.SubprocessError):
            pass
    return model, flags


@functools.cache
def cpu_info() -> CPUInfo:
    """This machine's CPU, read once."""
    model, flags = _cpu_flags()
    try:
        onednn_bf16 = bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        onednn_bf16 = False
    return CPUInfo(model=model, capability=torch.backends.cpu.get_cpu_capability(), onednn_bf16=onednn_bf16,
                   bf16_flags=tuple(f for f in BF16_FLAGS if flags and f in flags), flags_known=flags is not None)


# --- the GEMM path -------------------------------------------------------------------------------

GEMM_PATHS = ("onednn", "onednn-fp32", "aten")


def gemm_path() -> str:
    """The path the fused ops' CPU GEMMs take now ("aten" when the extension is not built)."""
    return torch.ops.ulmlite._cpu_gemm_path() if extension_available() else "aten"


def detected_gemm_path() -> str:
    """The best path this CPU and the PyTorch build allow, ULMLITE_ONEDNN aside."""
    return torch.ops.ulmlite._detected_cpu_gemm_path() if extension_available() else "aten"


def set_gemm_path(path: str) -> str:
    """Take `path` ("auto": the detected one, unless ULMLITE_ONEDNN=0), or the most capable one below
    it that this CPU allows. Returns the path now taken."""
    if path not in ("auto", *GEMM_PATHS):
        raise ValueError(f"GEMM path must be one of auto, {', '.join(GEMM_PATHS)}; got {path!r}")
    require_extension()
    return torch.ops.ulmlite._set_cpu_gemm_path(path)


def allowed_gemm_paths() -> list[str]:
    """The paths this CPU and ULMLITE_ONEDNN allow, best first (the path in use is left as it was)."""
    previous = gemm_path()
    best = set_gemm_path("auto")
    set_gemm_path(previous)
    return list(GEMM_PATHS[GEMM_PATHS.index(best):])


@contextlib.contextmanager
def gemm_path_forced(path: str):
    """Run the block on `path` (a test makes an AVX-512 CPU take the path an AVX2 one takes). Raises
    ValueError when this CPU cannot take it; the previous path is restored afterwards."""
    previous = gemm_path()
    taken = set_gemm_path(path)
    try:
        if path != "auto" and taken != path:
            raise ValueError(f"this CPU (with ULMLITE_ONEDNN as set) cannot take the {path!r} GEMM path "
                             f"(it allows {allowed_gemm_paths()[0]!r})")
        yield taken
    finally:
        set_gemm_path(previous)


# --- the precision -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PrecisionChoice:
    precision: str  # "bf16" or "fp32"
    reason: str
    bf16_speedup: float | None = None  # bf16 GEMM rate / fp32 rate, where it was measured

    @property
    def bf16(self) -> bool:
        return self.precision == "bf16"

    def describe(self) -> str:
        return f"precision {self.precision}: {self.reason}"

    def training_line(self) -> str:
        """What a training command prints before it starts: the precision, why, and the GEMM path."""
        return f"training in {self.precision}: {self.reason}; CPU GEMM path {gemm_path()}"


def _median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up (allocation, oneDNN's kernel choice)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


@functools.cache
def measure_bf16_speedup(n: int = 192, repeats: int = 3) -> float:
    """bf16 `torch.mm` rate over float32 at n x n x n, once per process: about 1 ms per product where
    bf16 is native or close to it; where it is emulated (0.3 GFLOP/s) about 50 ms each."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    fp32 = _median_seconds(lambda: torch.mm(a, b), repeats)
    a16, b16 = a.bfloat16(), b.bfloat16()
    bf16 = _median_seconds(lambda: torch.mm(a16, b16), repeats)
    return fp32 / bf16


def bf16_native(cpu: CPUInfo, probe=measure_bf16_speedup) -> tuple[bool, str, float | None]:
    """Does this CPU compute bfloat16 fast? (answer, why, the measured speed-up when a probe ran)."""
    if not cpu.onednn_bf16:
        return False, "this CPU has no native bfloat16 (oneDNN's bf16 check fails: it needs AVX-512 BW/VL/DQ, " \
                      "AVX-NE-CONVERT or Arm bf16), so bf16 GEMMs are emulated", None
    if cpu.bf16_flags and cpu.bf16_flags != ("bf16",):  # x86 dot-product instructions: conclusive
        return True, f"this CPU computes bfloat16 natively ({', '.join(cpu.bf16_flags)})", None
    speedup = probe()
    native = speedup >= BF16_MIN_SPEEDUP
    return native, (f"a bf16 GEMM ran at {speedup:.2f}x the float32 rate on this CPU "
                    f"({'at least' if native else 'under'} {BF16_MIN_SPEEDUP}x)"), speedup


_warned: set[str] = set()


def choose_precision(request: str = "auto", cpu: CPUInfo | None = None, probe=measure_bf16_speedup) -> PrecisionChoice:
    """`request` "auto": bf16 where this CPU computes it natively, else fp32. "fp32" is taken as asked;
    "bf16" too, with a warning (once per process) where bf16 is emulated, giving the measured ratio."""
    if request not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {request!r}")
    if request == "fp32":
        return PrecisionChoice("fp32", "asked for (--precision fp32)")
    cpu = cpu or cpu_info()
    native, why, speedup = bf16_native(cpu, probe)
    if request == "auto":
        return PrecisionChoice("bf16" if native else "fp32", f"auto: {why}", speedup)
    if not native:
        speedup = probe() if speedup is None else speedup
        message = (f"bfloat16 was asked for, but {why}: a bf16 GEMM ran at {speedup:.3g}x the float32 rate here, "
                   "so training will be slower than in float32 (--precision auto or fp32 avoids this)")
        if message not in _warned:
            _warned.add(message)
            warnings.warn(message, RuntimeWarning, stacklevel=2)
        return PrecisionChoice("bf16", f"asked for (--precision bf16), although {why}", speedup)
    return PrecisionChoice("bf16", f"asked for (--precision bf16); {why}", speedup)
