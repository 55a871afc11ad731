"""Tabular networks of Gorishniy et al. 2021 ("Revisiting Deep Learning Models for Tabular Data"): the
ResNet (``resmlp``) built from :class:`~restoolkit.layers.ResidualDense`, and the MLP baseline."""

from __future__ import annotations

import keras

from restoolkit.layers import factories
from restoolkit.layers.dense import ResidualDense
from restoolkit.layers.ensemble import MemberAverage
from restoolkit.models.registry import register


def build_mlp(
    *,
    block: str = "residual",
    input_shape=(16,),
    num_classes: int = 1,
    width: int = 64,
    depth: int = 2,
    hidden_factor: float = 2.0,
    hidden_dropout: float = 0.1,
    residual_dropout: float = 0.0,
    norm_layer="batch_norm",
    act_layer="relu",
    residual: bool = True,
    include_top: bool = True,
    classifier_activation: str | None = "auto",
    members: int = 1,
    dtype=None,
    name: str = "resmlp",
):
    """A tabular network on a flat feature vector.

    Args:
        block: ``residual`` — ``Linear → depth × ResidualDense → Norm → act → head`` (the paper's
            ResNet); ``mlp`` — ``depth × (Linear → act → Dropout) → head`` (the paper's MLP).
        input_shape: ``(features,)``.
        num_classes: outputs; ``1`` is a binary score.
        width: the main width (``d_main``); ``hidden_factor · width`` inside each residual block.
        depth: number of blocks.
        hidden_dropout, residual_dropout: the two dropouts of a residual block (``mlp``: after each act).
        norm_layer, act_layer: layer specs.
        residual: ``False`` gives the plain twin of the residual network (same layers, no additions).
        include_top: add the classification head.
        classifier_activation: ``"auto"`` (sigmoid for one output, softmax for more), a name, or ``None``
            for logits.
        members: ``k > 1`` builds ``k`` independently initialised copies of this network (sub-models
            ``member0`` …) joined by :class:`~restoolkit.layers.MemberAverage`: their mean probability at
            inference, every member's output in training so each learns from its own loss (TabM's
            ensembling; see :mod:`restoolkit.layers.ensemble`). Binary scores only (``num_classes=1``,
            a sigmoid head).

    Returns:
        A functional ``keras.Model``; the head layer is ``predictions`` (float32).
    """
    if block not in ("residual", "mlp"):
        raise ValueError(f"block must be 'residual' or 'mlp', got {block!r}")
    if int(members) != members or members < 1:
        raise ValueError(f"members must be a positive integer, got {members!r}")
    if members > 1:
        if not include_top or num_classes != 1 or classifier_activation not in ("auto", "sigmoid"):
            raise ValueError("members > 1 averages probabilities of one binary score: it needs include_top=True, "
                             f"num_classes=1 and a sigmoid head (got include_top={include_top}, "
                             f"num_classes={num_classes}, classifier_activation={classifier_activation!r})")
        options = {"block": block, "input_shape": input_shape, "width": width, "depth": depth,
                   "hidden_factor": hidden_factor, "hidden_dropout": hidden_dropout,
                   "residual_dropout": residual_dropout, "norm_layer": norm_layer, "act_layer": act_layer,
                   "residual": residual, "dtype": dtype}
        inputs = keras.Input(tuple(input_shape), name="features")
        outputs = [build_mlp(**options, name=f"member{i}")(inputs) for i in range(int(members))]
        return keras.Model(inputs, MemberAverage(name="member_average")(outputs), name=name)
    inputs = keras.Input(tuple(input_shape), name="features")
    if block == "residual":
        x = keras.layers.Dense(width, name="stem", dtype=dtype)(inputs)
        for i in range(depth):
            x = ResidualDense(int(hidden_factor * width), norm_layer=norm_layer, act_layer=act_layer,
                              hidden_dropout=hidden_dropout, residual_dropout=residual_dropout, residual=residual,
                              name=f"block{i + 1}", dtype=dtype)(x)
        x = head_norm_act(x, norm_layer, act_layer, dtype=dtype)
    else:
        x = inputs
        for i in range(depth):
            x = keras.layers.Dense(width, name=f"dense{i + 1}", dtype=dtype)(x)
            act = factories.make_act(factories.normalize_spec(act_layer), name=f"act{i + 1}", dtype=dtype)
            x = act(x) if act is not None else x
            x = keras.layers.Dropout(hidden_dropout, name=f"dropout{i + 1}", dtype=dtype)(x)
    if include_top:
        x = prediction_head(x, num_classes, classifier_activation)
    return keras.Model(inputs, x, name=name)


def head_norm_act(x, norm_layer, act_layer, *, dtype=None):
    """The norm and activation before a tabular network's head (the paper's ResNet and FT-Transformer)."""
    norm = factories.make_norm(factories.normalize_spec(norm_layer), name="head_norm", dtype=dtype)
    x = norm(x) if norm is not None else x
    act = factories.make_act(factories.normalize_spec(act_layer), name="head_act", dtype=dtype)
    return act(x) if act is not None else x


def prediction_head(x, num_classes: int, classifier_activation: str | None = "auto"):
    """The float32 ``predictions`` layer: ``"auto"`` is sigmoid for one output, softmax for more."""
    if classifier_activation == "auto":
        classifier_activation = "sigmoid" if num_classes == 1 else "softmax"
    return keras.layers.Dense(num_classes, activation=classifier_activation, name="predictions", dtype="float32")(x)


register("resmlp", build_mlp, tags=("tabular",), block="residual")
register("plain_resmlp", build_mlp, tags=("tabular", "plain"), block="residual", residual=False)
register("mlp", build_mlp, tags=("tabular",), block="mlp")
