"""Loading the compiled extension `ulmlite._C`, which registers the `torch.ops.ulmlite.*` ops.

Everything except the fused backend works without it, so a failed import is remembered, not raised.
Also the checks both fused ops' Python sides (nn/fused_lstm.py, nn/fused_loss.py) share.
"""

import importlib

import torch  # loads libtorch, which ulmlite._C links against

BUILD_HINT = (
    "ulmlite's compiled extension (ulmlite._C) is not built: run `make build` "
    "(or `pip install --no-build-isolation -e .`) in the ulmlite checkout"
)

_load_error: str | None = None
try:
    importlib.import_module("ulmlite._C")
except ImportError as err:  # not built, or built against another torch
    _load_error = str(err)


def extension_available() -> bool:
    """True when ulmlite._C loaded and its ops are registered."""
    return _load_error is None


def require_extension() -> None:
    """Raise one clear line when the extension is missing (with the import error behind it)."""
    if _load_error is not None:
        raise RuntimeError(f"{BUILD_HINT} (import failed: {_load_error})")


def autocast_dtype(device_type: str) -> torch.dtype:
    """The dtype autocast runs the fused ops in. float16 (CUDA autocast's default) is refused with a
    message that says what to do: the ops keep bfloat16's float32 cell state and sums, not float16's."""
    dtype = torch.get_autocast_dtype(device_type)
    if dtype == torch.float16:
        raise TypeError(f"ulmlite's fused ops run in float32, float64 or bfloat16, not float16: use "
                        f"torch.autocast({device_type!r}, dtype=torch.bfloat16) (float16 autocast is CUDA's default)")
    return dtype


def check_same_device(op: str, **tensors: torch.Tensor) -> None:
    """Fake kernels run for any mix of devices that includes `meta`; refuse a mix as the real ones do."""
    devices = {name: t.device for name, t in tensors.items()}
    if len(set(devices.values())) > 1:
        raise RuntimeError(f"{op}: all tensors must be on one device, got {devices}")
