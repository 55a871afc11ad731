"""Residual scaling: learnable multipliers on a residual branch.

- :class:`ReZero` (Bachlechner et al. 2020; SkipInit, De & Smith 2020): one scalar ``alpha`` that
  starts at 0, so every block starts as the identity.
- :class:`LayerScale` (Touvron et al. 2021, CaiT): one multiplier per channel, starting small.

The third scheme, a *decayed identity* (``x_{l+1} = alpha_l * x_l + F(x_l)``), scales the identity
path instead of the branch, with a fixed ``alpha_l`` per depth; it is the ``identity_scale`` argument of
every residual block (see :mod:`restoolkit.layers.blocks`).
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="restoolkit")
class LayerScale(keras.layers.Layer):
    """Multiplies the last axis by a learnable per-channel vector.

    Args:
        init_value: initial value of every multiplier (CaiT uses 1e-5 to 1e-1 by depth).

    Example:
        >>> y = LayerScale(1e-5)(keras.ops.ones((2, 7, 32)))
    """

    def __init__(self, init_value: float = 1e-5, **kwargs):
        super().__init__(**kwargs)
        self.init_value = float(init_value)

    def build(self, input_shape):
        self.gamma = self.add_weight(
            name="gamma",
            shape=(input_shape[-1],),
            initializer=keras.initializers.Constant(self.init_value),
        )

    def call(self, inputs):
        return inputs * ops.cast(self.gamma, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "init_value": self.init_value}


@keras.saving.register_keras_serializable(package="restoolkit")
class ReZero(keras.layers.Layer):
    """Multiplies its input by one learnable scalar, 0 at initialisation (ReZero / SkipInit).

    Args:
        init_value: initial value of the scalar; 0 makes the enclosing block the identity at start.

    Example:
        >>> ReZero()(keras.ops.ones((2, 3)))  # all zeros at initialisation
    """

    def __init__(self, init_value: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.init_value = float(init_value)

    def build(self, input_shape):
        self.alpha = self.add_weight(
            name="alpha", shape=(), initializer=keras.initializers.Constant(self.init_value)
        )

    def call(self, inputs):
        return inputs * ops.cast(self.alpha, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "init_value": self.init_value}


BRANCH_SCALES = ("none", "rezero", "layerscale")


def make_branch_scale(kind: str | None, *, layerscale_init: float, name: str, dtype=None):
    """The layer that scales a residual branch for a ``branch_scale`` name, or ``None``."""
    if kind in (None, "none"):
        return None
    if kind == "rezero":
        return ReZero(name=name, dtype=dtype)
    if kind == "layerscale":
        return LayerScale(layerscale_init, name=name, dtype=dtype)
    raise ValueError(f"branch_scale must be one of {BRANCH_SCALES}, got {kind!r}")
