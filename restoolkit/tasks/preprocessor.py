"""``Preprocessor``: what a task does to raw inputs before its network sees them, saved with the task."""

from __future__ import annotations

import keras


class Preprocessor(keras.layers.Layer):
    """Base of every task's preprocessor (keras-hub's design: a serialisable layer owned by the task).

    A preprocessor turns what users have (DICOM paths, images of any size, transaction tables) into the
    arrays the network takes. Its settings live in ``get_config`` and so travel inside the task's
    ``.keras`` file and preset: a preset's preprocessing is applied by the task, never left to the caller.
    Subclasses implement ``get_config`` with every constructor argument.
    """

    def call(self, inputs):  # the in-graph part, if any; file decoding happens outside the graph
        return inputs
