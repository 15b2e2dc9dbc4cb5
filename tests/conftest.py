"""Shared test set-up: hypothesis profiles (`dev` by default, `ci` deeper; pick with
HYPOTHESIS_PROFILE), a fixed torch seed per test, and the `gemm_path` fixture that runs a test on
each CPU GEMM path of the fused ops (ulmlite.hardware), so a CPU with AVX-512 also proves the paths
an AVX2-only CPU takes."""

import os

import pytest
import torch
from hypothesis import HealthCheck, settings

# function_scoped_fixture: `gemm_path` holds for every example of a test, as it should.
SUPPRESSED = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
settings.register_profile("dev", max_examples=15, deadline=None, suppress_health_check=SUPPRESSED)
settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=SUPPRESSED, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(params=["onednn", "onednn-fp32", "aten"])
def gemm_path(request):
    """The test runs with the fused ops' CPU GEMMs on this path; skipped where the CPU (or
    ULMLITE_ONEDNN=0) does not allow it. The path the process had is restored afterwards."""
    from ulmlite import extension_available, hardware

    if not extension_available():
        pytest.skip("ulmlite._C not built")
    if request.param not in hardware.allowed_gemm_paths():
        pytest.skip(f"this CPU or ULMLITE_ONEDNN does not allow the {request.param} GEMM path")
    with hardware.gemm_path_forced(request.param) as taken:
        yield taken
