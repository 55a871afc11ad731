"""A narrow, version-gated fix for ``model.fit`` under ``MultiWorkerMirroredStrategy`` in Keras 3.

Upstream: keras-team/keras#20585 and tensorflow/tensorflow#72388 (open as of Keras 3.15). Two places in
``keras/src/backend/tensorflow/trainer.py`` break a plain ``model.fit`` on several workers:

1. ``TensorFlowTrainer._maybe_symbolic_build`` builds the model from the first batch by
   ``strategy.reduce("MEAN", batch, axis=None)``. For a multi-worker strategy that is a cross-worker
   collective on the *data*, outside ``strategy.run``; it fails on a ``PerReplica`` batch
   ("Attempt to convert a value (PerReplica…) with an unsupported type"). Building only needs shapes
   and dtypes, so the fix takes the first local replica's batch.
2. ``reduce_per_replica(..., reduction="mean")`` reduces every logged value with
   ``strategy.reduce("MEAN", v, axis=0)`` on multi-worker strategies; the logs are scalars, which have
   no axis 0. The fix reduces scalars with ``axis=None`` and leaves everything else to Keras.

The fix is applied by :func:`restoolkit.training.strategy` when it creates a multi-worker strategy.
``tests/training/test_keras_fixes.py`` runs an *unpatched* two-worker fit and fails once upstream
works, which is the signal to delete this module.
"""

from __future__ import annotations

import keras
from packaging.version import Version

# Keras versions the fix is applied to (the bug is present up to 3.15.1, the newest checked). The fix
# is skipped if the functions it replaces no longer exist; the upstream-detection test says when to drop it.
AFFECTED = (Version("3.0.0"), Version("4.0.0"))

_applied = False


def is_affected(version: str | None = None) -> bool:
    v = Version(version or keras.__version__)
    return AFFECTED[0] <= v < AFFECTED[1]


def apply_multiworker_fix() -> bool:
    """Patches Keras' TensorFlow trainer for multi-worker ``fit``; returns whether it is applied.

    Idempotent; a no-op on a non-TensorFlow backend or an unaffected Keras version.
    """
    global _applied
    if _applied:
        return True
    if keras.backend.backend() != "tensorflow" or not is_affected():
        return False
    import tensorflow as tf
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer as tf_trainer

    needed = ("reduce_per_replica", "_collective_all_reduce_multi_worker")
    if not all(hasattr(tf_trainer, n) for n in needed) or not hasattr(
        tf_trainer.TensorFlowTrainer, "_maybe_symbolic_build"
    ):
        return False
    original_build = tf_trainer.TensorFlowTrainer._maybe_symbolic_build
    original_reduce = tf_trainer.reduce_per_replica

    def _first_local(value):
        if isinstance(value, tf.distribute.DistributedValues):
            return value.values[0]
        return value

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if self._distribute_strategy is None or iterator is None:
            return original_build(self, iterator=iterator, data_batch=data_batch)
        for _, _, it in iterator:
            data_batch = tree.map_structure(_first_local, next(it))
            break
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and tf_trainer._collective_all_reduce_multi_worker(strategy):

            def _reduce(v):
                local = _first_local(v)
                if getattr(local, "shape", None) is not None and local.shape.rank == 0:
                    return strategy.reduce("MEAN", v, axis=None)
                return original_reduce(v, strategy, reduction)

            return tree.map_structure(_reduce, values)
        return original_reduce(values, strategy, reduction)

    tf_trainer.TensorFlowTrainer._maybe_symbolic_build = _maybe_symbolic_build
    tf_trainer.reduce_per_replica = reduce_per_replica
    _applied = True
    return True
