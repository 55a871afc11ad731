"""Residual blocks: one implementation for basic, bottleneck and pre-activation blocks in 1, 2 or 3-D.

A block computes ``out = act(identity_scale * shortcut(x) + drop_path(scale(attn(F(x)))))`` in the
post-activation layout (He et al. 2016a), or ``identity_scale * shortcut(·) + F(act(norm(x)))`` in the
pre-activation layout (He et al. 2016b). The subclasses only say what ``F`` is made of (their
convolutions); everything else — shortcut kind, norm / activation / attention layers, stochastic
depth, residual scaling, zero-init, and the plain twin with no shortcut at all — is shared, so no
option silently disappears in one variant.

Padding is symmetric (``(k - 1) // 2`` zeros on each side, as PyTorch and keras.applications' ZeroPadding
do) rather than Keras ``"same"``, which pads bottom/right only for strided convolutions: that is what
makes torchvision / timm / keras.applications weights load exactly.
"""

from __future__ import annotations

import keras
from keras import ops

from restoolkit.layers import factories
from restoolkit.layers.scaling import make_branch_scale
from restoolkit.layers.shortcuts import SHORTCUT_KINDS, Shortcut
from restoolkit.layers.stochastic_depth import StochasticDepth


def symmetric_pad(x, kernel_size: int, stride: int):
    """Zero-pads every spatial axis by ``(kernel_size - 1) // 2`` on both sides when striding.

    Stride-1 convolutions use ``padding="same"`` instead (identical for odd kernels), so this only
    runs where Keras' asymmetric ``"same"`` would differ from PyTorch.
    """
    pad = (kernel_size - 1) // 2
    if pad == 0:
        return x
    return ops.pad(x, [[0, 0]] + [[pad, pad]] * (len(x.shape) - 2) + [[0, 0]])


