"""ulmlite.hardware: the CPU GEMM path of the fused ops and the training precision, each decided
from a description of the CPU that the tests set, so every answer is checked on any machine."""

import os
import subprocess
import sys
import warnings

import pytest
import torch

from ulmlite import extension_available, hardware
from ulmlite.hardware import CPUInfo, choose_precision

AVX2 = CPUInfo("AMD EPYC 7R32 (Zen 2)", "AVX2", onednn_bf16=False, bf16_flags=())
ZEN4 = CPUInfo("AMD EPYC 9R14 (Zen 4)", "AVX512", onednn_bf16=True, bf16_flags=("avx512_bf16",))
SKYLAKE = CPUInfo("Intel Xeon Platinum 8175M", "AVX512", onednn_bf16=True, bf16_flags=())  # AVX-512, no bf16 ops
ARM = CPUInfo("Neoverse-V1", "SVE256", onednn_bf16=True, bf16_flags=("bf16",))


def no_probe():
    raise AssertionError("the capability check was conclusive: no probe should run")


def test_auto_is_float32_where_bfloat16_is_emulated_without_probing():
    choice = choose_precision("auto", AVX2, probe=no_probe)
    assert choice.precision == "fp32" and not choice.bf16
    assert "emulated" in choice.reason


def test_auto_is_bfloat16_where_the_cpu_has_bf16_instructions_without_probing():
    choice = choose_precision("auto", ZEN4, probe=no_probe)
    assert choice.bf16 and "avx512_bf16" in choice.reason


@pytest.mark.parametrize("cpu", [SKYLAKE, ARM])
@pytest.mark.parametrize("speedup, expected", [(2.4, "bf16"), (hardware.BF16_MIN_SPEEDUP, "bf16"), (1.1, "fp32"),
                                               (0.02, "fp32")])
def test_where_the_capability_is_not_conclusive_the_probe_decides(cpu, speedup, expected):
    calls = []
    choice = choose_precision("auto", cpu, probe=lambda: calls.append(1) or speedup)
    assert calls == [1]
    assert choice.precision == expected and choice.bf16_speedup == speedup
    assert f"{speedup:.2f}x" in choice.reason


def test_fp32_is_taken_as_asked():
    assert choose_precision("fp32", ZEN4, probe=no_probe).precision == "fp32"


def test_bf16_where_emulated_works_but_warns_once_with_the_measured_ratio():
    hardware._warned.clear()
    with pytest.warns(RuntimeWarning, match=r"0\.00213x the float32 rate"):
        choice = choose_precision("bf16", AVX2, probe=lambda: 0.00213)
    assert choice.bf16 and choice.bf16_speedup == 0.00213
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second warning would raise here
        assert choose_precision("bf16", AVX2, probe=lambda: 0.00213).bf16


def test_bf16_where_native_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert choose_precision("bf16", ZEN4, probe=no_probe).bf16


def test_an_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="precision must be one of auto, fp32, bf16; got 'fp16'"):
        choose_precision("fp16", ZEN4)


def test_this_machine_is_described_consistently():
    cpu = hardware.cpu_info()
    assert cpu.capability == torch.backends.cpu.get_cpu_capability()
    assert cpu.onednn_bf16 == bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    assert set(cpu.bf16_flags) <= set(hardware.BF16_FLAGS)
    assert choose_precision("auto").precision in ("fp32", "bf16")
    assert hardware.measure_bf16_speedup() > 0


needs_extension = pytest.mark.skipif(not extension_available(), reason="ulmlite._C not built")


@needs_extension
def test_the_detected_path_follows_the_oneDNN_bf16_check():
    expected = "onednn" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "onednn-fp32"
    assert hardware.detected_gemm_path() == (expected if torch.backends.mkldnn.is_available() else "aten")


@needs_extension
def test_every_path_at_or_below_the_cpus_can_be_taken_and_is_restored():
    before = hardware.gemm_path()
    allowed = hardware.allowed_gemm_paths()
    assert hardware.gemm_path() == before and allowed[-1] == "aten"
    for path in allowed:
        with hardware.gemm_path_forced(path) as taken:
            assert taken == path == hardware.gemm_path()
        assert hardware.gemm_path() == before


@needs_extension
def test_a_path_above_the_cpus_is_clamped_and_forcing_it_raises():
    """Above what the CPU, or ULMLITE_ONEDNN=0, allows: set_gemm_path takes the best allowed path."""
    if hardware.set_gemm_path("auto") == "onednn":
        with hardware.gemm_path_forced("aten"):  # from the portable path "auto" still reaches the top
            assert hardware.set_gemm_path("auto") == "onednn"
        pytest.skip("this CPU allows every path")
    best = hardware.allowed_gemm_paths()[0]
    assert hardware.set_gemm_path("onednn") == best
    with pytest.raises(ValueError, match=f"cannot take the 'onednn' GEMM path \\(it allows {best!r}\\)"):
        with hardware.gemm_path_forced("onednn"):
            pass


@needs_extension
def test_an_unknown_path_is_refused():
    with pytest.raises(ValueError, match="GEMM path must be one of auto, onednn, onednn-fp32, aten"):
        hardware.set_gemm_path("mkl")
    with pytest.raises(RuntimeError, match="path must be auto, onednn, onednn-fp32 or aten"):
        torch.ops.ulmlite._set_cpu_gemm_path("mkl")


def run_with_env(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120)


@needs_extension
def test_ULMLITE_ONEDNN_0_forces_the_portable_path_and_caps_every_choice():
    code = ("from ulmlite import hardware\n"
            "print(hardware.gemm_path(), hardware.set_gemm_path('onednn'), hardware.set_gemm_path('auto'))")
    result = run_with_env(code, ULMLITE_ONEDNN="0")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["aten", "aten", "aten"]


@needs_extension
def test_another_ULMLITE_ONEDNN_value_warns_and_leaves_the_choice_to_the_cpu():
    code = "from ulmlite import hardware\nprint(hardware.gemm_path(), hardware.detected_gemm_path())"
    result = run_with_env(code, ULMLITE_ONEDNN="yes please")
    assert result.returncode == 0, result.stderr
    path, detected = result.stdout.split()
    assert path == detected
    assert "ULMLITE_ONEDNN=yes please is neither 0 nor 1" in result.stderr
