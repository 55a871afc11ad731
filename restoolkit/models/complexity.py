"""Parameter and multiply-add counts."""

from __future__ import annotations

import math

import keras


def _walk(layer):
    """Every layer inside ``layer`` (depth first), nested blocks included."""
    for sub in layer._flatten_layers(include_self=False, recursive=False):
        yield sub
        yield from _walk(sub)


def _input_shapes(layer) -> list:
    """One input shape per call of the layer in the graph: a layer shared across pyramid levels (a
    detection head) is counted at every level, not once at the first."""
    shapes = [tuple(n.input_tensors[0].shape) for n in getattr(layer, "_inbound_nodes", []) if n.input_tensors]
    return shapes or [tuple(layer.get_build_config()["input_shape"])]


def _conv_macs(layer) -> int:
    total = 0
    for in_shape in _input_shapes(layer):
        out_shape = layer.compute_output_shape(in_shape)
        spatial = math.prod(int(d) for d in out_shape[1:-1])
        total += spatial * int(out_shape[-1]) * math.prod(layer.kernel_size) * int(in_shape[-1]) // layer.groups
    return total


def _dense_macs(layer) -> int:
    total = 0
    for in_shape in _input_shapes(layer):
        positions = math.prod(int(d) for d in in_shape[1:-1]) if len(in_shape) > 2 else 1
        total += positions * int(in_shape[-1]) * int(layer.units)
    return total


def count_macs(model: keras.Model) -> int:
    """Multiply-adds of one forward pass on one example, from convolutions and dense layers.

    The convention of the papers and of ``thop`` / ``fvcore`` (timm's GMACs): norms, activations,
    pooling and additions are not counted. The model must be built with a fully known input shape.

    Returns:
        The count as an integer (resnet18 at 224×224: 1,814,073,344).

    Example:
        >>> count_macs(create("resnet50")) / 1e9
        4.09...
    """
    total = 0
    for layer in _walk(model):
        if not layer.built:
            continue
        if isinstance(layer, keras.layers.Conv1D | keras.layers.Conv2D | keras.layers.Conv3D):
            total += _conv_macs(layer)
        elif isinstance(layer, keras.layers.Dense):
            total += _dense_macs(layer)
    return total


def count_params(model: keras.Model) -> dict[str, int]:
    """``{"trainable": …, "non_trainable": …, "total": …}`` parameter counts."""
    trainable = sum(math.prod(v.shape) for v in model.trainable_weights)
    non_trainable = sum(math.prod(v.shape) for v in model.non_trainable_weights)
    return {"trainable": int(trainable), "non_trainable": int(non_trainable), "total": int(trainable + non_trainable)}
