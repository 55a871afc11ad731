"""Squeeze-and-excitation channel attention (Hu et al. 2018)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="restoolkit")
class SqueezeExcite(keras.layers.Layer):
    """Reweights channels by a gate computed from their global average.

    Works for any spatial rank (channels last): mean over spatial axes → dense(C/r) → ReLU →
    dense(C) → sigmoid → multiply.

    Args:
        ratio: channel reduction ratio ``r`` (16 in the paper; timm's SE-ResNet uses 1/16 too).
        min_channels: lower bound on the reduced width.

    Example:
        >>> y = SqueezeExcite(ratio=4)(keras.ops.ones((2, 8, 8, 32)))
    """

    def __init__(self, ratio: int = 16, min_channels: int = 8, **kwargs):
        super().__init__(**kwargs)
        self.ratio = int(ratio)
        self.min_channels = int(min_channels)

    def build(self, input_shape):
        channels = int(input_shape[-1])
        hidden = max(self.min_channels, channels // self.ratio)
        self.reduce = keras.layers.Dense(hidden, activation="relu", name="reduce", dtype=self.dtype_policy)
        self.expand = keras.layers.Dense(channels, activation="sigmoid", name="expand", dtype=self.dtype_policy)
        self.reduce.build((None, channels))
        self.expand.build((None, hidden))

    def call(self, inputs):
        spatial_axes = tuple(range(1, len(inputs.shape) - 1))
        squeezed = ops.mean(inputs, axis=spatial_axes)
        gate = self.expand(self.reduce(squeezed))
        gate = ops.reshape(gate, (-1,) + (1,) * len(spatial_axes) + (inputs.shape[-1],))
        return inputs * ops.cast(gate, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "ratio": self.ratio, "min_channels": self.min_channels}
