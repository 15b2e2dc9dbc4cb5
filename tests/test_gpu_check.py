"""`make gpu-check` without a GPU: one line saying why, and a non-zero exit."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parent / "gpu_check.py"


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is here: `make gpu-check` runs the real check")
def test_gpu_check_without_a_gpu_says_so_in_one_line_and_fails():
    done = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) == 1 and "no CUDA GPU" in lines[0], done.stdout + done.stderr
