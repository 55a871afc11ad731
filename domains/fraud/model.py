"""Fraud models: raw columns → :class:`TabularEncoder` → a core tabular network → fraud probability."""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable("restoolkit")
class PriorCorrection(keras.layers.Layer):
    """Undoes the effect of undersampling negatives on probabilities (Dal Pozzolo et al. 2015):
    ``p' = β p / (β p − p + 1)`` where ``β`` is the share of negatives kept."""

    def __init__(self, beta: float, **kwargs):
        super().__init__(**kwargs)
        if not 0 < beta <= 1:
            raise ValueError(f"beta (share of negatives kept) must be in (0, 1], got {beta}")
        self.beta = float(beta)

    def call(self, p, training=None):
        # Training sees the probabilities of the undersampled data it learns from; inference the corrected ones.
        if training:
            return p
        return self.beta * p / (self.beta * p - p + 1.0)

    def get_config(self):
        return {**super().get_config(), "beta": self.beta}


def predict_scores(model, df, schema, *, batch_size: int = 4096):
    """Fraud probabilities for a (validated) table, in row order (``tf.data``: Keras' array adapter
    does not take string columns)."""
    import tensorflow as tf

    from domains.fraud.features import to_inputs

    ds = tf.data.Dataset.from_tensor_slices(to_inputs(df, schema)).batch(batch_size)
    return model.predict(ds, verbose=0)[:, 0].astype("float64")
