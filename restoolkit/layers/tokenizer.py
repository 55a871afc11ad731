"""The feature tokenizer of the FT-Transformer (Gorishniy et al. 2021): one token per scalar feature."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable("restoolkit")
class FeatureTokenizer(keras.layers.Layer):
    """``(B, F)`` features → ``(B, F + 1, d_token)`` tokens: feature ``j`` becomes ``x_j · W_j + b_j`` (its
    own embedding of a scalar), and a learned ``[CLS]`` token is appended last; the prediction is read
    from it.

    rtdl embeds a categorical column by a lookup; here a categorical column arrives already embedded by
    :class:`~domains.fraud.TabularEncoder` (``embedding_dim`` scalars), each of which gets its own token:
    the same information, a few more tokens.

    Args:
        d_token: token width.
        initializer: of ``W``, ``b`` and the ``[CLS]`` token (rtdl: uniform ±1/√d_token).
    """

    def __init__(self, d_token: int, initializer=None, **kwargs):
        super().__init__(**kwargs)
        if d_token < 1:
            raise ValueError(f"d_token must be positive, got {d_token}")
        self.d_token = int(d_token)
        limit = self.d_token ** -0.5
        self.initializer = keras.initializers.get(initializer or {"class_name": "RandomUniform",
                                                                  "config": {"minval": -limit, "maxval": limit}})

    def build(self, input_shape):
        features = input_shape[-1]
        if features is None:
            raise ValueError("FeatureTokenizer needs a known number of features")
        self.weight = self.add_weight(name="weight", shape=(features, self.d_token), initializer=self.initializer)
        self.bias = self.add_weight(name="bias", shape=(features, self.d_token), initializer=self.initializer)
        self.cls = self.add_weight(name="cls", shape=(1, 1, self.d_token), initializer=self.initializer)

    def call(self, x):
        tokens = x[:, :, None] * self.weight[None] + self.bias[None]  # (B, F, d)
        cls = ops.broadcast_to(ops.cast(self.cls, tokens.dtype), (ops.shape(x)[0], 1, self.d_token))
        return ops.concatenate([tokens, cls], axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1] + 1, self.d_token)

    def get_config(self):
        return {**super().get_config(), "d_token": self.d_token,
                "initializer": keras.initializers.serialize(self.initializer)}


@keras.saving.register_keras_serializable("restoolkit")
class ClsToken(keras.layers.Layer):
    """The last token of ``(B, T, d)``: the ``[CLS]`` token :class:`FeatureTokenizer` appends."""

    def call(self, x):
        return x[:, -1]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])
