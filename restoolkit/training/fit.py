"""``fit``: one training entry point for every domain, on one CPU, many GPUs or many machines."""

from __future__ import annotations

import hashlib
import json
import math
import platform
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from restoolkit.errors import ConfigError, ResumeError
from restoolkit.training.callbacks import (
    AtomicCheckpoint,
    ResumableHistory,
    StopOnNonFiniteLoss,
    atomic_write_text,
)
from restoolkit.training.precision import resolve_mixed_precision
from restoolkit.training.strategy import is_chief
from restoolkit.training.strategy import strategy as make_strategy

MIXED_POLICIES = (None, "float32", "mixed_float16", "mixed_bfloat16", "auto")


@dataclass
class FitResult:
    """What :func:`fit` returns."""

    model: keras.Model
    history: dict[str, list[float]]
    run_dir: Path
    strategy: Any
    global_batch_size: int


def _build_model(model, model_kwargs):
    """Builds ``model`` (a registry name, a zero-argument callable, or a model) in the current scope."""
    if isinstance(model, str):
        from restoolkit.models import create

        return create(model, **(model_kwargs or {}))
    if isinstance(model, keras.Model):
        replicas = tf.distribute.get_strategy().num_replicas_in_sync if tf.distribute.has_strategy() else 1
        # A model built under another dtype policy than the run's (a float32 task trained with
        # mixed_precision=...) is rebuilt too: otherwise the policy would silently not apply.
        policy_differs = model.dtype_policy.name != keras.config.dtype_policy().name
        if replicas > 1 or policy_differs:
            # Variables must be created under the strategy: rebuild, then copy the weights. A subclass
            # (a domain task) rebuilds from its own config, so it stays a task with its own predict_step.
            if type(model).__name__ in ("Functional", "Sequential", "Model"):
                clone = keras.models.clone_model(model)
            else:
                clone = type(model).from_config(model.get_config())
            clone.set_weights(model.get_weights())
            return clone
        return model
    if callable(model):
        return model(**(model_kwargs or {}))
    raise TypeError(f"model must be a registry name, a callable or a keras.Model, got {type(model).__name__}")


def balanced_class_weight(labels) -> dict[int, float]:
    """``n / (k · n_c)`` per class, as scikit-learn's ``class_weight="balanced"``; for ``fit(class_weight=)``."""
    from sklearn.utils.class_weight import compute_class_weight

    labels = np.asarray(labels).astype(int)
    classes = np.unique(labels)
    weights = compute_class_weight("balanced", classes=classes, y=labels)
    return dict(zip(classes.tolist(), weights.tolist(), strict=True))


def output_is_probability(model) -> bool:
    """Whether the model's last layer ends in softmax or sigmoid (else the loss reads logits)."""
    activation = getattr(model.layers[-1], "activation", None)
    return getattr(activation, "__name__", "") in ("softmax", "sigmoid")


def _sha256(*chunks) -> str:
    h = hashlib.sha256()
    for chunk in chunks:
        h.update(chunk if isinstance(chunk, bytes) else str(chunk).encode())
    return h.hexdigest()


def fingerprint_data(data) -> str | None:
    """A digest that changes when the training data changes.

    Arrays: dtype, shape and every byte. A ``tf.data.Dataset``: its element spec, its cardinality and
    the bytes of its first element (datasets hold no list of their sources; callers that know one —
    the domain ``train`` functions pass file lists and label tables — give ``fit(data_fingerprint=)``).
    """
    if data is None:
        return None
    if isinstance(data, tf.data.Dataset):
        first = next(iter(data.take(1)), None)
        leaves = tf.nest.flatten(first) if first is not None else []
        return _sha256("dataset", repr(data.element_spec), int(data.cardinality()),
                       *(np.asarray(leaf).tobytes() for leaf in leaves))
    if isinstance(data, tuple | list):
        parts = []
        for array in data:
            array = np.ascontiguousarray(np.asarray(array))
            parts += [str(array.dtype), str(array.shape), array.tobytes() if array.dtype != object else repr(array.tolist())]
        return _sha256("arrays", *parts)
    return _sha256("object", repr(data))


def _weights_digest(model) -> str:
    return _sha256(*(np.ascontiguousarray(keras.ops.convert_to_numpy(w.value)).tobytes() for w in model.weights))