class ResidualBlock(keras.layers.Layer):
    """Base class of the convolutional residual blocks. Subclasses define :meth:`conv_specs`.

    Args:
        filters: base width; the block outputs ``filters * expansion`` channels.
        stride: spatial stride of the block.
        shortcut: ``"auto"`` (identity when shapes match, else projection) or one of
            :data:`restoolkit.layers.shortcuts.SHORTCUT_KINDS`. A kind that changes shapes is used only
            where shapes change; elsewhere the shortcut is the identity.
        residual: ``False`` builds the plain twin: the same layers, no shortcut and no addition.
        norm_layer: norm spec (see :mod:`restoolkit.layers.factories`); ``"none"`` removes norms.
        act_layer: activation spec.
        attn_layer: channel-attention spec applied to the branch (``"se"``), or ``None``.
        drop_path: stochastic-depth rate of the branch.
        zero_init_residual: the branch's last norm (or, pre-activation, its last convolution) starts at
            zero, so the block starts as the identity (Goyal et al. 2017).
        branch_scale: ``None``, ``"rezero"`` (scalar, init 0) or ``"layerscale"`` (per channel).
        layerscale_init: initial LayerScale value.
        identity_scale: fixed multiplier of the identity path (decayed identity, arXiv:2404.10947).
        use_bias: conv biases: ``None`` puts one only where no norm follows; ``True`` everywhere
            (keras.applications ResNet v1); ``False`` nowhere.
        shortcut_norm: norm on the projection shortcut; defaults to ``norm_layer`` (post-activation)
            or none (pre-activation, where the shortcut reads normalised input).
    """

    expansion = 1
    preactivation = False

    def __init__(
        self,
        filters: int,
        stride: int = 1,
        shortcut: str = "auto",
        residual: bool = True,
        norm_layer="batch_norm",
        act_layer="relu",
        attn_layer=None,
        drop_path: float = 0.0,
        zero_init_residual: bool = False,
        branch_scale: str | None = None,
        layerscale_init: float = 1e-5,
        identity_scale: float = 1.0,
        use_bias: bool | None = None,
        shortcut_norm="default",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if shortcut != "auto" and shortcut not in SHORTCUT_KINDS:
            raise ValueError(f"shortcut must be 'auto' or one of {SHORTCUT_KINDS}, got {shortcut!r}")
        if not residual and (branch_scale not in (None, "none") or identity_scale != 1.0 or drop_path):
            raise ValueError(
                "a plain block (residual=False) has no branch to scale or drop: "
                "branch_scale, identity_scale and drop_path need residual=True"
            )
        self.filters = int(filters)
        self.stride = int(stride)
        self.shortcut_kind = shortcut
        self.residual = bool(residual)
        self.norm_layer = factories.normalize_spec(norm_layer)
        self.act_layer = factories.normalize_spec(act_layer)
        self.attn_layer = factories.normalize_spec(attn_layer)
        self.drop_path = float(drop_path)
        self.zero_init_residual = bool(zero_init_residual)
        self.branch_scale = None if branch_scale in (None, "none") else branch_scale
        self.layerscale_init = float(layerscale_init)
        self.identity_scale = float(identity_scale)
        self.use_bias = use_bias
        self.shortcut_norm = shortcut_norm if shortcut_norm == "default" else factories.normalize_spec(shortcut_norm)
        # Set by diagnostics.lesion: the block then returns its shortcut only (Veit et al. 2016).
        self.lesioned = False

    # -- what subclasses define --------------------------------------------------------------------
    def conv_specs(self) -> list[tuple[int, int, int, int]]:
        """The branch's convolutions as ``(filters, kernel_size, stride, groups)``."""
        raise NotImplementedError

    @property
    def out_channels(self) -> int:
        return self.filters * self.expansion

    # -- construction ------------------------------------------------------------------------------
    def _bias(self, followed_by_norm: bool) -> bool:
        if self.use_bias is None:
            return not followed_by_norm
        return bool(self.use_bias)

    def _resolve_shortcut(self, in_channels: int) -> str:
        shapes_match = self.stride == 1 and in_channels == self.out_channels
        if shapes_match:
            return "identity"
        if self.shortcut_kind in ("auto", "identity"):
            return "projection"
        return self.shortcut_kind

    def build(self, input_shape):
        rank = len(input_shape) - 2
        in_channels = int(input_shape[-1])
        dtype = self.dtype_policy
        has_norm = self.norm_layer is not None
        conv_cls = factories.conv_class(rank)
        specs = self.conv_specs()
        self.convs, self.norms, self.acts = [], [], []
        self.preact_norm = self.preact_act = None
        if self.preactivation:
            self.preact_norm = factories.make_norm(self.norm_layer, name="preact_norm", dtype=dtype)
            self.preact_act = factories.make_act(self.act_layer, name="preact_act", dtype=dtype)
        for i, (filters, kernel, stride, groups) in enumerate(specs, start=1):
            last = i == len(specs)
            norm_follows = has_norm and not (self.preactivation and last)
            kernel_init = "zeros" if (last and self.preactivation and self.zero_init_residual) else "he_normal"
            self.convs.append(
                conv_cls(
                    filters,
                    kernel,
                    strides=stride,
                    groups=groups,
                    padding="same" if stride == 1 else "valid",
                    use_bias=self._bias(norm_follows),
                    kernel_initializer=kernel_init,
                    name=f"conv{i}",
                    dtype=dtype,
                )
            )
            if norm_follows:
                gamma_zero = last and self.zero_init_residual
                self.norms.append(factories.make_norm(self.norm_layer, name=f"norm{i}", dtype=dtype, gamma_zero=gamma_zero))
            else:
                self.norms.append(None)
            # In the post-activation layout the last activation comes after the addition.
            if not last:
                self.acts.append(factories.make_act(self.act_layer, name=f"act{i}", dtype=dtype))
        self.attn = factories.make_attn(self.attn_layer, name="attn", dtype=dtype)
        self.scale = make_branch_scale(self.branch_scale, layerscale_init=self.layerscale_init, name="scale", dtype=dtype)
        self.drop = StochasticDepth(self.drop_path, name="drop_path", dtype=dtype) if self.drop_path else None
        self.out_act = None if self.preactivation else factories.make_act(self.act_layer, name="out_act", dtype=dtype)
        self.shortcut = None
        if self.residual:
            kind = self._resolve_shortcut(in_channels)
            if self.shortcut_norm == "default":
                shortcut_norm = None if self.preactivation else self.norm_layer
            else:
                shortcut_norm = self.shortcut_norm
            self.shortcut = Shortcut(
                kind,
                filters=self.out_channels,
                stride=self.stride,
                norm_layer=shortcut_norm,
                use_bias=self._bias(shortcut_norm is not None),
                name="shortcut",
                dtype=dtype,
            )
        factories.build_sublayers(self, input_shape)

    # -- forward -----------------------------------------------------------------------------------
    def _norm_act(self, x, norm, act, training):
        if norm is not None:
            x = norm(x, training=training)
        if act is not None:
            x = act(x)
        return x

    def _conv(self, x, i):
        conv = self.convs[i]
        if conv.strides[0] > 1:
            x = symmetric_pad(x, conv.kernel_size[0], conv.strides[0])
        return conv(x)

    def _pre(self, x, training):
        """The pre-activated input (pre-activation layout) or ``x`` itself."""
        if not self.preactivation:
            return x
        return self._norm_act(x, self.preact_norm, self.preact_act, training)

    def _branch(self, x_pre, training):
        """The residual branch F, from the (pre-activated) input, before any scaling."""
        y = x_pre
        n = len(self.convs)
        for i in range(n):
            if self.preactivation and i > 0:
                y = self._norm_act(y, self.norms[i - 1], self.acts[i - 1], training)
            y = self._conv(y, i)
            if not self.preactivation:
                y = self._norm_act(y, self.norms[i], self.acts[i] if i < n - 1 else None, training)
        if self.attn is not None:
            y = self.attn(y)
        return y

    def _skip(self, x, x_pre, training):
        # Pre-activation blocks feed a convolutional shortcut the normalised input (He et al. 2016b,
        # keras.applications ResNetV2); a parameter-free shortcut takes the raw input.
        reads_pre = self.preactivation and self.shortcut.kind in ("projection", "avg_down")
        return self.shortcut(x_pre if reads_pre else x, training=training)

    def residual_parts(self, inputs, training=False):
        """Returns ``(branch, identity)``: F(x) after scaling and the scaled shortcut, before the sum.

        Diagnostics use it to measure ``‖F(x)‖ / ‖x‖``; for a plain block ``identity`` is ``None``.
        """
        if not hasattr(self, "convs"):  # called before the layer was built (not during build)
            self.build(tuple(inputs.shape))
        x_pre = self._pre(inputs, training)
        y = self._branch(x_pre, training)
        if self.scale is not None:
            y = self.scale(y)
        if self.drop is not None:
            y = self.drop(y, training=training)
        if self.shortcut is None:
            return y, None
        skip = self._skip(inputs, x_pre, training)
        if self.identity_scale != 1.0:
            skip = skip * ops.cast(self.identity_scale, skip.dtype)
        return y, skip

    def call(self, inputs, training=None):
        if self.lesioned:
            if self.shortcut is None:
                raise ValueError(f"block {self.name!r} has no shortcut: a plain block cannot be lesioned")
            skip = self._skip(inputs, self._pre(inputs, training), training)
            out = skip * ops.cast(self.identity_scale, skip.dtype) if self.identity_scale != 1.0 else skip
        else:
            y, skip = self.residual_parts(inputs, training=training)
            out = y if skip is None else ops.add(skip, y)
        if self.out_act is not None:
            out = self.out_act(out)
        return out


    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "stride": self.stride,
            "shortcut": self.shortcut_kind,
            "residual": self.residual,
            "norm_layer": self.norm_layer,
            "act_layer": self.act_layer,
            "attn_layer": self.attn_layer,
            "drop_path": self.drop_path,
            "zero_init_residual": self.zero_init_residual,
            "branch_scale": self.branch_scale,
            "layerscale_init": self.layerscale_init,
            "identity_scale": self.identity_scale,
            "use_bias": self.use_bias,
            "shortcut_norm": self.shortcut_norm,
        }


