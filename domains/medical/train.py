"""``train``: an :class:`ImageClassifier` on index tables, on the shared training layer (any strategy)."""

from __future__ import annotations

import hashlib

import pandas as pd

from domains.medical.data import _cache_key, make_dataset
from restoolkit.errors import ConfigError
from restoolkit.tasks import train_task
from restoolkit.training import FitResult, balanced_class_weight


def index_fingerprint(index: pd.DataFrame, config: dict, label: str = "label") -> str:
    """A digest of an index's files (path, size, modification time), labels and the preprocessing."""
    column = "paths" if "paths" in index and config.get("volume_shape") else "path"
    h = hashlib.sha256(_cache_key(index, column, config).encode())
    if label in index:
        h.update(index[label].to_numpy("float64").tobytes())
    return h.hexdigest()


def train(
    task,
    train,
    validation=None,
    *,
    run_dir,
    batch_size: int = 16,
    class_weight="balanced",
    augment: bool = True,
    flip: bool = False,
    cache_dir=None,
    workers: int | None = None,
    **fit_options,
) -> FitResult:
    """Trains ``task`` (an :class:`~domains.medical.ImageClassifier`) with :func:`restoolkit.training.fit`.

    Args:
        task: the classifier; its preprocessor decides how files are read (window, size, channels).
        train, validation: index DataFrames with a ``label`` column (from :func:`domains.medical.data.split`)
            or ready ``tf.data`` datasets of global batches.
        run_dir: the run directory (checkpoints, history, TensorBoard). A finished run with the same
            task, files, labels and settings is returned as it is; a different one is refused.
        batch_size: the global batch.
        class_weight: ``"balanced"`` (from the training labels), a dict, or ``None``.
        augment, flip: training augmentation (see :func:`domains.medical.data.make_dataset`).
        cache_dir: cache decoded images on disk.
        **fit_options: :func:`restoolkit.training.fit` options over the task's defaults (``epochs``,
            ``learning_rate``, ``strategy``, ``mixed_precision``, ``seed``, ``overwrite``…).

    Returns:
        :class:`restoolkit.training.FitResult` whose ``model`` is ``task``, trained (the best epoch by
        validation AUROC is also in ``run_dir/checkpoints/best.keras``).
    """
    seed = fit_options.get("seed", 0)
    options = {**task.preprocessor.dataset_options(), "cache_dir": cache_dir, "workers": workers}
    fingerprint = {}
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ConfigError(f"class_weight must be 'balanced', a dict or None, got {class_weight!r}")
        if not isinstance(train, pd.DataFrame):
            raise ConfigError("class_weight='balanced' needs the training index; pass a dict with a dataset")
        class_weight = balanced_class_weight(train["label"])
    if isinstance(train, pd.DataFrame):
        fingerprint["train"] = index_fingerprint(train, {**options, "augment": augment, "flip": flip})
        train = make_dataset(train, batch_size=batch_size, shuffle=True, augment=augment, flip=flip, seed=seed,
                             **options)
    if isinstance(validation, pd.DataFrame):
        fingerprint["validation"] = index_fingerprint(validation, options)
        validation = make_dataset(validation, batch_size=batch_size, **options)
    binary = task.num_classes == 1
    if binary and validation is not None:
        fit_options.setdefault("monitor", "val_auc")
    return train_task(task, train, validation, run_dir=run_dir, class_weight=class_weight,
                      data_fingerprint=fingerprint or None, batch_size=batch_size, **fit_options)
