"""restoolkit: residual networks for Keras 3, and the domain packages built on them."""

__version__ = "0.1.0"

from restoolkit.models import available, backbone, count_macs, count_params, create  # noqa: E402
from restoolkit.presets import list_presets, load_preset, save_preset  # noqa: E402
from restoolkit.pretrained import freeze, load_backbone  # noqa: E402

__all__ = ["available", "backbone", "count_macs", "count_params", "create", "freeze", "list_presets", "load_backbone",
           "load_preset", "save_preset", "__version__"]
