"""Moving weights between keras.applications ResNets and ours.

Our ``resnet{50,101,152}_v1`` and ``_v2`` entries are layer-for-layer the keras.applications
architectures; this module pairs their layers by name and copies the weights.
"""

from __future__ import annotations

import re

import keras

_DEPTH_BY_LAYERS = {(3, 4, 6, 3): 50, (3, 4, 23, 3): 101, (3, 8, 36, 3): 152}


def _keras_apps_arch(source: keras.Model) -> tuple[int, str]:
    """Depth and version (``v1``/``v2``) of a keras.applications ResNet, read from its layer names."""
    names = {layer.name for layer in source.layers}
    counts = []
    for stage in range(2, 6):
        counts.append(sum(bool(re.fullmatch(rf"conv{stage}_block\d+_1_conv", n)) for n in names))
    depth = _DEPTH_BY_LAYERS.get(tuple(counts))
    if depth is None or "conv1_conv" not in names:
        raise ValueError(
            f"{source.name!r} is not a keras.applications ResNet50/101/152 or ResNet50V2/101V2/152V2 "
            f"(blocks per stage {counts})"
        )
    return depth, ("v2" if "post_bn" in names else "v1")


def keras_applications_pairs(model: keras.Model, version: str) -> list[tuple[keras.layers.Layer, str]]:
    """Each weighted layer of our model with the name of its keras.applications counterpart."""
    pairs = [(model.get_layer("stem_conv1"), "conv1_conv")]
    if version == "v1":
        pairs.append((model.get_layer("stem_norm1"), "conv1_bn"))
    for layer in model.layers:
        match = re.fullmatch(r"stage(\d+)_block(\d+)", layer.name)
        if not match:
            continue
        prefix = f"conv{int(match.group(1)) + 1}_block{match.group(2)}"
        if layer.preact_norm is not None:
            pairs.append((layer.preact_norm, f"{prefix}_preact_bn"))
        for i, (conv, norm) in enumerate(zip(layer.convs, layer.norms, strict=True), start=1):
            pairs.append((conv, f"{prefix}_{i}_conv"))
            if norm is not None:
                pairs.append((norm, f"{prefix}_{i}_bn"))
        if layer.shortcut is not None and layer.shortcut.conv is not None:
            pairs.append((layer.shortcut.conv, f"{prefix}_0_conv"))
            if layer.shortcut.norm is not None:
                pairs.append((layer.shortcut.norm, f"{prefix}_0_bn"))
    if version == "v2":
        pairs.append((model.get_layer("post_norm"), "post_bn"))
    if any(layer.name == "predictions" for layer in model.layers):
        pairs.append((model.get_layer("predictions"), "predictions"))
    return pairs


def from_keras_applications(source: keras.Model) -> keras.Model:
    """Our equivalent of a keras.applications ResNet, carrying its weights.

    Args:
        source: a ``keras.applications.ResNet50/101/152`` or ``ResNet50V2/101V2/152V2`` instance
            (any ``include_top`` / ``pooling`` / input shape / class count).

    Returns:
        The matching ``resnet{depth}_v1`` or ``_v2`` model from our registry, same input shape and
        head, whose outputs equal the source's up to float rounding.

    Example:
        >>> src = keras.applications.ResNet50(weights=None, input_shape=(64, 64, 3))
        >>> ours = from_keras_applications(src)
    """
    from restoolkit.models import create

    depth, version = _keras_apps_arch(source)
    include_top = any(layer.name == "predictions" for layer in source.layers)
    kwargs = {"input_shape": tuple(source.input_shape[1:]), "include_top": include_top}
    if include_top:
        head = source.get_layer("predictions")
        kwargs["num_classes"] = head.units
        kwargs["classifier_activation"] = keras.activations.serialize(head.activation)
    else:
        pools = {"avg_pool": "avg", "max_pool": "max"}
        kwargs["pooling"] = pools.get(source.layers[-1].name)
    model = create(f"resnet{depth}_{version}", **kwargs)
    for ours, theirs_name in keras_applications_pairs(model, version):
        theirs = source.get_layer(theirs_name).get_weights()
        mine = ours.get_weights()
        if [w.shape for w in mine] != [w.shape for w in theirs]:
            raise ValueError(
                f"shape mismatch between our {ours.path!r} {[w.shape for w in mine]} and "
                f"keras.applications {theirs_name!r} {[w.shape for w in theirs]}"
            )
        ours.set_weights(theirs)
    return model


