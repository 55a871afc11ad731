"""``train_task``: the core of every domain's ``train`` — the task's defaults, then :func:`restoolkit.training.fit`."""

from __future__ import annotations

from dataclasses import replace

from restoolkit.training import FitResult, fit


def train_task(task, train, validation=None, *, run_dir, data_fingerprint=None, **options) -> FitResult:
    """Trains ``task`` on ``tf.data`` datasets of global batches, with the task's loss, metrics and
    learning-rate policy (:meth:`Task.fit_defaults`) unless ``options`` override them.

    The trained weights end up in ``task`` itself (under a multi-replica strategy ``fit`` trains a copy
    built in the strategy's scope; its weights are copied back), so ``evaluate(task, …)`` after
    ``train(task, …)`` sees the trained model. The returned ``FitResult.model`` is ``task``.
    """
    settings = {"loss": task.default_loss(), "metrics": task.default_metrics(), **task.fit_defaults(), **options}
    result = fit(task, train, validation, run_dir=run_dir, data_fingerprint=data_fingerprint, **settings)
    if result.model is not task:
        task.set_weights(result.model.get_weights())
    task.mark_weights_changed()
    return replace(result, model=task)