@keras.saving.register_keras_serializable(package="restoolkit")
class BasicBlock(ResidualBlock):
    """Two 3×3 convolutions (ResNet-18/34, CIFAR ResNets).

    Example:
        >>> block = BasicBlock(64, stride=2, shortcut="zero_pad")
        >>> block(keras.ops.ones((1, 32, 32, 32))).shape
        (1, 16, 16, 64)
    """

    def conv_specs(self):
        return [(self.filters, 3, self.stride, 1), (self.filters, 3, 1, 1)]


@keras.saving.register_keras_serializable(package="restoolkit")
class BottleneckBlock(ResidualBlock):
    """1×1 reduce → 3×3 (grouped) → 1×1 expand ×4 (ResNet-50+, ResNeXt, wide ResNet).

    Args:
        groups: groups of the 3×3 convolution (ResNeXt cardinality).
        base_width: width per group; the 3×3 width is ``filters * base_width / 64 * groups``
            (torchvision's convention: ``resnext50_32x4d`` is groups 32, base_width 4;
            ``wide_resnet50_2`` is base_width 128).
        stride_on: ``"3x3"`` (ResNet v1.5, torchvision, timm) or ``"1x1"`` (the original paper and
            keras.applications ResNet50).
        **kwargs: see :class:`ResidualBlock`.

    Example:
        >>> BottleneckBlock(64)(keras.ops.ones((1, 8, 8, 64))).shape
        (1, 8, 8, 256)
    """

    expansion = 4

    def __init__(self, filters: int, groups: int = 1, base_width: int = 64, stride_on: str = "3x3", **kwargs):
        super().__init__(filters, **kwargs)
        if stride_on not in ("3x3", "1x1"):
            raise ValueError(f"stride_on must be '3x3' or '1x1', got {stride_on!r}")
        self.groups = int(groups)
        self.base_width = int(base_width)
        self.stride_on = stride_on

    @property
    def width(self) -> int:
        return int(self.filters * (self.base_width / 64.0)) * self.groups

    def conv_specs(self):
        s1, s3 = (self.stride, 1) if self.stride_on == "1x1" else (1, self.stride)
        return [(self.width, 1, s1, 1), (self.width, 3, s3, self.groups), (self.out_channels, 1, 1, 1)]

    def get_config(self):
        return {**super().get_config(), "groups": self.groups, "base_width": self.base_width, "stride_on": self.stride_on}


@keras.saving.register_keras_serializable(package="restoolkit")
class PreActBlock(BasicBlock):
    """Pre-activation basic block (ResNet v2, He et al. 2016b): norm → act → conv, twice."""

    preactivation = True


@keras.saving.register_keras_serializable(package="restoolkit")
class PreActBottleneckBlock(BottleneckBlock):
    """Pre-activation bottleneck (keras.applications ResNet50V2 / timm ResNetV2)."""

    preactivation = True