def adapt_input_channels(kernel, in_channels: int, *, mode: str = "auto"):
    """A first-layer kernel ``(*spatial, C_in, C_out)`` adapted to ``in_channels`` inputs.

    ``sum`` (to 1 channel) keeps a grey image's response equal to the colour model's on the same grey
    image repeated three times; ``repeat`` tiles the input channels and scales by ``C_in / in_channels``
    so the activation scale is kept (timm's ``adapt_input_conv``). ``auto`` sums for 1 channel and
    repeats otherwise.
    """
    import numpy as np

    kernel = np.asarray(kernel)
    have = kernel.shape[-2]
    if in_channels == have:
        return kernel
    if mode == "auto":
        mode = "sum" if in_channels == 1 else "repeat"
    if mode == "sum":
        if in_channels != 1:
            raise ValueError("mode='sum' adapts to 1 channel; use 'repeat' for more")
        return kernel.sum(axis=-2, keepdims=True)
    if mode == "repeat":
        reps = -(-in_channels // have)
        tiled = np.concatenate([kernel] * reps, axis=-2)[..., :in_channels, :]
        return tiled * (have / in_channels)
    raise ValueError(f"mode must be 'auto', 'sum' or 'repeat', got {mode!r}")


def transfer_weights(source: keras.Model, target: keras.Model, *, adapt: str = "auto",
                     reset=("predictions",)) -> dict[str, list[str]]:
    """Copies weights from ``source`` into ``target`` by weight path (``stage1_block1/conv1/kernel``…).

    A kernel whose only difference is the input-channel axis of the first convolution is adapted
    with :func:`adapt_input_channels`. Weights under a layer named in ``reset`` (the classifier head)
    are left as initialised when their shapes differ or they are absent. Any other difference raises: a silently
    half-loaded backbone is the bug this function exists to prevent.

    Returns:
        ``{"copied": [...], "adapted": [...], "reset": [...]}`` weight paths.
    """
    found = {w.path: w for w in source.weights}
    report = {"copied": [], "adapted": [], "reset": []}
    missing = []
    first_conv = next((w.path for w in target.weights if w.path.endswith("kernel") and len(w.shape) >= 4), None)
    for weight in target.weights:
        path = weight.path
        in_head = path.split("/")[0] in reset
        if path not in found:
            (report["reset"] if in_head else missing).append(path)
            continue
        value = keras.ops.convert_to_numpy(found[path].value)
        if tuple(value.shape) == tuple(weight.shape):
            weight.assign(value)
            report["copied"].append(path)
        elif path == first_conv and value.shape[:-2] == tuple(weight.shape[:-2]) and value.shape[-1] == weight.shape[-1]:
            weight.assign(adapt_input_channels(value, weight.shape[-2], mode=adapt))
            report["adapted"].append(path)
        elif in_head:
            report["reset"].append(path)
        else:
            raise ValueError(f"weight {path!r}: source shape {tuple(value.shape)} does not fit target "
                             f"{tuple(weight.shape)}")
    used = set(report["copied"]) | set(report["adapted"])
    unused = [p for p in found if p not in used and p.split("/")[0] not in reset]
    if missing or unused:
        raise ValueError(f"{len(missing)} target weights have no source weight (first: {missing[:3]}) and "
                         f"{len(unused)} source weights have no place in the target (first: {unused[:3]}); "
                         "are source and target the same architecture?")
    return report


def as_model(source) -> keras.Model:
    """A weight source as a model: a ``keras.Model``, a preset folder or a ``.keras`` file (``~`` expanded)."""
    import os

    from restoolkit.errors import ConfigError

    if isinstance(source, keras.Model):
        return source
    path = os.path.expanduser(os.fspath(source))
    if os.path.isdir(path):
        from restoolkit.presets import load_preset

        return load_preset(path)
    if path.endswith(".keras"):
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    raise ConfigError(f"weights must be a keras.Model, a preset folder or a .keras file, got {source!r}")
