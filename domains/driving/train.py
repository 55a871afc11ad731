"""Training a detector on the shared training layer (any ``tf.distribute`` strategy, mixed precision)."""

from __future__ import annotations

from domains.driving.data import make_dataset
from domains.driving.model import Detector, build_detector
from restoolkit.training import FitResult, fit


def train_detector(
    train_frames,
    validation_frames=None,
    *,
    run_dir,
    backbone: str = "resnet50",
    class_names=("Car", "Pedestrian", "Cyclist"),
    input_size=(384, 1248),
    epochs: int = 12,
    batch_size: int = 8,
    strategy=None,
    learning_rate: float = 1e-4,
    weight_decay: float = 1e-4,
    box_loss: str = "smooth_l1",
    alpha: float = 0.25,
    gamma: float = 2.0,
    augment: bool = True,
    detector_kwargs: dict | None = None,
    **fit_kwargs,
) -> tuple[Detector, FitResult]:
    """Builds a :class:`Detector` under the strategy and trains it with :func:`restoolkit.training.fit`.

    Args:
        train_frames, validation_frames: :class:`~domains.driving.data.Frame` lists (KITTI, BDD100K,
            COCO or synthetic).
        run_dir: the run directory (resumable; checkpoints, history, TensorBoard).
        backbone, class_names, input_size, detector_kwargs: as in :func:`build_detector`
            (``weights=`` a pretrained backbone, ``freeze_at``, ``fpn_width``…).
        epochs, batch_size (global), strategy, learning_rate, weight_decay: training settings.
        box_loss, alpha, gamma: :class:`~domains.driving.model.DetectionLoss` settings.
        augment: flip, scale jitter and photometric augmentation of the training frames.
        **fit_kwargs: passed to :func:`restoolkit.training.fit` (``mixed_precision``, ``clipnorm``…).

    Returns:
        ``(detector, fit_result)``.
    """
    template = build_detector(backbone, class_names, input_size=input_size, **(detector_kwargs or {}))
    train = make_dataset(train_frames, class_names, input_size=input_size, anchors=template.anchors,
                         batch_size=batch_size, augment=augment, shuffle=True, seed=fit_kwargs.get("seed", 0))
    validation = None
    if validation_frames:
        validation = make_dataset(validation_frames, class_names, input_size=input_size, anchors=template.anchors,
                                  batch_size=batch_size)

    def model():
        return build_detector(backbone, class_names, input_size=input_size, **(detector_kwargs or {})).model

    result = fit(model, train, validation, epochs=epochs, run_dir=run_dir, strategy=strategy,
                 loss=template.loss(box_loss=box_loss, alpha=alpha, gamma=gamma), metrics=(),
                 learning_rate=learning_rate, weight_decay=weight_decay,
                 clipnorm=fit_kwargs.pop("clipnorm", 10.0), **fit_kwargs)
    return Detector(result.model, class_names, input_size, template.anchor_config, template.nms), result
