"""The ResNet family as one builder: torchvision / timm, keras.applications v1 and v2, ResNet-D,
ResNeXt, wide ResNets, CIFAR ResNets, their plain twins and 3-D variants.

Every variant is a set of arguments to :func:`build_resnet`; the registry at the bottom names them.
"""

from __future__ import annotations

import keras

from restoolkit.layers import factories
from restoolkit.layers.blocks import BasicBlock, BottleneckBlock, PreActBlock, PreActBottleneckBlock
from restoolkit.models.registry import register

BLOCKS = {
    "basic": BasicBlock,
    "bottleneck": BottleneckBlock,
    "preact_basic": PreActBlock,
    "preact_bottleneck": PreActBottleneckBlock,
}
STEMS = ("imagenet", "deep", "cifar")
RESIDUAL_SCALINGS = ("none", "rezero", "layerscale", "decayed")

# keras.applications' ResNets use this epsilon and Keras' default momentum; torchvision 1e-5 / 0.9.
KERAS_APPS_NORM = {"name": "batch_norm", "epsilon": 1.001e-5, "momentum": 0.99}


def _stem(x, *, kind, width, rank, norm_layer, act_layer, use_bias, preactivation, dtype):
    """The stem; returns the tensor and its stride. Padding is symmetric, as in every reference."""
    conv = factories.conv_class(rank)
    pad = factories.zero_pad_class(rank)
    # A pre-activation stem ends with its convolution: the first block normalises it.
    stem_norm = None if preactivation else norm_layer
    bias = (stem_norm is None) if use_bias is None else use_bias

    def norm_act(y, i):
        norm = factories.make_norm(stem_norm, name=f"stem_norm{i}", dtype=dtype)
        act = None if preactivation else factories.make_act(act_layer, name=f"stem_act{i}", dtype=dtype)
        y = norm(y) if norm is not None else y
        return act(y) if act is not None else y

    if kind == "cifar":
        x = conv(width, 3, padding="same", use_bias=bias, name="stem_conv1", dtype=dtype)(x)
        return norm_act(x, 1), 1
    if kind == "imagenet":
        x = pad(3, name="stem_pad1", dtype=dtype)(x)
        x = conv(width, 7, strides=2, use_bias=bias, name="stem_conv1", dtype=dtype)(x)
        x = norm_act(x, 1)
    elif kind == "deep":
        # ResNet-D / timm "deep stem": three 3x3 convs, widths w/2, w/2, w.
        for i, (w, s) in enumerate(((width // 2, 2), (width // 2, 1), (width, 1)), start=1):
            if s > 1:
                x = pad(1, name=f"stem_pad{i}", dtype=dtype)(x)
            x = conv(w, 3, strides=s, padding="valid" if s > 1 else "same", use_bias=bias, name=f"stem_conv{i}", dtype=dtype)(x)
            x = norm_act(x, i)
    else:
        raise ValueError(f"stem must be one of {STEMS}, got {kind!r}")
    # Zero padding before the max pool equals PyTorch's -inf padding after a ReLU, and equals
    # keras.applications' ZeroPadding2D in the pre-activation stem.
    x = pad(1, name="stem_pool_pad", dtype=dtype)(x)
    x = factories.max_pool_class(rank)(3, strides=2, name="stem_pool", dtype=dtype)(x)
    return x, 4


def _identity_scales(n_blocks: int, residual_scaling: str, decay_min: float) -> list[float]:
    """Per-block identity multipliers: 1 everywhere, or falling linearly from 1 to ``decay_min``."""
    if residual_scaling != "decayed":
        return [1.0] * n_blocks
    if n_blocks == 1:
        return [1.0]
    return [1.0 - (1.0 - decay_min) * i / (n_blocks - 1) for i in range(n_blocks)]


def build_resnet(
    *,
    block: str,
    layers: tuple[int, ...],
    widths: tuple[int, ...] = (64, 128, 256, 512),
    strides: tuple[int, ...] | None = None,
    stem: str = "imagenet",
    stem_width: int = 64,
    downsample_in: str = "first",
    shortcut: str = "projection",
    residual: bool = True,
    num_classes: int = 1000,
    input_shape: tuple = (224, 224, 3),
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | None = "softmax",
    norm_layer="batch_norm",
    act_layer="relu",
    attn_layer=None,
    drop_path_rate: float = 0.0,
    zero_init_residual: bool = False,
    residual_scaling: str = "none",
    layerscale_init: float = 1e-5,
    decay_min: float = 0.7,
    use_bias: bool | None = None,
    groups: int = 1,
    base_width: int = 64,
    stride_on: str = "3x3",
    features: bool = False,
    dtype=None,
    name: str = "resnet",
):
    """Builds a ResNet-family model as a functional ``keras.Model``.

    Args:
        block: ``basic``, ``bottleneck``, ``preact_basic`` or ``preact_bottleneck``.
        layers: blocks per stage, e.g. ``(3, 4, 6, 3)``.
        widths: base width of each stage.
        strides: stride of each stage; default ``(1, 2, 2, ...)``.
        stem: ``imagenet`` (7×7/2 + max pool), ``deep`` (ResNet-D, three 3×3) or ``cifar`` (one 3×3).
        stem_width: output channels of the stem.
        downsample_in: ``first`` block of a stage strides (torchvision) or ``last`` (keras.applications
            ResNetV2, whose last block then uses a subsampling shortcut).
        shortcut: kind used where shapes change: ``projection``, ``zero_pad`` or ``avg_down``.
        residual: ``False`` builds the plain twin (same layers, no shortcuts).
        num_classes, input_shape, include_top, pooling, classifier_activation: as in keras.applications.
        norm_layer, act_layer, attn_layer: layer specs passed to every block and the stem.
        drop_path_rate: stochastic depth, rising linearly from 0 to this rate over the blocks (timm).
        zero_init_residual: start every block as the identity (last norm's gamma = 0).
        residual_scaling: ``none``, ``rezero``, ``layerscale`` or ``decayed`` (identity path scaled
            from 1 down to ``decay_min`` over depth, arXiv:2404.10947).
        layerscale_init: LayerScale initial value.
        decay_min: last block's identity multiplier for ``decayed``.
        use_bias: conv biases (``None``: only where no norm follows; keras.applications v1 uses True).
        groups, base_width, stride_on: bottleneck options (ResNeXt, wide, v1 layout).
        features: return a dict of multi-scale features ``C2``..``C5`` instead of a classifier.
        dtype: dtype policy of every layer (defaults to the global policy).
        name: model name.

    Returns:
        A ``keras.Model``.
    """
    if block not in BLOCKS:
        raise ValueError(f"block must be one of {sorted(BLOCKS)}, got {block!r}")
    if residual_scaling not in RESIDUAL_SCALINGS:
        raise ValueError(f"residual_scaling must be one of {RESIDUAL_SCALINGS}, got {residual_scaling!r}")
    if downsample_in not in ("first", "last"):
        raise ValueError(f"downsample_in must be 'first' or 'last', got {downsample_in!r}")
    if len(widths) != len(layers):
        raise ValueError(f"{len(layers)} stages but {len(widths)} widths")
    if not residual and (residual_scaling != "none" or drop_path_rate):
        raise ValueError("a plain network (residual=False) has no residual branch to scale or drop")
    strides = tuple(strides) if strides is not None else (1,) + (2,) * (len(layers) - 1)
    rank = len(input_shape) - 1
    block_cls = BLOCKS[block]
    preactivation = block_cls.preactivation
    n_blocks = sum(layers)
    id_scales = _identity_scales(n_blocks, residual_scaling, decay_min)
    branch_scale = residual_scaling if residual_scaling in ("rezero", "layerscale") else None
    extra = {"groups": groups, "base_width": base_width, "stride_on": stride_on} if block.endswith("bottleneck") else {}
    if block.endswith("basic") and (groups != 1 or base_width != 64):
        raise ValueError("groups and base_width apply to bottleneck blocks only")

    inputs = keras.Input(shape=tuple(input_shape), name="images")
    x, stride_now = _stem(
        inputs,
        kind=stem,
        width=stem_width,
        rank=rank,
        norm_layer=norm_layer,
        act_layer=act_layer,
        use_bias=use_bias,
        preactivation=preactivation,
        dtype=dtype,
    )
    levels = {stride_now: x}
    index = 0
    for s, (n, width, stage_stride) in enumerate(zip(layers, widths, strides, strict=True), start=1):
        for b in range(n):
            first, last = b == 0, b == n - 1
            stride = stage_stride if (first if downsample_in == "first" else last) else 1
            kind = shortcut
            # keras.applications ResNetV2 subsamples the identity in a stage's strided last block.
            if downsample_in == "last" and last and stride > 1:
                kind = "subsample"
            x = block_cls(
                width,
                stride=stride,
                shortcut=kind,
                residual=residual,
                norm_layer=norm_layer,
                act_layer=act_layer,
                attn_layer=attn_layer,
                drop_path=drop_path_rate * index / max(n_blocks - 1, 1),
                zero_init_residual=zero_init_residual,
                branch_scale=branch_scale,
                layerscale_init=layerscale_init,
                identity_scale=id_scales[index],
                use_bias=use_bias,
                name=f"stage{s}_block{b + 1}",
                dtype=dtype,
                **extra,
            )(x)
            stride_now *= stride
            levels[stride_now] = x
            index += 1
    if preactivation:
        norm = factories.make_norm(norm_layer, name="post_norm", dtype=dtype)
        x = norm(x) if norm is not None else x
        act = factories.make_act(act_layer, name="post_act", dtype=dtype)
        x = act(x) if act is not None else x
        levels[stride_now] = x

    if features:
        outputs = {f"C{k}": levels[2**k] for k in range(2, 6) if 2**k in levels}
        if len(outputs) < 4:
            raise ValueError(f"{name}: features C2..C5 need strides 4..32, this network has {sorted(levels)}")
        return keras.Model(inputs, outputs, name=name)
    if include_top:
        x = factories.global_avg_pool_class(rank)(name="avg_pool", dtype=dtype)(x)
        # The classifier runs in float32 under mixed precision (Keras' guidance for the last layer).
        x = keras.layers.Dense(num_classes, activation=classifier_activation, name="predictions", dtype="float32")(x)
    elif pooling == "avg":
        x = factories.global_avg_pool_class(rank)(name="avg_pool", dtype=dtype)(x)
    elif pooling == "max":
        x = {1: keras.layers.GlobalMaxPooling1D, 2: keras.layers.GlobalMaxPooling2D, 3: keras.layers.GlobalMaxPooling3D}[
            rank
        ](name="max_pool", dtype=dtype)(x)
    elif pooling is not None:
        raise ValueError(f"pooling must be None, 'avg' or 'max', got {pooling!r}")
    return keras.Model(inputs, x, name=name)


# ---------------------------------------------------------------------------------------------------
# The registry. Depth → blocks per stage, as in the papers.
_IMAGENET_DEPTHS = {18: ("basic", (2, 2, 2, 2)), 34: ("basic", (3, 4, 6, 3)), 50: ("bottleneck", (3, 4, 6, 3)),
                    101: ("bottleneck", (3, 4, 23, 3)), 152: ("bottleneck", (3, 8, 36, 3))}

for _d, (_block, _layers) in _IMAGENET_DEPTHS.items():
    # torchvision / timm topology (ResNet v1.5: stride on the 3x3, no conv biases).
    register(f"resnet{_d}", build_resnet, tags=("imagenet", "backbone"), block=_block, layers=_layers)
    # ResNet-D (Bag of Tricks): deep stem and average-pool shortcuts (timm's resnet*d).
    register(f"resnet{_d}d", build_resnet, tags=("imagenet", "backbone"), block=_block, layers=_layers,
             stem="deep", shortcut="avg_down")
    if _block == "bottleneck":
        # keras.applications.ResNet{50,101,152}: stride on the first 1x1, biases on every conv.
        register(f"resnet{_d}_v1", build_resnet, tags=("imagenet", "backbone", "keras_applications"), block=_block,
                 layers=_layers, stride_on="1x1", use_bias=True, norm_layer=KERAS_APPS_NORM)
        # keras.applications.ResNet{50,101,152}V2: pre-activation, stride in each stage's last block.
        register(f"resnet{_d}_v2", build_resnet, tags=("imagenet", "backbone", "keras_applications"),
                 block="preact_bottleneck", layers=_layers, strides=(2, 2, 2, 1), downsample_in="last",
                 norm_layer=KERAS_APPS_NORM)

for _d in (18, 34):
    register(f"plain{_d}", build_resnet, tags=("imagenet", "plain"), block="basic",
             layers=_IMAGENET_DEPTHS[_d][1], residual=False)

register("wide_resnet50_2", build_resnet, tags=("imagenet", "backbone"), block="bottleneck", layers=(3, 4, 6, 3),
         base_width=128)
register("wide_resnet101_2", build_resnet, tags=("imagenet", "backbone"), block="bottleneck", layers=(3, 4, 23, 3),
         base_width=128)
register("resnext50_32x4d", build_resnet, tags=("imagenet", "backbone"), block="bottleneck", layers=(3, 4, 6, 3),
         groups=32, base_width=4)
register("resnext101_32x8d", build_resnet, tags=("imagenet", "backbone"), block="bottleneck", layers=(3, 4, 23, 3),
         groups=32, base_width=8)
register("seresnet50", build_resnet, tags=("imagenet", "backbone"), block="bottleneck", layers=(3, 4, 6, 3),
         attn_layer="se")

# Slim ResNets for small inputs and CPU budgets: half the channels of every stage (timm's ``_050``
# suffix for a 0.5 width multiplier) and, for ResNet-10, one block per stage (timm's resnet10t depth).
# The road-scene detector uses resnet10_050: a training step at 128x384 costs 0.42x resnet18's.
register("resnet10_050", build_resnet, tags=("imagenet", "backbone", "slim"), block="basic", layers=(1, 1, 1, 1),
         widths=(32, 64, 128, 256), stem_width=32)
register("resnet18_050", build_resnet, tags=("imagenet", "backbone", "slim"), block="basic", layers=(2, 2, 2, 2),
         widths=(32, 64, 128, 256), stem_width=32)

# CIFAR ResNets (He et al. 2016, section 4.2): 6n + 2 layers, widths 16/32/64, option A shortcuts.
_CIFAR = dict(block="basic", widths=(16, 32, 64), stem="cifar", stem_width=16, input_shape=(32, 32, 3),
              num_classes=10)
for _d in (20, 32, 44, 56, 110, 1202):
    _n = (_d - 2) // 6
    register(f"cifar_resnet{_d}", build_resnet, tags=("cifar",), layers=(_n,) * 3, shortcut="zero_pad", **_CIFAR)
    if _d != 1202:
        register(f"cifar_plain{_d}", build_resnet, tags=("cifar", "plain"), layers=(_n,) * 3, residual=False,
                 **_CIFAR)

# 3-D ResNets for volumes (MedicalNet / Med3D depths), channels last: (D, H, W, C).
_3D = dict(input_shape=(64, 64, 64, 1), num_classes=2)
register("resnet10_3d", build_resnet, tags=("3d", "backbone"), block="basic", layers=(1, 1, 1, 1), **_3D)
register("resnet18_3d", build_resnet, tags=("3d", "backbone"), block="basic", layers=(2, 2, 2, 2), **_3D)
register("resnet34_3d", build_resnet, tags=("3d", "backbone"), block="basic", layers=(3, 4, 6, 3), **_3D)
register("resnet50_3d", build_resnet, tags=("3d", "backbone"), block="bottleneck", layers=(3, 4, 6, 3), **_3D)
