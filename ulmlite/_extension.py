"""Loading the compiled extension `ulmlite._C`, which registers the `torch.ops.ulmlite.*` ops.

Everything except the fused backend works without it, so a failed import is remembered, not raised.
"""

import importlib

import torch  # noqa: F401  (loads libtorch, which ulmlite._C links against)

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
