"""restoolkit: residual networks for Keras 3, and the domain packages built on them."""

__version__ = "0.1.0"

from restoolkit.models import available, backbone, count_macs, count_params, create  # noqa: E402

__all__ = ["available", "backbone", "count_macs", "count_params", "create", "__version__"]
