"""``ObjectDetector``: a RetinaNet (registry ResNet + FPN + shared heads) as one Keras task, with its
anchors, target encoding, loss, decoding and per-class NMS."""

from __future__ import annotations

import keras
import numpy as np

from domains.driving.boxes import DEFAULT_ANCHORS, AnchorConfig, make_anchors
from domains.driving.model import NMS_PRESETS, DetectionLoss, NMSConfig, build_retinanet, postprocess
from domains.driving.preprocessor import DetectionPreprocessor
from restoolkit.errors import ConfigError
from restoolkit.tasks import Task

SCENES_RECIPE = "backbone trained by `make pretrain` inside a RetinaNet on synthetic road scenes"


@keras.saving.register_keras_serializable("restoolkit")
class ObjectDetector(Task):
    """RetinaNet: images in [0, 255] → ``(B, N, 4 + C)`` raw outputs; ``predict`` decodes and applies NMS.

    Args:
        backbone: a registry backbone (``resnet18``, ``resnet50``…).
        class_names: the classes, in output order.
        preprocessor: a :class:`DetectionPreprocessor` or its arguments (``{"input_size": (H, W)}``).
        fpn_width, head_width, head_depth, prior_probability: FPN and head sizes, the class prior.
        head_norm: ``"group"`` for GroupNormalization in the head towers (see :func:`build_retinanet`).
        anchor_config: an :class:`AnchorConfig` or its dict (default: 3 scales × 3 aspects, P3–P7).
        nms: a preset name from :data:`NMS_PRESETS` or an :class:`NMSConfig` / its dict.
        freeze_at, frozen_bn, p6_source: backbone options (see :func:`detection_backbone`). The defaults
            train everything, batch norm included: right for a backbone from scratch. A detector made
            from a pretrained classifier's preset (``from_preset`` of a classifier or backbone) defaults to
            ``freeze_at=1, frozen_bn=True`` instead, as torchvision does with pretrained weights.
        box_loss, alpha, gamma: the :class:`DetectionLoss` (smooth-L1 or GIoU; focal α, γ).
        iou_thresholds: ``(positive, negative)`` of the anchor matcher (:func:`assign_targets`): the
            paper's (0.5, 0.4) by default; the scenes preset uses (0.4, 0.3), which gives small and thin
            objects (pedestrians of 8×24 px) twice the positive anchors and learns faster.

    Default training policy (:meth:`fit_defaults`): AdamW, learning rate 1e-3, weight decay 1e-4, cosine
    decay, gradient clipping at norm 10, 12 epochs.

    Example:
        >>> task = ObjectDetector("resnet18", ("Car", "Pedestrian", "Cyclist"), preprocessor={"input_size": (128, 384)})
        >>> frames = task.predict(["000000.png"])   # boxes in each image's own pixels
    """

    presets = {
        "retinanet_resnet10_050_synthetic_scenes": {
            "description": "RetinaNet, half-width ResNet-10 backbone trained on synthetic road scenes (Car, "
                           "Pedestrian, Cyclist)",
            # What trains fastest on 2 CPU cores (benchmarks/RESULTS.md, "detection learning"): a slim
            # backbone (2.4x the steps of resnet18 per second), small FPN and heads, anchors at half the
            # paper's size with a 1:3 aspect for pedestrians and cyclists (objects of 8-200 px at 128x384),
            # and a matcher at IoU 0.4 / 0.3, which doubles the positive anchors of thin objects.
            "config": {"backbone": "resnet10_050", "class_names": ["Car", "Pedestrian", "Cyclist"],
                       "preprocessor": {"input_size": [128, 384]}, "fpn_width": 64, "head_width": 64,
                       "head_depth": 2, "freeze_at": 0, "frozen_bn": False,
                       "anchor_config": {"size_multiplier": 2.0, "aspect_ratios": [1 / 3, 0.5, 1.0, 2.0]},
                       "iou_thresholds": [0.4, 0.3]},
            "recipe": SCENES_RECIPE,
        },
    }

    def __init__(self, backbone: str = "resnet18", class_names=("Car", "Pedestrian", "Cyclist"), *, preprocessor=None,
                 fpn_width: int = 256, head_width: int = 256, head_depth: int = 4, prior_probability: float = 0.01,
                 head_norm: str | None = None, anchor_config=None, nms="evaluation", freeze_at=0, frozen_bn: bool = False, p6_source: str = "C5",
                 box_loss: str = "smooth_l1", alpha: float = 0.25, gamma: float = 2.0, iou_thresholds=(0.5, 0.4),
                 **kwargs):
        if isinstance(preprocessor, dict):
            preprocessor = DetectionPreprocessor(**preprocessor)
        preprocessor = preprocessor or DetectionPreprocessor()
        if isinstance(anchor_config, dict):
            anchor_config = AnchorConfig.from_dict(anchor_config)
        anchor_config = anchor_config or DEFAULT_ANCHORS
        if isinstance(nms, str):
            if nms not in NMS_PRESETS:
                raise ConfigError(f"nms must be one of {sorted(NMS_PRESETS)} or an NMSConfig, got {nms!r}")
            nms = NMS_PRESETS[nms]
        elif isinstance(nms, dict):
            nms = NMSConfig(**nms)
        if not class_names:
            raise ConfigError("class_names must name at least one class")
        if box_loss not in ("smooth_l1", "giou"):
            raise ConfigError(f"box_loss must be 'smooth_l1' or 'giou', got {box_loss!r}")
        positive_iou, negative_iou = (float(t) for t in iou_thresholds)
        if not 0 < negative_iou <= positive_iou <= 1:
            raise ConfigError(f"iou_thresholds must be (positive, negative) with 0 < negative <= positive <= 1, "
                              f"got {tuple(iou_thresholds)}")
        net = build_retinanet(backbone, num_classes=len(class_names), input_size=preprocessor.input_size,
                              anchor_config=anchor_config, fpn_width=fpn_width, head_width=head_width,
                              head_depth=head_depth, prior_probability=prior_probability, head_norm=head_norm, freeze_at=freeze_at,
                              frozen_bn=frozen_bn, p6_source=p6_source)
        super().__init__(inputs=net.input, outputs=net.output, name=kwargs.pop("name", f"retinanet_{backbone}"),
                         **kwargs)
        self.preprocessor = preprocessor
        self.backbone_name = backbone
        self.class_names = [str(c) for c in class_names]
        self.anchor_config, self.nms = anchor_config, nms
        self.architecture = {"fpn_width": int(fpn_width), "head_width": int(head_width), "head_depth": int(head_depth),
                             "prior_probability": float(prior_probability), "head_norm": head_norm, "freeze_at": freeze_at,
                             "frozen_bn": bool(frozen_bn), "p6_source": p6_source}
        self.loss_options = {"box_loss": box_loss, "alpha": float(alpha), "gamma": float(gamma)}
        self.iou_thresholds = (positive_iou, negative_iou)
        self.anchors = make_anchors(self.input_size, anchor_config)
        if self.output_shape[1] != len(self.anchors):
            raise ConfigError(f"the network predicts {self.output_shape[1]} anchors, the anchor config gives "
                              f"{len(self.anchors)} for input {self.input_size}")

    @property
    def input_size(self) -> tuple[int, int]:
        return self.preprocessor.input_size

    @property
    def backbone(self) -> keras.Model:
        """The registry backbone inside the FPN (C2–C5)."""
        return self.get_layer(f"{self.backbone_name}_fpn").get_layer(f"{self.backbone_name}_backbone")

    def get_config(self):
        return {"name": self.name, "backbone": self.backbone_name, "class_names": self.class_names,
                "preprocessor": keras.saving.serialize_keras_object(self.preprocessor), **self.architecture,
                "anchor_config": self.anchor_config.to_dict(), "nms": dict(self.nms.__dict__), **self.loss_options,
                "iou_thresholds": list(self.iou_thresholds)}

    # --- training defaults -----------------------------------------------------------------------

    def default_loss(self, **overrides) -> DetectionLoss:
        return DetectionLoss(len(self.class_names), input_size=self.input_size, anchor_config=self.anchor_config,
                             **{**self.loss_options, **overrides})

    def fit_defaults(self):
        return {"optimizer": "adamw", "learning_rate": 1e-3, "weight_decay": 1e-4, "schedule": "cosine",
                "clipnorm": 10.0, "epochs": 12}

    def _head_layers(self):
        return ("class_head_output",)

    def load_backbone_weights(self, source, *, adapt: str = "auto") -> dict:
        """Copies a pretrained classifier's or backbone's weights (same registry architecture: a
        :func:`restoolkit.load_backbone` model, a preset folder, a ``.keras`` file) into the backbone."""
        from restoolkit.weights import as_model, transfer_weights

        report = transfer_weights(as_model(source), self.backbone, adapt=adapt, reset=("predictions", "head_dropout"))
        self.mark_weights_changed()
        return report

    @classmethod
    def _from_other_model(cls, model, preset, **overrides):
        arch = dict(preset.get("arch") or {})
        pre = dict(preset.get("preprocessing") or {})
        defaults = {"backbone": arch.get("name", "resnet18"), "freeze_at": 1, "frozen_bn": True}
        if pre.get("input_size"):
            defaults["preprocessor"] = {"input_size": pre["input_size"]}
        task = cls(**{**defaults, **overrides})
        task.load_backbone_weights(model)
        return task

    # --- targets and decoding --------------------------------------------------------------------

    def encode_targets(self, boxes, classes):
        """Per-anchor training targets ``(N, 5)`` for one image's boxes (input pixels, ``xyxy``) and class
        indices (``-1`` for padding): encoded deltas and class (``-1`` background, ``-2`` ignored)."""
        import tensorflow as tf

        from domains.driving.model import assign_targets

        return assign_targets(tf.convert_to_tensor(boxes, tf.float32), tf.convert_to_tensor(classes, tf.int32),
                              tf.constant(self.anchors, tf.float32), positive_iou=self.iou_thresholds[0],
                              negative_iou=self.iou_thresholds[1])

    # --- decoding --------------------------------------------------------------------------------

    def predict_step(self, data):
        """Raw outputs → decoded, NMS'd ``boxes`` (input pixels), ``scores``, ``classes``, ``num_detections``."""
        x = data[0] if isinstance(data, tuple | list) else data
        return postprocess(self(x, training=False), self.anchors, self.input_size, self.nms)

    def predict(self, x, batch_size: int = 8, verbose=0, nms=None, **kwargs):
        """Detections.

        - A list of images (``(h, w, 3)`` arrays of any size, uint8 or float in [0, 255]) or image paths:
          a list of :class:`~domains.driving.data.Frame` (``boxes`` in each image's own pixels,
          ``labels``, ``scores``), one per image, in order.
        - A batch already at the input size (an array or a dataset): the dict of :meth:`predict_step`.

        ``nms``: a preset name or :class:`NMSConfig` for this call.
        """
        from domains.driving.data import Frame

        saved = self.nms
        if nms is not None:
            self.nms = NMS_PRESETS[nms] if isinstance(nms, str) else nms
            self.predict_function = None  # the next predict traces with these settings
        try:
            if not isinstance(x, list | tuple):
                return super().predict(x, batch_size=batch_size, verbose=verbose, **kwargs)
            frames = []
            for start in range(0, len(x), batch_size):
                canvases, scales, sizes, paths = self.preprocessor.load(x[start:start + batch_size])
                out = super().predict(canvases, batch_size=batch_size, verbose=verbose)
                for i, scale in enumerate(scales):
                    n = int(out["num_detections"][i])
                    h, w = sizes[i]
                    boxes = np.clip(out["boxes"][i, :n] / scale, 0, [w, h, w, h]).astype("float64")
                    frames.append(Frame(paths[i], w, h, boxes, [self.class_names[c] for c in out["classes"][i, :n]],
                                        scores=out["scores"][i, :n].astype("float64")))
            return frames
        finally:
            if nms is not None:
                self.nms = saved
                self.predict_function = None
