"""restoolkit: residual networks for Keras 3, and the domain packages built on them.

Names are imported on first use (PEP 562), so ``restoolkit.errors`` and other light modules can be
imported without loading Keras and TensorFlow (DICOM decoding worker processes rely on this).
"""

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "available": "restoolkit.models", "backbone": "restoolkit.models", "count_macs": "restoolkit.models",
    "count_params": "restoolkit.models", "create": "restoolkit.models",
    "list_presets": "restoolkit.presets", "load_preset": "restoolkit.presets", "save_preset": "restoolkit.presets",
    "freeze": "restoolkit.pretrained", "load_backbone": "restoolkit.pretrained",
    "RestoolkitError": "restoolkit.errors",
}
__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'restoolkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
