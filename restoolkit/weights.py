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
