"""Shortcut (skip) paths of residual blocks.

Kinds, in the vocabulary of He et al. (2016) and Bag of Tricks (He et al. 2019):

- ``"identity"``: the input unchanged (shapes must already match).
- ``"projection"``: 1×1 convolution with the block's stride, then norm ("option B").
- ``"zero_pad"``: strided subsampling plus zero channels, no parameters ("option A", CIFAR nets).
- ``"avg_down"``: average pool with the stride, then 1×1 convolution and norm (ResNet-D).
- ``"subsample"``: strided subsampling only, for a stride with unchanged width (keras.applications'
  ResNetV2 uses it in the last block of each stage).
"""

from __future__ import annotations

import keras
from keras import ops

from restoolkit.layers import factories

SHORTCUT_KINDS = ("identity", "projection", "zero_pad", "avg_down", "subsample")


def subsample(x, stride: int):
    """Keeps every ``stride``-th position on each spatial axis, starting at the first."""
    if stride == 1:
        return x
    rank = len(x.shape) - 2
    return x[(slice(None),) + (slice(None, None, stride),) * rank + (slice(None),)]


@keras.saving.register_keras_serializable(package="restoolkit")
class Shortcut(keras.layers.Layer):
    """The skip path of a residual block; see the module docstring for the kinds.

    Args:
        kind: one of ``identity``, ``projection``, ``zero_pad``, ``avg_down``, ``subsample``.
        filters: output channels.
        stride: spatial stride (same on every axis).
        norm_layer: norm spec after the 1×1 convolution (``projection`` / ``avg_down``); ``"none"``
            for a bare convolution, as in pre-activation blocks.
        use_bias: whether the 1×1 convolution has a bias.

    Example:
        >>> Shortcut("zero_pad", filters=32, stride=2)(keras.ops.ones((1, 8, 8, 16))).shape
        (1, 4, 4, 32)
    """

    def __init__(
        self,
        kind: str = "identity",
        filters: int | None = None,
        stride: int = 1,
        norm_layer="batch_norm",
        use_bias: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if kind not in SHORTCUT_KINDS:
            raise ValueError(f"shortcut kind must be one of {SHORTCUT_KINDS}, got {kind!r}")
        self.kind = kind
        self.filters = filters
        self.stride = int(stride)
        self.norm_layer = factories.normalize_spec(norm_layer)
        self.use_bias = bool(use_bias)
        self.pool = self.conv = self.norm = None

    def build(self, input_shape):
        rank = len(input_shape) - 2
        in_channels = int(input_shape[-1])
        filters = self.filters or in_channels
        same_width = filters == in_channels
        if self.kind == "identity" and (self.stride != 1 or not same_width):
            raise ValueError(
                f"an identity shortcut needs stride 1 and equal widths, got stride {self.stride}, "
                f"{in_channels} → {filters} channels; use projection, zero_pad or avg_down"
            )
        if self.kind == "subsample" and not same_width:
            raise ValueError(f"a subsample shortcut keeps the width, got {in_channels} → {filters} channels")
        if self.kind == "zero_pad" and filters < in_channels:
            raise ValueError(f"a zero_pad shortcut cannot reduce width ({in_channels} → {filters})")
        if self.kind in ("projection", "avg_down"):
            conv_stride = self.stride if self.kind == "projection" else 1
            if self.kind == "avg_down" and self.stride > 1:
                # Pooled in float32: TensorFlow has no float16 AvgPool3D kernel on CPU, and the
                # cost is negligible (one pooling per stage).
                self.pool = factories.avg_pool_class(rank)(
                    pool_size=self.stride, strides=self.stride, padding="same", name="pool", dtype="float32"
                )
            self.conv = factories.conv_class(rank)(
                filters, 1, strides=conv_stride, use_bias=self.use_bias, name="conv", dtype=self.dtype_policy
            )
            self.norm = factories.make_norm(self.norm_layer, name="norm", dtype=self.dtype_policy)
            factories.build_sublayers(self, input_shape)

    def call(self, inputs, training=None):
        if self.kind == "identity":
            return inputs
        if self.kind == "subsample":
            return subsample(inputs, self.stride)
        if self.kind == "zero_pad":
            x = subsample(inputs, self.stride)
            extra = (self.filters or inputs.shape[-1]) - inputs.shape[-1]
            if extra:
                pads = [[0, 0]] * (len(x.shape) - 1) + [[extra // 2, extra - extra // 2]]
                x = ops.pad(x, pads)
            return x
        x = inputs
        if self.pool is not None:
            x = self.pool(x)
        x = self.conv(x)
        if self.norm is not None:
            x = self.norm(x, training=training)
        return x


    def get_config(self):
        return {
            **super().get_config(),
            "kind": self.kind,
            "filters": self.filters,
            "stride": self.stride,
            "norm_layer": self.norm_layer,
            "use_bias": self.use_bias,
        }
