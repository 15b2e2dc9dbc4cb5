"""ulmlite: ULMFiT (Howard & Ruder 2018, "Universal Language Model Fine-tuning for Text
Classification") rebuilt from scratch, small and readable, with a fused C++/CUDA LSTM.

The package imports without its compiled extension; only the `fused` LSTM backend needs it.
"""

from ulmlite._extension import extension_available, require_extension

__version__ = "0.1.0"
__all__ = ["extension_available", "require_extension", "__version__"]
