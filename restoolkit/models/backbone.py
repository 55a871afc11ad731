"""Multi-scale feature backbones (``C2``..``C5``) from any registry entry with an ImageNet-style stem."""

from __future__ import annotations

import os

from restoolkit.models.registry import entry


def backbone(name: str, *, input_shape=(224, 224, 3), weights=None, **overrides):
    """A model whose output is ``{"C2": …, "C3": …, "C4": …, "C5": …}`` at strides 4, 8, 16, 32.

    Args:
        name: a registry name with strides 4..32 (``resnet*``, ``resnext*``, ``*_3d``…).
        input_shape: ``(H, W, C)`` or ``(D, H, W, C)``; any number of channels (1 for DICOM).
        weights: ``None`` (random initialisation) or a ``.weights.h5`` file saved from the same
            backbone. ImageNet and torchvision weights come through :func:`restoolkit.load_backbone`.
        **overrides: architecture overrides, as for :func:`create`.

    Returns:
        A ``keras.Model`` with a ``feature_info`` attribute: a list of
        ``{"name", "channels", "stride"}`` per level.

    Example:
        >>> model = backbone("resnet18", input_shape=(128, 256, 1))
        >>> [(f["name"], f["channels"], f["stride"]) for f in model.feature_info]
        [('C2', 64, 4), ('C3', 128, 8), ('C4', 256, 16), ('C5', 512, 32)]
    """
    e = entry(name)
    if "backbone" not in e.tags:
        raise ValueError(f"{name!r} has no C2..C5 feature pyramid; backbones: tag 'backbone' in available()")
    model = e.builder(**{**e.defaults, **overrides, "input_shape": tuple(input_shape), "features": True,
                         "name": f"{name}_backbone"})
    if weights is not None:
        path = os.fspath(weights)
        if not path.endswith(".weights.h5"):
            raise ValueError(f"backbone weights must be a .weights.h5 file, got {path!r}")
        if not os.path.exists(path):
            raise FileNotFoundError(f"backbone weights file not found: {path}")
        model.load_weights(path)
    model.feature_info = feature_info(model)
    return model


def feature_info(model) -> list[dict]:
    """Channels and stride of each output level of a feature model (level ``Ck`` has stride ``2**k``)."""
    return [
        {"name": level, "channels": int(tensor.shape[-1]), "stride": 2 ** int(level[1:])}
        for level, tensor in sorted(model.output.items())
    ]
