"""``train``: a :class:`FraudClassifier` on a transactions table, with honest imbalance handling."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from domains.fraud.data import make_dataset
from restoolkit.errors import ConfigError
from restoolkit.tasks import train_task
from restoolkit.training import FitResult, balanced_class_weight


def undersample(df: pd.DataFrame, target: str, *, keep_negatives: float, seed: int = 0):
    """Keeps every positive and a random ``keep_negatives`` share of negatives; returns ``(df, beta)``.

    Probabilities of a model trained on it are too high by a known factor: build the task with
    ``prior_beta=beta`` so it corrects them at inference.
    """
    rng = np.random.default_rng(seed)
    keep = (df[target] == 1).to_numpy() | (rng.random(len(df)) < keep_negatives)
    return df[keep], float(keep_negatives)


def table_fingerprint(df: pd.DataFrame) -> str:
    """A digest of a table's columns and every value."""
    h = hashlib.sha256(repr(list(df.columns)).encode())
    h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return h.hexdigest()


def train(task, train: pd.DataFrame, validation: pd.DataFrame | None = None, *, run_dir, batch_size: int | None = None,
          loss: str = "bce", focal_gamma: float = 2.0, class_weight=None, keep_negatives: float | None = None,
          **fit_options) -> FitResult:
    """Trains ``task`` (a :class:`~domains.fraud.FraudClassifier`) with :func:`restoolkit.training.fit`.

    Args:
        task: the classifier; its schema validates the tables.
        train, validation: transaction tables (``validation`` from a later period).
        run_dir: the run directory; the same task, table and settings resume or return the finished run.
        batch_size: the global batch (default: the task's ``fit_defaults()["batch_size"]``: 512 for one
            network, 4096 for an ensemble).
        loss: ``"bce"`` or ``"focal"`` (Keras' ``BinaryFocalCrossentropy`` with ``focal_gamma``).
        class_weight: ``"balanced"``, a dict or ``None`` (default: none, it breaks calibration).
        keep_negatives: undersample negatives to this share; the task must have been built with the same
            ``prior_beta`` so its inference probabilities are corrected back to the true prior.
        **fit_options: :func:`restoolkit.training.fit` options over the task's defaults.

    With a ``validation`` table an ensemble backbone (the default, ``members`` > 1) returns the weights of
    its last epoch, a single network (``resmlp_single_fraud``) those of the epoch with the best validation
    AUPRC (``monitor="val_auc"``, ``restore_best=True``; pass either to change it). Measured over 10 seeds
    on the simulated bank (``benchmarks/RESULTS.md``): one network, last epoch 0.671 ± 0.012, best epoch
    0.678 ± 0.010; 6 members of width 24 at the single network's batches of 512, last epoch 0.677 ± 0.004,
    best epoch 0.681 ± 0.008 (choosing an epoch on a noisy validation curve adds spread to an ensemble's
    settled last epoch); with the ensemble's own policy (:meth:`FraudClassifier.fit_defaults`: batches of
    4096 at 6e-3, 30 epochs) 0.683 ± 0.003, all ten within 0.008. A moving average of the weights
    (``ema_momentum=0.99``) did not steady one network (0.639 ± 0.045, 5 seeds).
    """
    import keras

    schema = task.schema
    if schema is None or schema.target is None:
        raise ConfigError("the task has no schema with a target column: build it with FraudClassifier.from_table")
    seed = fit_options.get("seed", 0)
    if batch_size is None:
        batch_size = task.fit_defaults()["batch_size"]
    train = schema.validate(train, where="train")
    if validation is not None:
        validation = schema.validate(validation, where="validation")
    if keep_negatives is not None:
        if task.prior_beta != keep_negatives:
            raise ConfigError(f"keep_negatives={keep_negatives} needs a task built with prior_beta={keep_negatives} "
                              f"(it has {task.prior_beta})")
        train, _ = undersample(train, schema.target, keep_negatives=keep_negatives, seed=seed)
    if class_weight == "balanced":
        class_weight = balanced_class_weight(train[schema.target])
    if loss not in ("bce", "focal"):
        raise ConfigError(f"loss must be 'bce' or 'focal', got {loss!r}")
    if loss == "focal":
        fit_options.setdefault("loss", keras.losses.BinaryFocalCrossentropy(gamma=focal_gamma))
    if validation is not None:
        fit_options.setdefault("monitor", "val_auc")  # the task's AUPRC metric on the validation table
        # One network: the epoch with the best validation AUPRC. An ensemble: the last epoch — choosing
        # an epoch on a noisy validation AUPRC added more spread over seeds than it removed (docstring).
        fit_options.setdefault("restore_best", task.backbone_options.get("members", 1) == 1)
    fingerprint = {"train": table_fingerprint(train),
                   "validation": table_fingerprint(validation) if validation is not None else None}
    return train_task(task, make_dataset(train, schema, batch_size=batch_size, shuffle=True, seed=seed),
                      None if validation is None else make_dataset(validation, schema, batch_size=4 * batch_size),
                      run_dir=run_dir, class_weight=class_weight, data_fingerprint=fingerprint, batch_size=batch_size,
                      **fit_options)
