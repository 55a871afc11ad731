"""What residual connections do, measured on any model the registry builds.

Two different pathologies hide behind "vanishing gradients" in plain (shortcut-free) deep nets, and
which one appears depends on normalisation. Measured here at initialisation on one fixed batch of 64
generated 32×32 images, 56-layer CIFAR nets (``tests/test_diagnostics.py`` holds these):

- **With batch norm**, the plain net's gradients *explode* towards the input: per-block gradient norms
  of ``cifar_plain56`` span about 2e3 (first block ≈ 1e3, last ≈ 0.6), against about 4 for
  ``cifar_resnet56``. This is the gradient explosion of batch-normalised deep nets (Yang et al. 2019,
  "A Mean Field Theory of Batch Normalization"), not vanishing.
- **Without normalisation** (``norm_layer="none"``, He initialisation), the plain net's gradients are
  tiny compared with the residual net's: first-block norms about 3e-2 against 3e3. With He init the
  plain net keeps its signal roughly constant while each identity path *adds* variance, so the residual
  net's activations and gradients grow with depth; with a smaller (Glorot) init the plain net's
  gradients vanish outright.

Functions:
    :func:`residual_blocks`, :func:`gradient_norms`, :func:`branch_ratios`, :func:`lesion`,
    :func:`degradation_experiment`, :func:`plot_degradation`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import keras
import numpy as np
import pandas as pd
import tensorflow as tf


def residual_blocks(model: keras.Model) -> list[keras.layers.Layer]:
    """The model's residual (or plain-twin) blocks in depth order: layers with ``residual_parts``."""
    blocks = [layer for layer in model.layers if hasattr(layer, "residual_parts")]
    if not blocks:
        raise ValueError(f"model {model.name!r} has no restoolkit residual blocks")
    return blocks


def _loss_fn(model):
    from restoolkit.training.fit import output_is_probability

    return keras.losses.SparseCategoricalCrossentropy(from_logits=not output_is_probability(model))


def gradient_norms(model: keras.Model, batch, *, loss=None, training: bool = True) -> pd.DataFrame:
    """The L2 norm of the loss gradient with respect to each block's weights, ordered by depth.

    Args:
        model: a classifier from the registry (or any model with restoolkit blocks).
        batch: ``(x, y)`` with integer labels.
        loss: a Keras loss; defaults to sparse cross-entropy reading logits or probabilities.
        training: run norms in training mode (batch statistics), as during training.

    Returns:
        DataFrame with ``depth`` (1 = nearest the input), ``block`` and ``grad_norm``.

    Example:
        >>> df = gradient_norms(create("cifar_plain56"), (x, y))
        >>> df.grad_norm.max() / df.grad_norm.min()
    """
    x, y = batch
    loss = loss or _loss_fn(model)
    blocks = residual_blocks(model)
    variables = [b.trainable_variables for b in blocks]
    with tf.GradientTape() as tape:
        value = loss(y, model(x, training=training))
    grads = tape.gradient(value, [v for vs in variables for v in vs])
    norms, i = [], 0
    for vs in variables:
        g = [t for t in grads[i : i + len(vs)] if t is not None]
        i += len(vs)
        norms.append(float(tf.sqrt(tf.add_n([tf.reduce_sum(tf.square(tf.cast(t, tf.float32))) for t in g]))))
    return pd.DataFrame({"depth": range(1, len(blocks) + 1), "block": [b.name for b in blocks], "grad_norm": norms})


def _block_inputs(model, blocks, x):
    taps = keras.Model(model.input, [b.input for b in blocks])
    outs = taps(x, training=False)
    return outs if isinstance(outs, list | tuple) else [outs]


def branch_ratios(model: keras.Model, x) -> pd.DataFrame:
    """``‖F(x)‖ / ‖x‖`` for every residual block, in inference mode: how much each block changes its input.

    Small ratios mean the network leans on the identity path (Veit et al. 2016; De & Smith 2020).

    Returns:
        DataFrame with ``depth``, ``block``, ``branch_norm``, ``input_norm`` and ``ratio``.
    """
    blocks = residual_blocks(model)
    rows = []
    for depth, (block, inp) in enumerate(zip(blocks, _block_inputs(model, blocks, x), strict=True), start=1):
        branch, _ = block.residual_parts(inp, training=False)
        b = float(np.linalg.norm(np.asarray(branch, dtype="float64")))
        n = float(np.linalg.norm(np.asarray(inp, dtype="float64")))
        rows.append({"depth": depth, "block": block.name, "branch_norm": b, "input_norm": n, "ratio": b / max(n, 1e-12)})
    return pd.DataFrame(rows)


def accuracy(y_true, y_pred) -> float:
    """Top-1 accuracy of class probabilities or logits."""
    from sklearn.metrics import accuracy_score

    return float(accuracy_score(np.asarray(y_true).ravel(), np.asarray(y_pred).argmax(-1)))


