"""Stochastic depth (drop path): drops a residual branch for whole samples during training."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="restoolkit")
class StochasticDepth(keras.layers.Layer):
    """Zeroes the whole input of some samples in a batch and rescales the others.

    Applied to a residual branch before the addition, this is the stochastic depth of Huang et al.
    (2016) in its per-sample form (timm's ``DropPath``): each sample keeps the branch with
    probability ``1 - rate``; kept branches are divided by ``1 - rate`` so the expectation is
    unchanged, and inference is the identity.

    Args:
        rate: probability of dropping the branch for a sample, in ``[0, 1)``.
        seed: optional integer seed.

    Example:
        >>> layer = StochasticDepth(0.2)
        >>> y = layer(keras.ops.ones((8, 4, 4, 16)), training=True)
    """

    def __init__(self, rate: float = 0.0, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"StochasticDepth rate must be in [0, 1), got {rate}")
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training or self.rate == 0.0:
            return inputs
        keep = 1.0 - self.rate
        shape = (ops.shape(inputs)[0],) + (1,) * (len(inputs.shape) - 1)
        noise = keras.random.uniform(shape, dtype="float32", seed=self.seed_generator)
        mask = ops.cast(noise < keep, inputs.dtype) / ops.cast(keep, inputs.dtype)
        return inputs * mask

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
