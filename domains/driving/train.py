"""``train``: an :class:`ObjectDetector` on frames, on the shared training layer (any strategy, mixed precision)."""

from __future__ import annotations

import hashlib
import os

from domains.driving.data import make_dataset
from restoolkit.tasks import train_task
from restoolkit.training import FitResult


def frames_fingerprint(frames, extra) -> str:
    """A digest of frames: each image file (path, size, modification time), its boxes and labels."""
    h = hashlib.sha256(repr(extra).encode())
    for f in frames:
        stat = os.stat(f.image_path) if f.image_path and os.path.exists(f.image_path) else None
        h.update(f"{f.image_path}|{stat and stat.st_size}|{stat and stat.st_mtime_ns}|{f.labels}".encode())
        h.update(f.boxes.tobytes())
    return h.hexdigest()


def train(task, train, validation=None, *, run_dir, batch_size: int = 8, augment: bool = True,
          **fit_options) -> FitResult:
    """Trains ``task`` (an :class:`~domains.driving.ObjectDetector`) with :func:`restoolkit.training.fit`.

    Args:
        task: the detector; its anchors encode the targets and its preprocessor letterboxes the images.
        train, validation: :class:`~domains.driving.data.Frame` lists (KITTI, BDD100K, COCO or synthetic).
        run_dir: the run directory; the same task, frames and settings resume or return the finished run,
            anything else is refused (``overwrite=True`` replaces it).
        batch_size: the global batch.
        augment: flip, scale jitter and photometric augmentation of the training frames.
        **fit_options: :func:`restoolkit.training.fit` options over the task's defaults (``epochs``,
            ``learning_rate``, ``strategy``, ``mixed_precision``, ``seed``…).

    Returns:
        :class:`restoolkit.training.FitResult` whose ``model`` is ``task``, trained.
    """
    seed = fit_options.get("seed", 0)
    options = {"input_size": task.input_size, "anchors": task.anchors, "batch_size": batch_size,
               "iou_thresholds": task.iou_thresholds}
    key = (task.class_names, task.input_size)
    fingerprint = {"train": frames_fingerprint(train, (*key, augment))}
    train_ds = make_dataset(train, task.class_names, augment=augment, shuffle=True, seed=seed, **options)
    val_ds = None
    if validation:
        fingerprint["validation"] = frames_fingerprint(validation, key)
        val_ds = make_dataset(validation, task.class_names, **options)
    return train_task(task, train_ds, val_ds, run_dir=run_dir, data_fingerprint=fingerprint, batch_size=batch_size,
                      **fit_options)
