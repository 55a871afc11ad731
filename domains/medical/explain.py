"""Grad-CAM (Selvaraju et al. 2017) for 2-D and 3-D classifiers, and an overlay plot."""

from __future__ import annotations

import keras
import numpy as np


def last_spatial_layer(model) -> str:
    """The last layer whose output still has the input's spatial rank (the usual Grad-CAM target)."""
    rank = len(model.input_shape)
    for layer in reversed(model.layers):
        shape = getattr(layer, "output", None) is not None and layer.output.shape
        if shape and len(shape) == rank and layer is not model.layers[0]:
            return layer.name
    raise ValueError(f"model {model.name!r} has no layer with {rank - 2}-D spatial output")


def grad_cam(model, image, *, layer: str | None = None, class_index: int | None = None) -> np.ndarray:
    """A class-activation map in [0, 1] with the image's spatial shape.

    The gradient of the class score is taken with respect to ``layer``'s feature map; each channel is
    weighted by its mean gradient, the weighted sum is rectified, upsampled linearly to the input size
    and divided by its maximum.

    Args:
        model: a classifier (sigmoid or softmax output).
        image: one image ``(H, W, C)`` or volume ``(D, H, W, C)``, as the model takes it.
        layer: the feature layer; defaults to :func:`last_spatial_layer`.
        class_index: the output column; defaults to the last (the finding, for a sigmoid model) or the
            arg-max for softmax models.

    Returns:
        ``(H, W)`` or ``(D, H, W)`` float32 heat map.

    Example:
        >>> heat = grad_cam(model, image)
        >>> overlay(image, heat)
    """
    import tensorflow as tf
    from scipy.ndimage import zoom

    image = np.asarray(image, "float32")
    if image.shape != tuple(model.input_shape[1:]) and len(image.shape) != len(model.input_shape) - 1:
        raise ValueError(f"image shape {image.shape} does not match the model input {model.input_shape[1:]}")
    target = model.get_layer(layer or last_spatial_layer(model)).output
    probe = keras.Model(model.inputs, [target, model.output])
    with tf.GradientTape() as tape:
        features, outputs = probe([image[None]], training=False)
        column = class_index if class_index is not None else (
            int(tf.argmax(outputs[0])) if outputs.shape[-1] > 1 else outputs.shape[-1] - 1)
        score = outputs[:, column]
    grads = tape.gradient(score, features)
    spatial = tuple(range(1, len(features.shape) - 1))
    weights = tf.reduce_mean(grads, axis=spatial, keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(weights * features, axis=-1))[0].numpy()
    cam = zoom(cam, [t / s for t, s in zip(image.shape[:-1], cam.shape, strict=True)], order=1, grid_mode=True,
               mode="nearest")
    peak = float(cam.max())
    return (cam / peak if peak > 0 else np.zeros_like(cam)).astype("float32")


def overlay(image, heatmap, *, ax=None, alpha: float = 0.4, title: str | None = None):
    """Draws the image (first channel, or the middle slice of a volume) with the heat map over it."""
    import matplotlib.pyplot as plt

    image, heatmap = np.asarray(image), np.asarray(heatmap)
    if image.ndim == 4:
        middle = image.shape[0] // 2
        image, heatmap = image[middle], heatmap[middle]
    ax = ax or plt.subplots(figsize=(4, 4))[1]
    ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=1)
    ax.imshow(heatmap, cmap="jet", alpha=alpha, vmin=0, vmax=1)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax
