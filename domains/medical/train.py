"""Training a DICOM classifier on the shared training layer (any ``tf.distribute`` strategy)."""

from __future__ import annotations

import pandas as pd

from domains.medical.data import make_dataset
from domains.medical.model import build_classifier
from restoolkit.training import FitResult, balanced_class_weight, fit


def train_classifier(
    train,
    validation=None,
    *,
    run_dir,
    backbone: str = "resnet18",
    num_classes: int = 1,
    weights=None,
    epochs: int = 10,
    strategy=None,
    data: dict | None = None,
    batch_size: int = 16,
    learning_rate: float = 1e-3,
    weight_decay: float = 1e-4,
    class_weight="balanced",
    dropout: float = 0.0,
    **fit_kwargs,
) -> FitResult:
    """Trains :func:`build_classifier` with :func:`restoolkit.training.fit`.

    Args:
        train, validation: index DataFrames with a ``label`` column (from :func:`split`; the pipeline is
            built here with ``data`` options, shuffled and augmented for training) or ready
            ``tf.data`` datasets of global batches.
        run_dir: the run directory (checkpoints, history, TensorBoard; resumable).
        backbone, num_classes, weights, dropout: as in :func:`build_classifier`.
        epochs, strategy, learning_rate, weight_decay: as in :func:`restoolkit.training.fit`.
        data: :func:`make_dataset` options (``image_size``, ``window``, ``channels``, ``volume_shape``,
            ``cache_dir``…). The global batch is ``batch_size``.
        class_weight: ``"balanced"`` (from the training labels), a dict, or ``None``. Carried as sample
            weights, so it works under every strategy.
        **fit_kwargs: passed to :func:`restoolkit.training.fit` (``mixed_precision``, ``seed``…).

    Returns:
        :class:`restoolkit.training.FitResult`; ``result.model`` is the last epoch's model, the best one by
        validation AUROC is in ``run_dir/checkpoints``.

    Example:
        >>> result = train_classifier(index[index.split == "train"], index[index.split == "validation"],
        ...                           run_dir="runs/cxr", data={"image_size": (128, 128)}, epochs=5)
    """
    data = dict(data or {})
    seed = fit_kwargs.get("seed", 0)
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(f"class_weight must be 'balanced', a dict or None, got {class_weight!r}")
        if not isinstance(train, pd.DataFrame):
            raise ValueError("class_weight='balanced' needs the training index; pass a dict with a dataset")
        class_weight = balanced_class_weight(train["label"])
    if isinstance(train, pd.DataFrame):
        train = make_dataset(train, batch_size=batch_size, shuffle=True, augment=data.pop("augment", True),
                             seed=seed, **data)
    if isinstance(validation, pd.DataFrame):
        validation = make_dataset(validation, batch_size=batch_size, **{k: v for k, v in data.items() if k != "augment"})
    x_spec = train.element_spec[0]
    input_shape = tuple(x_spec.shape[1:])

    def model():
        return build_classifier(backbone, input_shape=input_shape, num_classes=num_classes, weights=weights,
                                dropout=dropout)

    binary = num_classes == 1
    return fit(
        model, train, validation, epochs=epochs, run_dir=run_dir, strategy=strategy,
        loss="binary_crossentropy" if binary else "sparse_categorical_crossentropy",
        metrics=["auc", "binary_accuracy"] if binary else ["accuracy"],
        learning_rate=learning_rate, weight_decay=weight_decay, class_weight=class_weight,
        monitor=fit_kwargs.pop("monitor", "val_auc" if binary and validation is not None else None),
        **fit_kwargs,
    )
