"""Shared test set-up: hypothesis profiles (`dev` by default, `ci` deeper; pick with
HYPOTHESIS_PROFILE), a fixed torch seed per test, and the `op_path` fixture that runs a test on each
CPU GEMM path of the fused ops (ulmlite.hardware), so a CPU with AVX-512 also proves the paths an
AVX2-only CPU takes, on the emulated CUDA kernels, and on a real GPU where there is one."""

import os

import pytest
import torch
from hypothesis import HealthCheck, settings

# function_scoped_fixture: `op_path` holds for every example of a test, as it should.
SUPPRESSED = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
settings.register_profile("dev", max_examples=15, deadline=None, suppress_health_check=SUPPRESSED)
settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=SUPPRESSED, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(params=["onednn", "onednn-fp32", "aten", "emulated-cuda", "cuda"])
def op_path(request):
    """The test runs with the fused CPU ops on one path: their GEMMs on the oneDNN, oneDNN-float32 or
    ATen path (skipped where the CPU, or ULMLITE_ONEDNN=0, does not allow it), or `emulated-cuda`:
    the CUDA kernels' own code run on the host by the emulator (csrc/cuda_emulation.h) in place of
    the CPU's pointwise and row passes, with ATen GEMMs as on CUDA; or `cuda`, the real GPU (skipped
    without one; `make gpu-check` runs these). What the process had is restored afterwards."""
    from ulmlite import extension_available, hardware

    if not extension_available():
        pytest.skip("ulmlite._C not built")
    if request.param == "cuda":  # the real device: tensors the test makes land there
        if not torch.cuda.is_available():
            pytest.skip("no CUDA GPU here")
        tf32 = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
        # float32 against nn.LSTM: cuDNN and cuBLAS would use TF32 on sm_80+ (the reference, not the
        # op, would then miss the tolerance).
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
        torch.set_default_device("cuda")
        try:
            yield "cuda"
        finally:
            torch.set_default_device("cpu")
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = tf32
        return
    gemm = "aten" if request.param == "emulated-cuda" else request.param
    if gemm not in hardware.allowed_gemm_paths():
        pytest.skip(f"this CPU or ULMLITE_ONEDNN does not allow the {gemm} GEMM path")
    kernels = "emulated-cuda" if request.param == "emulated-cuda" else "cpu"
    before = torch.ops.ulmlite._set_cpu_kernels(kernels)
    try:
        with hardware.gemm_path_forced(gemm):
            yield request.param
    finally:
        torch.ops.ulmlite._set_cpu_kernels(before)
