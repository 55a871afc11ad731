"""Detection backbone (core ResNet + FPN), a RetinaNet-style detector, its targets, loss and post-processing.

The network (backbone, FPN, shared heads) uses ``keras.ops`` only. Target assignment (inside
``tf.data``) and non-maximum suppression (``tf.image.combined_non_max_suppression``, per class) use
TensorFlow, like the serving export.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import numpy as np
from keras import ops

from domains.driving.boxes import DEFAULT_ANCHORS, AnchorConfig, decode, encode, make_anchors
from restoolkit.models import backbone as core_backbone
from restoolkit.pretrained import stage_prefixes

IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


@dataclass(frozen=True)
class NMSConfig:
    """Post-processing settings; see :data:`NMS_PRESETS`."""

    score_threshold: float = 0.05
    iou_threshold: float = 0.5
    max_per_class: int = 100
    max_detections: int = 100
    pre_nms_top_k: int = 5000
    # One box per object whatever its class (a car must not also come out as a cyclist): each anchor keeps
    # its best class, then one NMS over all classes. COCO evaluation is per class by convention.
    class_agnostic: bool = False


NMS_PRESETS = {
    # What COCO / KITTI evaluation expects: low threshold, full precision-recall curve.
    "evaluation": NMSConfig(score_threshold=0.05, iou_threshold=0.5, max_per_class=100, max_detections=100),
    # A starting point for a car: fewer, surer boxes (tune score_threshold on validation).
    "deployment": NMSConfig(score_threshold=0.3, iou_threshold=0.45, max_per_class=50, max_detections=50,
                            pre_nms_top_k=1000, class_agnostic=True),
}


def detection_backbone(
    name: str = "resnet50",
    *,
    input_shape=(384, 1248, 3),
    fpn_width: int = 256,
    p6_source: str = "C5",
    freeze_at=1,
    frozen_bn: bool = True,
    weights=None,
) -> keras.Model:
    """ResNet C3–C5 and an FPN giving ``P3``..``P7`` (strides 8..128).

    Args:
        name: a core registry backbone (``resnet18``, ``resnet34``, ``resnet50``…).
        input_shape: ``(H, W, 3)``; any size (levels have ``ceil(H / stride)`` rows).
        fpn_width: channels of every pyramid level.
        p6_source: ``"C5"`` (RetinaNet paper, torchvision) or ``"P5"`` (FCOS, detectron2's default
            for some configs): the input of the stride-2 convolution making P6.
        freeze_at: detectron2's convention: 0 trains everything, 1 (or ``"stem"``) freezes the stem,
            ``k`` freezes the stem and stages 1..k-1.
        frozen_bn: batch norms use fixed statistics (detection batches are small).
        weights: a ``keras.Model`` (a classifier or backbone of the same architecture, e.g. from
            :func:`restoolkit.load_backbone`) or a preset folder, whose weights are copied.

    Returns:
        A ``keras.Model`` mapping images (already normalised) to ``{"P3": …, "P7": …}``.
    """
    if p6_source not in ("C5", "P5"):
        raise ValueError(f"p6_source must be 'C5' or 'P5', got {p6_source!r}")
    body = core_backbone(name, input_shape=tuple(input_shape),
                         norm_layer="frozen_batch_norm" if frozen_bn else "batch_norm")
    if weights is not None:
        from restoolkit.weights import transfer_weights

        if not isinstance(weights, keras.Model):  # a preset folder
            from restoolkit.presets import load_preset

            weights = load_preset(weights)
        transfer_weights(weights, body, reset=("predictions", "head_dropout"))
    frozen = stage_prefixes(freeze_at)
    for layer in body.layers:
        if frozen and layer.name.startswith(frozen):
            layer.trainable = False

    inputs = keras.Input(tuple(input_shape), name="images")
    c = body(inputs)
    conv = keras.layers.Conv2D
    laterals = {k: conv(fpn_width, 1, name=f"fpn_lateral{k}")(c[f"C{k}"]) for k in (3, 4, 5)}
    merged = {5: laterals[5]}
    for k in (4, 3):
        up = keras.layers.UpSampling2D(2, name=f"fpn_up{k + 1}")(merged[k + 1])
        th, tw = laterals[k].shape[1:3]
        uh, uw = up.shape[1:3]
        if (uh, uw) != (th, tw):  # odd sizes: ceil halving, so the upsampled map is one row/column larger
            up = keras.layers.Cropping2D(((0, uh - th), (0, uw - tw)), name=f"fpn_crop{k + 1}")(up)
        merged[k] = keras.layers.Add(name=f"fpn_merge{k}")([laterals[k], up])
    outputs = {f"P{k}": conv(fpn_width, 3, padding="same", name=f"fpn_output{k}")(merged[k]) for k in (3, 4, 5)}
    source = c["C5"] if p6_source == "C5" else outputs["P5"]
    p6 = conv(fpn_width, 3, strides=2, name="fpn_p6")(keras.layers.ZeroPadding2D(1, name="fpn_p6_pad")(source))
    p7_in = keras.layers.ZeroPadding2D(1, name="fpn_p7_pad")(keras.layers.ReLU(name="fpn_p6_relu")(p6))
    outputs["P6"] = p6
    outputs["P7"] = conv(fpn_width, 3, strides=2, name="fpn_p7")(p7_in)
    return keras.Model(inputs, outputs, name=f"{name}_fpn")


def build_retinanet(
    backbone: str = "resnet50",
    *,
    num_classes: int,
    input_size=(384, 1248),
    anchor_config: AnchorConfig = DEFAULT_ANCHORS,
    fpn_width: int = 256,
    head_width: int = 256,
    head_depth: int = 4,
    prior_probability: float = 0.01,
    head_norm: str | None = None,
    **backbone_kwargs,
) -> keras.Model:
    """Images in [0, 255] → ``(B, N, 4 + num_classes)``: box deltas then class logits per anchor.

    Class and box heads are shared across levels; the class head's bias starts at
    ``-log((1 - π) / π)`` so every anchor begins as background with probability ``1 - π`` (the
    focal-loss paper's initialisation). Normalisation by ImageNet mean and std is inside the model.
    ``head_norm="group"`` puts a GroupNormalization (32 groups or fewer) after every tower convolution,
    as FCOS / ATSS and keras-hub's ``use_prediction_head_norm`` do: the towers then train quickly
    from scratch (the paper's towers without normalisation rely on a pretrained backbone and long
    schedules).
    """
    if head_norm not in (None, "group"):
        raise ValueError(f"head_norm must be None or 'group', got {head_norm!r}")
    h, w = input_size
    fpn = detection_backbone(backbone, input_shape=(h, w, 3), fpn_width=fpn_width, **backbone_kwargs)
    images = keras.Input((h, w, 3), name="images")
    x = keras.layers.Normalization(mean=IMAGENET_MEAN, variance=[s**2 for s in IMAGENET_STD], name="normalize")(images)
    levels = fpn(x)
    a = anchor_config.per_cell

    def tower(prefix, out_channels, bias):
        layers = []
        for i in range(head_depth):
            layers.append(keras.layers.Conv2D(head_width, 3, padding="same", activation=None if head_norm else "relu",
                                              kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
                                              name=f"{prefix}_conv{i + 1}"))
            if head_norm:
                layers.append(keras.layers.GroupNormalization(groups=math.gcd(32, head_width),
                                                              name=f"{prefix}_norm{i + 1}"))
                layers.append(keras.layers.ReLU(name=f"{prefix}_relu{i + 1}"))
        layers.append(keras.layers.Conv2D(out_channels, 3, padding="same", dtype="float32",
                                          kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
                                          bias_initializer=keras.initializers.Constant(bias), name=f"{prefix}_output"))
        return layers

    cls_tower = tower("class_head", a * num_classes, -math.log((1 - prior_probability) / prior_probability))
    box_tower = tower("box_head", a * 4, 0.0)
    boxes, logits = [], []
    for k in range(anchor_config.min_level, anchor_config.max_level + 1):
        feature = levels[f"P{k}"]
        y, z = feature, feature
        for layer in cls_tower:
            y = layer(y)
        for layer in box_tower:
            z = layer(z)
        rows, cols = feature.shape[1:3]
        logits.append(keras.layers.Reshape((rows * cols * a, num_classes), name=f"class_P{k}")(y))
        boxes.append(keras.layers.Reshape((rows * cols * a, 4), name=f"box_P{k}")(z))
    box_out = keras.layers.Concatenate(axis=1, name="boxes", dtype="float32")(boxes)
    cls_out = keras.layers.Concatenate(axis=1, name="logits", dtype="float32")(logits)
    out = keras.layers.Concatenate(axis=-1, name="raw_detections", dtype="float32")([box_out, cls_out])
    return keras.Model(images, out, name=f"retinanet_{backbone}")


# --- targets ------------------------------------------------------------------------------------------

def assign_targets(boxes, classes, anchors, *, positive_iou: float = 0.5, negative_iou: float = 0.4):
    """Per-anchor targets ``(N, 5)``: encoded box and class (``-1`` background, ``-2`` ignored).

    Anchors with IoU ≥ ``positive_iou`` with a box take its class; below ``negative_iou`` they are
    background; between, ignored. Each box also claims its best anchor(s) (ties included) so that
    small or oddly shaped objects are never left without a positive anchor (torchvision's
    low-quality matches, except that a claimed anchor is given to the box that claimed it). Boxes with class ``-1`` (padding, classes not trained) are not matched.
    """
    import tensorflow as tf

    valid = classes >= 0
    boxes = tf.cast(boxes, tf.float32)
    lt = tf.maximum(anchors[:, None, :2], boxes[None, :, :2])
    rb = tf.minimum(anchors[:, None, 2:], boxes[None, :, 2:])
    inter = tf.reduce_prod(tf.maximum(rb - lt, 0.0), -1)
    area_a = tf.reduce_prod(anchors[:, 2:] - anchors[:, :2], -1)
    area_b = tf.reduce_prod(boxes[:, 2:] - boxes[:, :2], -1)
    iou = inter / tf.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)
    iou = tf.where(valid[None, :], iou, -1.0)
    iou = tf.concat([iou, -tf.ones([tf.shape(iou)[0], 1])], axis=1)  # a dummy column: no box at all still works
    best = tf.argmax(iou, axis=1, output_type=tf.int32)
    best_iou = tf.reduce_max(iou, axis=1)
    best_for_box = tf.reduce_max(iou, axis=0)
    claims = (iou == best_for_box[None, :]) & (best_for_box[None, :] > 0)
    low_quality = tf.reduce_any(claims, axis=1)
    # A claimed anchor goes to the box claiming it (torchvision gives it to the anchor's own best box,
    # which can leave the small box that claimed it with no positive anchor at all).
    best = tf.where(low_quality, tf.argmax(tf.where(claims, iou, -2.0), axis=1, output_type=tf.int32), best)
    classes_ext = tf.concat([tf.cast(classes, tf.int32), [-1]], 0)
    boxes_ext = tf.concat([boxes, tf.ones([1, 4])], 0)
    matched_class = tf.gather(classes_ext, best)
    label = tf.where(best_iou >= positive_iou, matched_class,
                     tf.where(best_iou < negative_iou, -1, -2))
    label = tf.where(low_quality, matched_class, label)
    matched = tf.gather(boxes_ext, best)
    deltas = encode(matched, anchors, xp=ops)
    deltas = tf.where((label >= 0)[:, None], deltas, 0.0)
    return tf.concat([deltas, tf.cast(label, tf.float32)[:, None]], axis=1)


@keras.saving.register_keras_serializable("restoolkit")
class DetectionLoss(keras.losses.Loss):
    """Focal loss (α, γ) on every non-ignored anchor plus smooth-L1 or GIoU on positive anchors, both
    divided by the number of positive anchors in the batch.

    Args:
        num_classes: classes of the detector.
        alpha, gamma: focal loss parameters (0.25, 2 in the paper).
        box_loss: ``"smooth_l1"`` (on encoded deltas, β = 1/9 as Detectron's RetinaNet) or ``"giou"``
            (on decoded boxes; needs ``input_size`` and ``anchor_config``).
        box_weight: weight of the box term.
    """

    def __init__(self, num_classes, *, alpha=0.25, gamma=2.0, box_loss="smooth_l1", box_weight=1.0, beta=1 / 9,
                 input_size=None, anchor_config=None, name="detection_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        if box_loss not in ("smooth_l1", "giou"):
            raise ValueError(f"box_loss must be 'smooth_l1' or 'giou', got {box_loss!r}")
        self.num_classes, self.alpha, self.gamma = int(num_classes), float(alpha), float(gamma)
        self.box_loss, self.box_weight, self.beta = box_loss, float(box_weight), float(beta)
        self.input_size = tuple(input_size) if input_size is not None else None
        self.anchor_config = anchor_config.to_dict() if isinstance(anchor_config, AnchorConfig) else anchor_config
        self._anchors = None
        if box_loss == "giou":
            if input_size is None or anchor_config is None:
                raise ValueError("box_loss='giou' needs input_size and anchor_config to decode boxes")
            self._anchors = make_anchors(self.input_size, AnchorConfig.from_dict(self.anchor_config))

    def call(self, y_true, y_pred):
        y_pred = ops.cast(y_pred, "float32")
        labels = y_true[..., 4]
        positive = ops.cast(labels >= 0, "float32")
        counted = ops.cast(labels > -1.5, "float32")  # background and positives; -2 is ignored
        n_pos = ops.maximum(ops.sum(positive), 1.0)
        batch = ops.cast(ops.shape(y_pred)[0], "float32")

        logits = y_pred[..., 4:]
        onehot = ops.one_hot(ops.cast(ops.maximum(labels, 0), "int32"), self.num_classes) * positive[..., None]
        p = ops.sigmoid(logits)
        ce = ops.maximum(logits, 0) - logits * onehot + ops.log1p(ops.exp(-ops.abs(logits)))
        p_t = p * onehot + (1 - p) * (1 - onehot)
        alpha_t = self.alpha * onehot + (1 - self.alpha) * (1 - onehot)
        focal = ops.sum(alpha_t * ops.power(1 - p_t, self.gamma) * ce, axis=-1) * counted

        if self.box_loss == "smooth_l1":
            diff = ops.abs(y_true[..., :4] - y_pred[..., :4])
            per = ops.where(diff < self.beta, 0.5 * diff**2 / self.beta, diff - 0.5 * self.beta)
            box = ops.sum(per, axis=-1)
        else:
            anchors = ops.convert_to_tensor(self._anchors)
            box = 1.0 - giou(decode(y_true[..., :4], anchors, xp=ops), decode(y_pred[..., :4], anchors, xp=ops))
        box = box * positive
        per_image = ops.sum(focal, axis=-1) + self.box_weight * ops.sum(box, axis=-1)
        return per_image * batch / n_pos  # the mean over the batch is then Σ / n_pos

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "alpha": self.alpha, "gamma": self.gamma,
                "box_loss": self.box_loss, "box_weight": self.box_weight, "beta": self.beta,
                "input_size": self.input_size, "anchor_config": self.anchor_config}


def giou(a, b):
    """Generalised IoU of paired ``xyxy`` boxes (any leading shape), ``keras.ops``."""
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    iw = ops.maximum(ops.minimum(a[..., 2], b[..., 2]) - ops.maximum(a[..., 0], b[..., 0]), 0)
    ih = ops.maximum(ops.minimum(a[..., 3], b[..., 3]) - ops.maximum(a[..., 1], b[..., 1]), 0)
    inter = iw * ih
    union = ops.maximum(area_a + area_b - inter, 1e-7)
    hull = ((ops.maximum(a[..., 2], b[..., 2]) - ops.minimum(a[..., 0], b[..., 0]))
            * (ops.maximum(a[..., 3], b[..., 3]) - ops.minimum(a[..., 1], b[..., 1])))
    return inter / union - (hull - union) / ops.maximum(hull, 1e-7)


# --- the detector ---------------------------------------------------------------------------------------

def postprocess(raw, anchors, input_size, nms: NMSConfig):
    """Raw outputs ``(B, N, 4 + C)`` → per-class NMS'd ``boxes (B, K, 4)``, ``scores``, ``classes``,
    ``num_detections`` (TensorFlow; boxes in input pixels, clipped to the input)."""
    import tensorflow as tf

    raw = tf.cast(raw, tf.float32)
    boxes = decode(raw[..., :4], tf.constant(anchors), xp=ops)
    h, w = input_size
    boxes = tf.clip_by_value(boxes, 0.0, tf.constant([w, h, w, h], tf.float32))
    scores = tf.sigmoid(raw[..., 4:])
    k = min(nms.pre_nms_top_k, int(anchors.shape[0]))
    _, top = tf.math.top_k(tf.reduce_max(scores, -1), k=k)
    boxes = tf.gather(boxes, top, batch_dims=1)
    scores = tf.gather(scores, top, batch_dims=1)
    if nms.class_agnostic:
        return _class_agnostic_nms(boxes, scores, nms)
    out = tf.image.combined_non_max_suppression(
        boxes[:, :, None, :], scores, max_output_size_per_class=nms.max_per_class,
        max_total_size=nms.max_detections, iou_threshold=nms.iou_threshold, score_threshold=nms.score_threshold,
        clip_boxes=False)
    return {"boxes": out.nmsed_boxes, "scores": out.nmsed_scores, "classes": tf.cast(out.nmsed_classes, tf.int32),
            "num_detections": out.valid_detections}


def _class_agnostic_nms(boxes, scores, nms: NMSConfig):
    """NMS over all classes at once: every anchor keeps its best class and score."""
    import tensorflow as tf

    k = nms.max_detections

    def one(args):
        b, s = args
        best, cls = tf.reduce_max(s, -1), tf.argmax(s, -1, output_type=tf.int32)
        keep = tf.image.non_max_suppression(b, best, max_output_size=k, iou_threshold=nms.iou_threshold,
                                            score_threshold=nms.score_threshold)
        n = tf.shape(keep)[0]
        pad = k - n
        return (tf.pad(tf.gather(b, keep), [[0, pad], [0, 0]]), tf.pad(tf.gather(best, keep), [[0, pad]]),
                tf.pad(tf.gather(cls, keep), [[0, pad]]), n)

    out = tf.map_fn(one, (boxes, scores), fn_output_signature=(
        tf.TensorSpec([k, 4], tf.float32), tf.TensorSpec([k], tf.float32), tf.TensorSpec([k], tf.int32),
        tf.TensorSpec([], tf.int32)))
    return {"boxes": out[0], "scores": out[1], "classes": out[2], "num_detections": out[3]}


def anchor_recall(dataset, anchors, *, iou: float = 0.5) -> float:
    """Share of ground-truth boxes that some anchor overlaps with IoU ≥ ``iou``.

    Args:
        dataset: a ``tf.data`` dataset from ``make_dataset(..., targets=False)`` (boxes in input
            pixels), or an iterable of ``(image, {"boxes", "classes"})`` batches.
        anchors: ``(N, 4)`` anchors of the same input size (``task.anchors``).

    Returns:
        The recall in [0, 1] (``nan`` without boxes). Low values mean the anchor sizes or aspect
        ratios do not fit the data (pedestrians are tall: aspect 0.5 matters).
    """
    from domains.driving.boxes import iou_matrix

    matched = total = 0
    for _, target in dataset:
        boxes, classes = np.asarray(target["boxes"]), np.asarray(target["classes"])
        real = boxes[classes >= 0].reshape(-1, 4)
        if len(real):
            best = iou_matrix(real, anchors).max(axis=1)
            matched += int(np.sum(best >= iou))
            total += len(real)
    return matched / total if total else float("nan")