def _without_names(config):
    """A model config without layer names: Keras numbers automatic names per process (``dense_3``), so two
    builds of the same architecture differ only there."""
    if isinstance(config, dict):
        return {k: _without_names(v) for k, v in config.items() if k not in ("name", "inbound_nodes")}
    if isinstance(config, list):
        return [_without_names(v) for v in config]
    return config


def _compare_fingerprints(old: dict, new: dict) -> list[str]:
    """Human-readable differences between two run fingerprints."""
    out = []
    if old.get("model", {}).get("config") != new["model"]["config"]:
        out.append("the model architecture / config")
    elif old.get("model", {}).get("initial_weights") != new["model"]["initial_weights"]:
        out.append("the model's initial weights (another preset, pretrained file or seed)")
    old_fit, new_fit = old.get("fit", {}), new["fit"]
    for key in sorted(set(old_fit) | set(new_fit)):
        if old_fit.get(key) != new_fit.get(key):
            out.append(f"fit argument {key}: {old_fit.get(key)!r} then, {new_fit.get(key)!r} now")
    for part in ("train", "validation"):
        if old.get("data", {}).get(part) != new["data"].get(part):
            out.append(f"the {part} data")
    return out


def _prepare_run_dir(run_dir: Path, fingerprint: dict, *, overwrite: bool) -> str:
    """Checks ``run_dir`` against this run's fingerprint: ``"new"``, ``"resume"`` or ``"finished"``.

    Raises:
        ResumeError: the folder holds another run (or one without a fingerprint) and ``overwrite`` is off.
    """
    path = run_dir / "fingerprint.json"
    leftovers = [p for p in ("config.json", "backup", "checkpoints", "history.csv") if (run_dir / p).exists()]
    if overwrite and (path.exists() or leftovers):
        for name in ("fingerprint.json", "config.json", "history.csv", "final.weights.h5"):
            (run_dir / name).unlink(missing_ok=True)
        for name in ("backup", "checkpoints", "tensorboard"):
            shutil.rmtree(run_dir / name, ignore_errors=True)
        return "new"
    if not path.exists():
        if leftovers:
            raise ResumeError(f"{run_dir} holds a run without a fingerprint ({', '.join(leftovers)}): it cannot be "
                              "told apart from this one. Use a new run_dir, or overwrite=True to start afresh there")
        return "new"
    old = json.loads(path.read_text())
    differences = _compare_fingerprints(old, fingerprint)
    if differences:
        raise ResumeError(f"{run_dir} holds another run; it differs in: " + "; ".join(differences)
                          + ". Use a new run_dir, or overwrite=True to replace that run")
    return "finished" if old.get("finished") and (run_dir / "final.weights.h5").exists() else "resume"


def _epoch_shuffled_batches(arrays, *, global_batch: int, seed: int, start_epoch: int):
    """Batches of in-memory arrays, reshuffled every epoch by a stateless permutation of ``(seed, epoch)``.

    Unlike ``Dataset.shuffle(reshuffle_each_iteration=True)``, whose order changes when a strategy
    rewrites the pipeline, the order depends only on the seed and the epoch: one device and two
    mirrored replicas see the same global batches, and a resumed run sees the batches it would have
    seen without the interruption. The dataset repeats; ``fit`` bounds it with ``steps_per_epoch``.
    """
    n = len(arrays[0])
    tensors = tuple(tf.constant(a) for a in arrays)

    def one_epoch(epoch):
        order = tf.random.experimental.stateless_shuffle(tf.range(n), seed=tf.stack([tf.constant(seed, tf.int64), epoch]))
        return tf.data.Dataset.from_tensor_slices(order).batch(global_batch)

    ds = tf.data.Dataset.range(start_epoch, start_epoch + 1_000_000).flat_map(one_epoch)
    return ds.map(lambda idx: tuple(tf.gather(t, idx) for t in tensors), num_parallel_calls=tf.data.AUTOTUNE)


