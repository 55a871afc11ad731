"""Fraud models: raw columns → :class:`TabularEncoder` → a core tabular network → fraud probability."""

from __future__ import annotations

import keras

from domains.fraud.features import TabularEncoder
from restoolkit.models import create


@keras.saving.register_keras_serializable("restoolkit")
class PriorCorrection(keras.layers.Layer):
    """Undoes the effect of undersampling negatives on probabilities (Dal Pozzolo et al. 2015):
    ``p' = β p / (β p − p + 1)`` where ``β`` is the share of negatives kept."""

    def __init__(self, beta: float, **kwargs):
        super().__init__(**kwargs)
        if not 0 < beta <= 1:
            raise ValueError(f"beta (share of negatives kept) must be in (0, 1], got {beta}")
        self.beta = float(beta)

    def call(self, p):
        return self.beta * p / (self.beta * p - p + 1.0)

    def get_config(self):
        return {**super().get_config(), "beta": self.beta}


def build_fraud_model(encoder: TabularEncoder, backbone: str = "resmlp", *, prior_beta: float | None = None,
                      **backbone_kwargs) -> keras.Model:
    """A model taking a dict of raw columns (numeric ``(B, 1)`` float32, categorical ``(B, 1)`` string).

    Args:
        encoder: from :func:`~domains.fraud.features.fit_encoder`.
        backbone: a ``tabular`` registry entry: ``resmlp`` (default), ``mlp``, ``plain_resmlp``.
        prior_beta: add a :class:`PriorCorrection` (when trained on undersampled negatives).
        **backbone_kwargs: ``width``, ``depth``, ``hidden_dropout``… of the registry entry.

    Returns:
        ``keras.Model`` with one sigmoid output, the probability of fraud.
    """
    inputs = {c: keras.Input((1,), name=c, dtype="float32") for c in encoder.numeric}
    inputs.update({c: keras.Input((1,), name=c, dtype="string") for c in encoder.categorical})
    features = encoder(inputs)
    network = create(backbone, input_shape=(encoder.output_dim,), num_classes=1, **backbone_kwargs)
    out = network(features)
    if prior_beta is not None:
        out = PriorCorrection(prior_beta, name="prior_correction")(out)
    return keras.Model(inputs, out, name=f"fraud_{backbone}")


def predict_scores(model, df, schema, *, batch_size: int = 4096):
    """Fraud probabilities for a (validated) table, in row order (``tf.data``: Keras' array adapter
    does not take string columns)."""
    import tensorflow as tf

    from domains.fraud.features import to_inputs

    ds = tf.data.Dataset.from_tensor_slices(to_inputs(df, schema)).batch(batch_size)
    return model.predict(ds, verbose=0)[:, 0].astype("float64")
