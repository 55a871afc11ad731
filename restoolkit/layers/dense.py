"""The residual block of tabular ResNets (Gorishniy et al. 2021, "Revisiting Deep Learning Models for
Tabular Data")."""

from __future__ import annotations

import keras
from keras import ops

from restoolkit.layers import factories
from restoolkit.layers.scaling import make_branch_scale


@keras.saving.register_keras_serializable(package="restoolkit")
class ResidualDense(keras.layers.Layer):
    """``x + Dropout(Linear(Dropout(act(Linear(Norm(x))))))`` with an identity skip.

    Args:
        hidden_units: width of the inner layer (the paper's ``d_hidden``, ``d_main × factor``).
        norm_layer: norm spec, ``"batch_norm"`` as in the paper or ``"layer_norm"``.
        act_layer: activation spec (ReLU in the paper).
        hidden_dropout: dropout after the activation.
        residual_dropout: dropout on the branch output before the addition.
        branch_scale: ``None``, ``"rezero"`` or ``"layerscale"``.
        residual: ``False`` gives the plain MLP twin (no addition).

    Example:
        >>> ResidualDense(256, hidden_dropout=0.2)(keras.ops.ones((4, 64))).shape
        (4, 64)
    """

    def __init__(
        self,
        hidden_units: int,
        norm_layer="batch_norm",
        act_layer="relu",
        hidden_dropout: float = 0.0,
        residual_dropout: float = 0.0,
        branch_scale: str | None = None,
        layerscale_init: float = 1e-5,
        residual: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.hidden_units = int(hidden_units)
        self.norm_layer = factories.normalize_spec(norm_layer)
        self.act_layer = factories.normalize_spec(act_layer)
        self.hidden_dropout = float(hidden_dropout)
        self.residual_dropout = float(residual_dropout)
        self.branch_scale = None if branch_scale in (None, "none") else branch_scale
        self.layerscale_init = float(layerscale_init)
        self.residual = bool(residual)

    def build(self, input_shape):
        d = int(input_shape[-1])
        dt = self.dtype_policy
        self.norm = factories.make_norm(self.norm_layer, name="norm", dtype=dt)
        self.dense1 = keras.layers.Dense(self.hidden_units, name="dense1", dtype=dt)
        self.act = factories.make_act(self.act_layer, name="act", dtype=dt)
        self.dropout1 = keras.layers.Dropout(self.hidden_dropout, name="hidden_dropout", dtype=dt)
        self.dense2 = keras.layers.Dense(d, name="dense2", dtype=dt)
        self.dropout2 = keras.layers.Dropout(self.residual_dropout, name="residual_dropout", dtype=dt)
        self.scale = make_branch_scale(self.branch_scale, layerscale_init=self.layerscale_init, name="scale", dtype=dt)
        factories.build_sublayers(self, input_shape)

    def residual_parts(self, inputs, training=False):
        if not hasattr(self, "dense1"):  # called before the layer was built (not during build)
            self.build(tuple(inputs.shape))
        y = inputs if self.norm is None else self.norm(inputs, training=training)
        y = self.dense1(y)
        if self.act is not None:
            y = self.act(y)
        y = self.dense2(self.dropout1(y, training=training))
        y = self.dropout2(y, training=training)
        if self.scale is not None:
            y = self.scale(y)
        return y, (inputs if self.residual else None)

    def call(self, inputs, training=None):
        y, skip = self.residual_parts(inputs, training=training)
        return y if skip is None else ops.add(skip, y)


    def get_config(self):
        return {
            **super().get_config(),
            "hidden_units": self.hidden_units,
            "norm_layer": self.norm_layer,
            "act_layer": self.act_layer,
            "hidden_dropout": self.hidden_dropout,
            "residual_dropout": self.residual_dropout,
            "branch_scale": self.branch_scale,
            "layerscale_init": self.layerscale_init,
            "residual": self.residual,
        }
