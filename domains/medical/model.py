"""Residual classifiers for DICOM images (2-D) and volumes (3-D), any channel count."""

from __future__ import annotations

import os

import keras

from restoolkit.models import create, entry
from restoolkit.weights import transfer_weights


def build_classifier(
    backbone: str = "resnet18",
    *,
    input_shape=(224, 224, 1),
    num_classes: int = 1,
    weights=None,
    dropout: float = 0.0,
    adapt: str = "auto",
    **overrides,
) -> keras.Model:
    """A registry backbone, global average pooling and a classification head.

    Args:
        backbone: a registry name (``resnet18``, ``resnet50``, ``resnet18_3d``…). A ``*_3d`` name needs a
            4-D ``input_shape`` ``(D, H, W, C)``.
        input_shape: ``(H, W, C)`` or ``(D, H, W, C)``; any channel count.
        num_classes: ``1`` gives one sigmoid output (the probability of the finding); more gives softmax.
        weights: ``None``, a ``keras.Model``, a preset folder (``restoolkit.presets``) or a ``.keras`` file
            of the same backbone (any channel count, any head): its weights are copied by name; a 3-channel stem is adapted to
            ``input_shape``'s channels (summed for 1 channel, repeated and scaled for more).
        dropout: dropout before the head.
        adapt: ``auto``, ``sum`` or ``repeat`` (see :func:`restoolkit.weights.adapt_input_channels`).
        **overrides: architecture options passed to the registry entry (``drop_path_rate``…).

    Returns:
        An uncompiled ``keras.Model`` whose last layer is ``predictions`` (float32).

    Example:
        >>> model = build_classifier("resnet18", input_shape=(128, 128, 1))
        >>> model.output_shape
        (None, 1)
    """
    is_3d = "3d" in entry(backbone).tags
    if is_3d != (len(input_shape) == 4):
        raise ValueError(f"{backbone!r} takes {'(D, H, W, C)' if is_3d else '(H, W, C)'} inputs, got {tuple(input_shape)}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    features = create(backbone, input_shape=tuple(input_shape), include_top=False, pooling="avg",
                      name=f"{backbone}_classifier", **overrides)
    x = features.output
    if dropout:
        x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="sigmoid" if num_classes == 1 else "softmax",
                                 dtype="float32", name="predictions")(x)
    model = keras.Model(features.input, outputs, name=features.name)
    if weights is not None:
        source = weights
        if isinstance(weights, str | os.PathLike):
            if os.path.isdir(weights):
                from restoolkit.presets import load_preset

                source = load_preset(weights)
            elif str(weights).endswith(".keras"):
                source = keras.saving.load_model(weights, safe_mode=True, compile=False)
            else:
                raise ValueError(f"weights must be a keras.Model, a preset folder or a .keras file, got {weights!r}")
        transfer_weights(source, model, adapt=adapt)
    return model