def _as_dataset(data, *, global_batch: int, shuffle: bool, seed: int, class_weight, one_hot_classes: int | None,
                start_epoch: int = 0):
    """Training/validation data as a ``tf.data.Dataset`` of global batches, and its steps per epoch.

    ``(x, y[, w])`` arrays are batched here (per-epoch shuffling when ``shuffle``); a dataset must
    already yield batches. Class weights and one-hot labels are added inside the pipeline.
    """
    steps = None
    if isinstance(data, tf.data.Dataset):
        ds = data
    elif isinstance(data, tuple | list) and len(data) in (2, 3):
        arrays = tuple(np.asarray(a) for a in data)
        n = len(arrays[0])
        if any(len(a) != n for a in arrays):
            raise ValueError(f"x, y (and sample weights) must have the same length, got {[len(a) for a in arrays]}")
        if shuffle:
            ds = _epoch_shuffled_batches(arrays, global_batch=global_batch, seed=seed, start_epoch=start_epoch)
            steps = math.ceil(n / global_batch)
        else:
            ds = tf.data.Dataset.from_tensor_slices(arrays).batch(global_batch)
        options = tf.data.Options()
        # In-memory data has no files to shard: every worker reads it all and keeps its share of each batch.
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        ds = ds.with_options(options)
    else:
        raise TypeError("training data must be a tf.data.Dataset of batches or a tuple (x, y) / (x, y, sample_weight)")

    if class_weight is not None:
        if isinstance(data, tuple | list):  # in-memory labels: every class present must have a weight
            missing = sorted(set(np.unique(np.asarray(data[1]).astype(int)).tolist()) - set(class_weight))
            if missing:
                raise ConfigError(f"class_weight has no weight for class(es) {missing[:10]} present in the labels; "
                                  "give every class a weight (restoolkit.training.balanced_class_weight(y) does)")
        table = np.zeros(max(class_weight) + 1, "float32")
        for cls, weight in class_weight.items():
            table[cls] = weight
        table = tf.constant(table)

        # Keras' class_weight does not work with distributed datasets: the weights travel as sample weights.
        def add_class_weight(x, y, w=None):
            cw = tf.gather(table, tf.cast(tf.reshape(y, [-1]), tf.int32))
            return x, y, cw if w is None else cw * tf.cast(tf.reshape(w, [-1]), tf.float32)

        ds = ds.map(add_class_weight, num_parallel_calls=tf.data.AUTOTUNE)
    if one_hot_classes:
        ds = ds.map(lambda x, y, *w: (x, tf.one_hot(tf.cast(tf.reshape(y, [-1]), tf.int32), one_hot_classes), *w))
    if steps is None:
        cardinality = int(ds.cardinality())
        steps = cardinality if cardinality > 0 else None
    return ds.prefetch(tf.data.AUTOTUNE), steps


def _optimizer(name, *, learning_rate, weight_decay, warmup_steps, total_steps, schedule, clipnorm,
               ema_momentum=None):
    if schedule == "cosine" and total_steps:
        lr = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=0.0 if warmup_steps else learning_rate,
            decay_steps=max(total_steps - warmup_steps, 1),
            warmup_target=learning_rate if warmup_steps else None,
            warmup_steps=warmup_steps,
        )
    elif schedule in ("constant", "cosine"):
        lr = learning_rate
    else:
        raise ValueError(f"schedule must be 'cosine' or 'constant', got {schedule!r}")
    clip = {"global_clipnorm": clipnorm} if clipnorm else {}
    if ema_momentum is not None:
        if not 0 < ema_momentum < 1:
            raise ValueError(f"ema_momentum must be in (0, 1), got {ema_momentum}")
        clip.update(use_ema=True, ema_momentum=float(ema_momentum))
    if name == "adamw":
        return keras.optimizers.AdamW(lr, weight_decay=weight_decay, **clip)
    if name == "sgd":
        return keras.optimizers.SGD(lr, momentum=0.9, nesterov=True, weight_decay=weight_decay or None, **clip)
    if name == "adam":
        return keras.optimizers.Adam(lr, **clip)
    raise ValueError(f"optimizer must be 'adamw', 'sgd' or 'adam', got {name!r}")