def lesion(model: keras.Model, data, metric: Callable = accuracy, *, batch_size: int = 256) -> pd.DataFrame:
    """The metric with each residual block removed in turn (its output becomes its shortcut).

    Veit, Wilber & Belongie (2016), "Residual Networks Behave Like Ensembles of Relatively Shallow
    Networks": removing one identity-shortcut block of a trained ResNet costs little, removing a
    downsampling block (projection shortcut) costs more, and a plain net cannot lose any layer.

    Args:
        model: a model with residual blocks (plain twins raise ``ValueError``).
        data: ``(x, y)`` arrays.
        metric: ``metric(y_true, y_pred) -> float``; top-1 accuracy by default.
        batch_size: evaluation batch size.

    Returns:
        DataFrame with ``depth`` (0 = the intact model), ``block``, ``shortcut`` and ``metric``.
    """
    x, y = data
    blocks = residual_blocks(model)
    plain = [b.name for b in blocks if not b.residual]
    if plain:
        raise ValueError(f"blocks without a shortcut cannot be lesioned: {plain[:3]}…")

    def evaluate():
        preds = [np.asarray(model(x[i : i + batch_size], training=False)) for i in range(0, len(x), batch_size)]
        return float(metric(y, np.concatenate(preds)))

    rows = [{"depth": 0, "block": "(none)", "shortcut": "", "metric": evaluate()}]
    for depth, block in enumerate(blocks, start=1):
        if not hasattr(block, "lesioned"):  # ResidualDense has no lesion switch yet
            continue
        block.lesioned = True
        try:
            rows.append({"depth": depth, "block": block.name, "shortcut": block.shortcut.kind, "metric": evaluate()})
        finally:
            block.lesioned = False
    return pd.DataFrame(rows)


def degradation_experiment(
    depths: Sequence[int] = (8, 20, 56),
    *,
    epochs: int = 10,
    n_train: int = 2048,
    n_val: int = 512,
    batch_size: int = 64,
    learning_rate: float = 0.05,
    seed: int = 0,
    verbose: int = 0,
) -> pd.DataFrame:
    """Trains plain and residual CIFAR-style nets of each depth with the same budget (He et al. 2016, fig. 1).

    Data: the generated oriented-grating images (:func:`restoolkit.datasets.oriented_gratings`).
    Optimiser: SGD with momentum 0.9, cosine decay, same seed for both kinds.

    Returns:
        DataFrame with ``depth``, ``kind`` (``plain``/``residual``), ``train_error``, ``val_error``,
        ``final_loss`` and ``seconds``.
    """
    from restoolkit.datasets import oriented_gratings
    from restoolkit.models import create

    x, y = oriented_gratings(n_train + n_val, seed=seed)
    xt, yt, xv, yv = x[:n_train], y[:n_train], x[n_train:], y[n_train:]
    steps = epochs * int(np.ceil(n_train / batch_size))
    rows = []
    for depth in depths:
        if (depth - 2) % 6:
            raise ValueError(f"CIFAR-style depths are 6n + 2 (8, 14, 20, 32, 44, 56, 110), got {depth}")
        n = (depth - 2) // 6
        for kind in ("plain", "residual"):
            keras.utils.set_random_seed(seed)
            model = create("cifar_resnet20", layers=(n, n, n), residual=kind == "residual", num_classes=4,
                           name=f"cifar_{kind}{depth}")
            schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps)
            model.compile(keras.optimizers.SGD(schedule, momentum=0.9), "sparse_categorical_crossentropy",
                          metrics=["accuracy"])
            start = time.perf_counter()
            history = model.fit(xt, yt, epochs=epochs, batch_size=batch_size, verbose=verbose)
            seconds = time.perf_counter() - start
            train_acc = accuracy(yt, model.predict(xt, batch_size=256, verbose=0))
            val_acc = accuracy(yv, model.predict(xv, batch_size=256, verbose=0))
            rows.append({"depth": depth, "kind": kind, "train_error": 1 - train_acc, "val_error": 1 - val_acc,
                         "final_loss": history.history["loss"][-1], "seconds": seconds})
            print(f"depth {depth:>3} {kind:>8}: train error {1 - train_acc:.3f}, val error {1 - val_acc:.3f} "
                  f"({seconds:.0f} s)", flush=True)
    return pd.DataFrame(rows)


def plot_degradation(df: pd.DataFrame, ax=None):
    """Error against depth for plain and residual nets (dashed: training, solid: validation).

    Returns:
        The matplotlib ``Axes``.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    for kind, color in (("plain", "tab:red"), ("residual", "tab:blue")):
        part = df[df.kind == kind].sort_values("depth")
        ax.plot(part.depth, part.train_error, "--o", color=color, label=f"{kind} (train)")
        ax.plot(part.depth, part.val_error, "-o", color=color, label=f"{kind} (validation)")
    ax.set_xlabel("depth (layers)")
    ax.set_ylabel("error")
    ax.set_title("Degradation: deeper plain nets train worse")
    ax.legend(fontsize=8)
    return ax
