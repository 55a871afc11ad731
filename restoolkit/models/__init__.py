"""Model registry, ResNet family, backbones and complexity counts."""

from restoolkit.models import ft_transformer as _ft_transformer  # noqa: F401  (registers the FT-Transformer)
from restoolkit.models import language as _language  # noqa: F401  (registers the character transformer)
from restoolkit.models import mlp as _mlp  # noqa: F401  (registers the tabular networks)
from restoolkit.models import resnet as _resnet  # noqa: F401  (registers the ResNet family)
from restoolkit.models.backbone import backbone
from restoolkit.models.complexity import count_macs, count_params
from restoolkit.models.registry import available, create, entry, register

__all__ = ["available", "backbone", "count_macs", "count_params", "create", "entry", "register"]