def fit(
    model,
    train,
    validation=None,
    *,
    epochs: int,
    run_dir,
    strategy=None,
    batch_size: int = 32,
    shuffle: bool = True,
    model_kwargs: dict | None = None,
    loss="sparse_categorical_crossentropy",
    metrics=("accuracy",),
    optimizer: str = "adamw",
    learning_rate: float = 1e-3,
    weight_decay: float = 0.05,
    warmup_epochs: float = 0.0,
    schedule: str = "cosine",
    label_smoothing: float = 0.0,
    clipnorm: float | None = None,
    ema_momentum: float | None = None,
    mixed_precision: str | None = None,
    jit_compile: bool = False,
    seed: int = 0,
    deterministic: bool = False,
    class_weight: dict | None = None,
    early_stopping_patience: int | None = None,
    monitor: str | None = None,
    restore_best: bool = False,
    callbacks=(),
    verbose="auto",
    overwrite: bool = False,
    data_fingerprint: dict | str | None = None,
) -> FitResult:
    """Trains a model under a ``tf.distribute`` strategy, resumably, into a run directory.

    Args:
        model: a registry name (built with ``model_kwargs``), a callable returning an uncompiled model,
            or a ``keras.Model``. It is built and compiled under the strategy's scope.
        train: ``(x, y)`` / ``(x, y, sample_weight)`` arrays, or a ``tf.data.Dataset`` of *global* batches.
        validation: the same forms, or ``None``.
        epochs: total epochs; a resumed run trains only the missing ones.
        run_dir: where ``config.json``, ``history.csv``, ``checkpoints/``, ``tensorboard/`` and
            ``backup/`` go. Only the chief writes here; other workers write to a temporary directory.
        strategy: a ``tf.distribute.Strategy``, a kind for :func:`restoolkit.training.strategy`, or
            ``None`` for ``"auto"``.
        batch_size: per-replica batch for array inputs; the global batch is ``batch_size × replicas``.
        shuffle: reshuffle array inputs every epoch (seeded); datasets are used as given.
        loss, metrics: as in ``compile``. The default loss reads probabilities or logits from the last
            layer's activation.
        optimizer: ``adamw`` (no weight decay on norms, biases and other 1-D weights), ``sgd`` or ``adam``.
        learning_rate, weight_decay, warmup_epochs, schedule: linear warmup then cosine decay.
        label_smoothing: for classification losses (labels become one-hot inside ``tf.data``).
        clipnorm: global gradient-norm clipping.
        ema_momentum: keep an exponential moving average of the weights (Keras' ``use_ema``) and end
            with it: ``0.99`` averages over about the last 100 steps. Smooths the end point of training,
            so runs that differ only in their seed end closer together.
        mixed_precision: ``None``/``"float32"``, ``"mixed_float16"`` (with dynamic loss scaling) or
            ``"mixed_bfloat16"``; ``"auto"``: bfloat16 where the hardware computes it natively, else float32
            (:func:`~restoolkit.training.precision.resolve_mixed_precision`; the run records the choice).
        jit_compile: XLA-compile the train step.
        seed: seeds Python, NumPy, TensorFlow and Keras, and the shuffle.
        deterministic: enable TensorFlow's deterministic ops.
        class_weight: ``{class: weight}``, carried as sample weights in ``tf.data``.
        early_stopping_patience: stop after this many epochs without improvement of ``monitor``.
        monitor: metric for the best checkpoint and early stopping; ``val_loss`` with validation data,
            else ``loss``.
        restore_best: end with the weights of the epoch that was best on ``monitor`` (checkpoint
            selection on validation data), not the last epoch's.
        callbacks: extra Keras callbacks.
        verbose: Keras' progress output.
        overwrite: replace whatever run ``run_dir`` holds instead of refusing a different one.
        data_fingerprint: what identifies the data (a digest, or a dict of them), for data whose
            identity the caller knows better than :func:`fingerprint_data` does (file lists, tables).

    A run directory records a fingerprint of the model (config and initial weights), every fit argument
    and the data. Calling ``fit`` again with the same fingerprint resumes an interrupted run, or returns
    a finished one without training; a different fingerprint raises :class:`~restoolkit.errors.ResumeError`
    naming what differs, unless ``overwrite=True``.

    Returns:
        :class:`FitResult` with the trained model and the whole run's history.

    Example:
        >>> result = fit("cifar_resnet20", (x, y), epochs=3, run_dir="runs/r20", batch_size=64,
        ...              model_kwargs={"num_classes": 4})
    """
    if mixed_precision not in MIXED_POLICIES:
        raise ConfigError(f"mixed_precision must be one of {MIXED_POLICIES}, got {mixed_precision!r}")
    mixed_precision = resolve_mixed_precision(mixed_precision)  # "auto" → what this machine computes fast
    if epochs < 1:
        raise ConfigError(f"epochs must be at least 1, got {epochs}")
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    strat = strategy if isinstance(strategy, tf.distribute.Strategy) else make_strategy(strategy or "auto")
    replicas = strat.num_replicas_in_sync
    global_batch = batch_size * replicas
    chief = is_chief(strat)
    run_dir = Path(run_dir).expanduser()
    write_dir = run_dir if chief else Path(tempfile.mkdtemp(prefix="restoolkit-worker-"))
    write_dir.mkdir(parents=True, exist_ok=True)

    previous_policy = keras.config.dtype_policy()
    if mixed_precision:
        keras.config.set_dtype_policy(mixed_precision)
    try:
        with strat.scope():
            net = _build_model(model, model_kwargs)
            fit_args = {
                "epochs": epochs, "batch_size": batch_size, "shuffle": shuffle, "global_batch_size": global_batch,
                "loss": keras.saving.serialize_keras_object(loss) if not isinstance(loss, str) else loss,
                "metrics": [m if isinstance(m, str) else keras.saving.serialize_keras_object(m) for m in metrics or []],
                "optimizer": optimizer, "learning_rate": learning_rate,
                "weight_decay": weight_decay, "warmup_epochs": warmup_epochs, "schedule": schedule,
                "label_smoothing": label_smoothing, "clipnorm": clipnorm, "mixed_precision": mixed_precision,
                **({"ema_momentum": ema_momentum} if ema_momentum is not None else {}),
                "jit_compile": jit_compile, "seed": seed, "deterministic": deterministic,
                "class_weight": {str(k): v for k, v in (class_weight or {}).items()},
                "early_stopping_patience": early_stopping_patience, "monitor": monitor,
                **({"restore_best": True} if restore_best else {}),
            }
            fit_args = json.loads(json.dumps(fit_args, default=str))
            if isinstance(data_fingerprint, dict):
                data_print = {"train": data_fingerprint.get("train"), "validation": data_fingerprint.get("validation")}
            elif data_fingerprint is not None:
                data_print = {"train": str(data_fingerprint), "validation": None}
            else:
                data_print = {"train": fingerprint_data(train),
                              "validation": fingerprint_data(validation)}
            fingerprint = {
                "model": {"config": _sha256(json.dumps(_without_names(keras.saving.serialize_keras_object(net)),
                                                       sort_keys=True, default=str)),
                          # A task still holding its random initialisation is "the same task from scratch"
                          # in any process (resuming restores the weights from the backup anyway).
                          "initial_weights": "fresh initialisation" if getattr(model, "has_fresh_weights", False)
                          else _weights_digest(net)},
                "fit": fit_args, "data": data_print, "finished": False,
            }
            state = _prepare_run_dir(write_dir, fingerprint, overwrite=overwrite) if chief else "new"
            one_hot = None
            loss_obj = loss
            if loss == "sparse_categorical_crossentropy":
                from_logits = not output_is_probability(net)
                if label_smoothing:
                    one_hot = int(net.output_shape[-1])
                    loss_obj = keras.losses.CategoricalCrossentropy(from_logits=from_logits, label_smoothing=label_smoothing)
                else:
                    loss_obj = keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
            elif label_smoothing:
                raise ValueError("label_smoothing applies to the default classification loss only")
            start_epoch = _backed_up_epoch(write_dir / "backup")
            train_ds, steps = _as_dataset(train, global_batch=global_batch, shuffle=shuffle, seed=seed,
                                          class_weight=class_weight, one_hot_classes=one_hot, start_epoch=start_epoch)
            val_ds = None
            if validation is not None:
                val_ds, _ = _as_dataset(validation, global_batch=global_batch, shuffle=False, seed=seed,
                                        class_weight=None, one_hot_classes=one_hot)
            opt = _optimizer(optimizer, learning_rate=learning_rate, weight_decay=weight_decay,
                             warmup_steps=int(round(warmup_epochs * (steps or 0))), total_steps=(steps or 0) * epochs,
                             schedule=schedule, clipnorm=clipnorm, ema_momentum=ema_momentum)
            if optimizer in ("adamw", "sgd") and weight_decay:
                # timm's rule: no decay on 1-D weights (norm scales and offsets, biases, LayerScale, ReZero).
                opt.exclude_from_weight_decay(var_list=[v for v in net.trainable_variables if len(v.shape) <= 1])
            if mixed_precision == "mixed_float16":
                opt = keras.optimizers.LossScaleOptimizer(opt)
            net.compile(optimizer=opt, loss=loss_obj, metrics=list(metrics or []), jit_compile=jit_compile)
            # BackupAndRestore restores optimizer slots too: they must exist, under the scope, first.
            net.optimizer.build(net.trainable_variables)

        if state == "finished":  # the same run, already done: its result, without training again
            net.load_weights(write_dir / "final.weights.h5")
            return FitResult(net, _read_history(write_dir / "history.csv"), run_dir, strat, global_batch)
        atomic_write_text(write_dir / "fingerprint.json", json.dumps(fingerprint, indent=2))
        weight_shapes = [[w.path, list(w.shape)] for w in net.weights]
        monitor = monitor or ("val_loss" if val_ds is not None else "loss")
        mode = "max" if any(k in monitor for k in ("acc", "auc", "precision", "recall")) else "min"
        config = {
            "model": keras.saving.serialize_keras_object(net),
            "model_name": model if isinstance(model, str) else None,
            "model_kwargs": model_kwargs,
            "fit": {**fit_args, "monitor": monitor},
            "weights": weight_shapes,
            "strategy": type(strat).__name__,
            "replicas": replicas,
            "versions": {"keras": keras.__version__, "tensorflow": tf.__version__, "python": platform.python_version()},
        }
        atomic_write_text(write_dir / "config.json", json.dumps(config, indent=2, default=str))

        cbs = [
            # Restores weights, optimizer state and the epoch counter of an interrupted run.
            keras.callbacks.BackupAndRestore(str(write_dir / "backup"), double_checkpoint=True, delete_checkpoint=False),
            ResumableHistory(write_dir / "history.csv"),
            StopOnNonFiniteLoss(),
            AtomicCheckpoint(write_dir / "checkpoints", monitor=monitor, mode=mode),
            keras.callbacks.TensorBoard(str(write_dir / "tensorboard"), write_graph=False, profile_batch=0),
        ]
        if early_stopping_patience is not None:
            cbs.append(keras.callbacks.EarlyStopping(monitor=monitor, mode=mode, patience=early_stopping_patience,
                                                     restore_best_weights=True))
        cbs.extend(callbacks)
        net.fit(train_ds, validation_data=val_ds, epochs=epochs, steps_per_epoch=steps, callbacks=cbs,
                verbose=verbose, shuffle=False)
        best = write_dir / "checkpoints" / "best.keras"
        if restore_best and best.exists():
            # The checkpoint AtomicCheckpoint kept for the best epoch on `monitor`: it survives a resume,
            # where an in-memory copy of the best weights would only know the epochs after it.
            net.load_weights(best)
        if chief:
            # The weights fit returns (early stopping may have restored the best), then the mark that the
            # run is complete: a crash between the two leaves a run that resumes, never a half-written one.
            tmp = write_dir / ".final.tmp.weights.h5"
            net.save_weights(tmp)
            shutil.move(tmp, write_dir / "final.weights.h5")
            atomic_write_text(write_dir / "fingerprint.json", json.dumps({**fingerprint, "finished": True}, indent=2))
        history = _read_history(write_dir / "history.csv")
    finally:
        keras.config.set_dtype_policy(previous_policy)
        if not chief:  # a worker's scratch copy of the run; only the chief's run directory is kept
            shutil.rmtree(write_dir, ignore_errors=True)
    return FitResult(net, history, run_dir, strat, global_batch)


def _backed_up_epoch(backup_dir: Path) -> int:
    """The epoch ``BackupAndRestore`` will resume from (0 for a new run)."""
    meta = backup_dir / "training_metadata.json"
    return int(json.loads(meta.read_text())["epoch"]) if meta.exists() else 0


def _read_history(path: Path) -> dict[str, list[float]]:
    import csv

    if not path.exists():
        return {}
    with path.open() as f:
        rows = list(csv.DictReader(f))
    keys = list(rows[0]) if rows else []
    return {k: [float(r[k]) if r[k] not in ("", None) else math.nan for r in rows] for k in keys}
