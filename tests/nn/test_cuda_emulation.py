"""The CUDA kernels' own source (csrc/*_kernels.cuh), run on the host by the emulator
(csrc/cuda_emulation.h):

- built on their own with -fsanitize=address,undefined, and the barrier kernel with
  -fsanitize=thread, over the edge shapes (V in {1, 255, 256, 257}, B*H around the block size,
  all -inf rows, bfloat16), compared with plain double loops (tests/csrc/emulated_kernels.cpp);
- with planted defects (a bound check loosened, the barrier before the gradient overwrites the
  logits removed, a barrier moved into a branch, a loop bound off by one), each of which must make
  the emulated run fail.

The op-level tests (tests/nn/test_fused.py, test_cross_entropy.py) run the same kernels through the
registered ops with the `op_path` fixture's `emulated-cuda` parameter.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CSRC = ROOT / "csrc"
PROGRAM = ROOT / "tests" / "csrc" / "emulated_kernels.cpp"
CXX = os.environ.get("CXX", "c++")
REQUIRED = os.environ.get("ULMLITE_REQUIRE_SANITIZERS") == "1"  # .ci/run: a missing sanitizer fails
ENV = {**os.environ, "ASAN_OPTIONS": "detect_leaks=0:halt_on_error=1:abort_on_error=0",
       "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1", "TSAN_OPTIONS": "halt_on_error=1:exitcode=66"}


def _torch_includes() -> list[str]:
    from torch.utils.cpp_extension import include_paths

    return [f"-I{p}" for p in include_paths()]


def _sanitizer_works(flag: str, tmp: Path) -> bool:
    if shutil.which(CXX) is None:
        return False
    source = tmp / "probe.cpp"
    source.write_text("int main() { return 0; }\n")
    done = subprocess.run([CXX, f"-fsanitize={flag}", str(source), "-o", str(tmp / "probe")], capture_output=True)
    return done.returncode == 0 and subprocess.run([str(tmp / "probe")], env=ENV).returncode == 0


def build(tmp: Path, sanitize: str, csrc: Path = CSRC) -> Path:
    if not _sanitizer_works(sanitize, tmp):
        message = f"{CXX} cannot build with -fsanitize={sanitize} here"
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    exe = tmp / f"emulated_kernels_{sanitize.replace(',', '_')}"
    command = [CXX, "-std=c++17", "-O1", "-g", "-fno-omit-frame-pointer", f"-fsanitize={sanitize}", "-pthread",
               "-DULMLITE_EMULATE_WITH_THREADS",  # real threads: what ThreadSanitizer watches
               f"-I{csrc}", *_torch_includes(), str(PROGRAM), "-o", str(exe)]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, f"build failed:\n{done.stderr[-3000:]}"
    return exe


def run(exe: Path, which: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(exe), which], capture_output=True, text=True, env=ENV, timeout=300)


def test_kernels_match_plain_loops_under_address_and_undefined_behaviour_sanitizers(tmp_path):
    done = run(build(tmp_path, "address,undefined"), "all")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "all results match" in done.stdout


def test_row_kernel_barriers_under_the_thread_sanitizer(tmp_path):
    done = run(build(tmp_path, "thread"), "rows")
    assert done.returncode == 0, done.stderr[-3000:]


def planted(tmp_path: Path, header: str, old: str, new: str) -> Path:
    """A copy of csrc/ with one defect planted in `header` (the pattern must be there exactly once)."""
    copy = tmp_path / "csrc"
    shutil.copytree(CSRC, copy)
    text = (copy / header).read_text()
    assert text.count(old) == 1, f"{header}: the defect's pattern {old!r} is not there exactly once"
    (copy / header).write_text(text.replace(old, new))
    return copy


LSTM_BOUND = "if (k >= B * H) return;\n  const int64_t b = k / H, j = k % H;\n  forward_element"
BARRIER_BEFORE_OVERWRITE = "  __syncthreads();  // every thread has read z[t] before it is overwritten\n"
REDUCTION_END = "        best_index[tid] = other_index;\n      }\n    }\n    __syncthreads();\n"
SUM_LOOP = "for (int64_t j = tid; j < V; j += kRowThreads) sum +="
DEFECTS = {  # name: (header, pattern, replacement, the sanitizer build that must catch it, the kernels to run)
    "bound check >= turned into >": ("lstm_kernels.cuh", LSTM_BOUND, LSTM_BOUND.replace(">=", ">"),
                                     "address,undefined", "lstm"),
    "barrier before the gradient overwrites the logits removed": (
        "cross_entropy_kernels.cuh", BARRIER_BEFORE_OVERWRITE, "\n", "thread", "rows"),
    "barrier moved into a branch": (
        "cross_entropy_kernels.cuh", REDUCTION_END,
        "        best_index[tid] = other_index;\n      }\n      __syncthreads();\n    }\n",
        "address,undefined", "rows"),
    "sum loop reads one logit past the row": (
        "cross_entropy_kernels.cuh", SUM_LOOP, SUM_LOOP.replace("j < V", "j <= V"), "address,undefined", "rows"),
}


@pytest.mark.parametrize("defect", list(DEFECTS))
def test_a_planted_defect_makes_the_emulated_run_fail(defect, tmp_path):
    header, old, new, sanitize, which = DEFECTS[defect]
    exe = build(tmp_path, sanitize, planted(tmp_path, header, old, new))
    done = run(exe, which)
    assert done.returncode != 0, f"the defect '{defect}' went unnoticed:\n{done.stdout}\n{done.stderr[-2000:]}"
