"""An ensemble of independently initialised networks inside one model, each trained on its own loss.

Seed ensembling as TabM does it (Gorishniy et al. 2024, "TabM: Advancing Tabular Deep Learning with
Parameter-Efficient Ensembling"; here the fully independent, "packed" variant): ``k`` members see the
same batches, and the loss is the *mean of the members' losses*, not the loss of their mean — members
trained on the loss of their average co-adapt into one large network and lose the variance reduction
that makes the ensemble worth its cost. At inference the model returns the average probability.

So :class:`MemberAverage` changes shape with the phase: in training it returns every member's output
side by side, ``(batch, members)`` for a binary score, which a Keras loss with ``y_true`` of shape
``(batch, 1)`` broadcasts into exactly the mean of the per-member losses (``binary_crossentropy`` and the
focal loss average over the last axis); at inference it returns their mean, ``(batch, 1)``. Metrics that
see training outputs must average the members first: :class:`MemberMeanAUC`.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="restoolkit")
class MemberAverage(keras.layers.Layer):
    """Joins the members' ``(batch, 1)`` probabilities: side by side in training, averaged at inference.

    Example:
        >>> a, b = keras.ops.ones((2, 1)), keras.ops.zeros((2, 1))
        >>> MemberAverage()([a, b]).shape, MemberAverage()([a, b], training=True).shape
        ((2, 1), (2, 2))
    """

    def call(self, inputs, training=None):
        stacked = ops.concatenate(list(inputs), axis=-1)
        if training:
            return stacked
        return ops.mean(stacked, axis=-1, keepdims=True)

    def build(self, input_shape):
        shapes = list(input_shape)
        if len(shapes) < 2 or any(tuple(s)[-1] != 1 for s in shapes):
            raise ValueError(f"MemberAverage joins two or more (batch, 1) outputs, got shapes {shapes}")

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape[0])[:-1], 1)


@keras.saving.register_keras_serializable(package="restoolkit")
class MemberMeanAUC(keras.metrics.AUC):
    """``keras.metrics.AUC`` of the members' mean: in training an ensemble network (:class:`MemberAverage`)
    returns ``(batch, members)``; any other model's ``(batch, 1)`` is unchanged, so the metric serves both."""

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.convert_to_tensor(y_pred)
        if len(y_pred.shape) >= 2:  # (batch, members) → (batch, 1); a 1-D score stays as it is
            y_pred = ops.mean(y_pred, axis=-1, keepdims=True)
        return super().update_state(y_true, y_pred, sample_weight=sample_weight)
