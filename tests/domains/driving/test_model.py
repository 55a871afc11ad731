"""Backbone + FPN options, heads, loss against a NumPy reference, per-class NMS, save / load, export."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from domains.driving import (
    NMS_PRESETS,
    NMSConfig,
    ObjectDetector,
    detection_backbone,
    export_saved_model,
)
from domains.driving.boxes import AnchorConfig
from domains.driving.model import DetectionLoss, giou, postprocess
from restoolkit.layers.factories import FrozenBatchNormalization


def test_backbone_freezing_frozen_bn_and_p6_source():
    fpn = detection_backbone("resnet18", input_shape=(64, 96, 3), fpn_width=16, freeze_at=2)
    body = fpn.get_layer("resnet18_backbone")
    frozen = {layer.name for layer in body.layers if not layer.trainable}
    assert "stem_conv1" in frozen and "stage1_block1" in frozen and "stage2_block1" not in frozen
    assert any(isinstance(layer, FrozenBatchNormalization) for layer in body._flatten_layers())
    c5_source = fpn.get_layer("fpn_p6_pad").input
    assert c5_source.shape[-1] == 512  # C5 of resnet18
    p5 = detection_backbone("resnet18", input_shape=(64, 96, 3), fpn_width=16, p6_source="P5")
    assert p5.get_layer("fpn_p6_pad").input.shape[-1] == 16
    assert {k: tuple(v.shape[1:]) for k, v in fpn.output.items()}["P7"] == (1, 1, 16)
    with pytest.raises(ValueError, match="p6_source"):
        detection_backbone("resnet18", input_shape=(64, 96, 3), p6_source="C4")


def test_heads_are_shared_and_start_as_background():
    detector = ObjectDetector("resnet18", ("Car", "Pedestrian"), preprocessor={"input_size": (64, 128)}, fpn_width=16,
                              head_width=16, head_depth=2)
    kernels = [w for w in detector.weights if w.path.startswith("class_head_conv1/")]
    assert len(kernels) == 2  # one kernel and one bias for all five levels
    raw = detector(np.random.default_rng(0).uniform(0, 255, (1, 64, 128, 3)).astype("float32"))
    assert raw.shape == (1, len(detector.anchors), 4 + 2)
    assert abs(float(tf.reduce_mean(tf.sigmoid(raw[..., 4:]))) - 0.01) < 0.003


def _focal_reference(labels, boxes_true, pred, alpha, gamma, beta, num_classes):
    total, n_pos = 0.0, max(1, int(np.sum(labels >= 0)))
    for a, label in enumerate(labels):
        if label == -2:
            continue
        for c in range(num_classes):
            y = 1.0 if label == c else 0.0
            p = 1 / (1 + np.exp(-pred[a, 4 + c]))
            p_t = p if y else 1 - p
            total += (alpha if y else 1 - alpha) * (1 - p_t) ** gamma * -np.log(p_t)
        if label >= 0:
            d = np.abs(boxes_true[a] - pred[a, :4])
            total += np.sum(np.where(d < beta, 0.5 * d**2 / beta, d - 0.5 * beta))
    return total / n_pos


def test_detection_loss_equals_numpy_reference():
    rng = np.random.default_rng(0)
    labels = np.array([-2, -1, 0, 1, -1, 2], "float32")
    boxes = rng.normal(size=(6, 4)).astype("float32")
    pred = rng.normal(size=(6, 7)).astype("float32")
    loss = DetectionLoss(3, alpha=0.3, gamma=1.5)
    value = loss(np.concatenate([boxes, labels[:, None]], 1)[None], pred[None])
    assert float(value) == pytest.approx(_focal_reference(labels, boxes, pred, 0.3, 1.5, 1 / 9, 3), rel=1e-5)
    assert DetectionLoss.from_config(loss.get_config()).get_config() == loss.get_config()


def test_giou():
    a = np.array([[0, 0, 1, 1], [0, 0, 2, 2]], "float32")
    b = np.array([[0, 0, 1, 1], [4, 0, 6, 2]], "float32")
    np.testing.assert_allclose(giou(a, b), [1.0, 0 - (6 * 2 - 8) / 12], atol=1e-6)


def test_nms_is_per_class_and_respects_the_preset():
    anchors = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], "float32")
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    scores = np.array([[0.9, 0.01], [0.8, 0.7], [0.04, 0.02]])
    raw = np.concatenate([np.zeros((3, 4)), logit(scores)], 1)[None].astype("float32")
    out = postprocess(raw, anchors, (100, 100), NMS_PRESETS["evaluation"])
    n = int(out["num_detections"][0])
    kept = sorted(zip(out["classes"][0, :n].numpy().tolist(), out["scores"][0, :n].numpy().tolist(), strict=True))
    # Class 0: the 0.8 box overlaps the 0.9 one (IoU 0.82) and goes; class 1 keeps its box although
    # a class-0 box sits on it (class-agnostic NMS would drop it); 0.04 < 0.05 is dropped.
    assert [c for c, _ in kept] == [0, 1] and [s for _, s in kept] == pytest.approx([0.9, 0.7])
    strict = postprocess(raw, anchors, (100, 100), NMSConfig(score_threshold=0.75))
    assert int(strict["num_detections"][0]) == 1
    # Class-agnostic (the deployment preset): one box per object; each anchor keeps its best class.
    agnostic = postprocess(raw, anchors, (100, 100), NMSConfig(score_threshold=0.03, class_agnostic=True))
    n = int(agnostic["num_detections"][0])
    assert n == 2 and agnostic["classes"][0, :n].numpy().tolist() == [0, 0]
    np.testing.assert_allclose(agnostic["scores"][0, :n].numpy(), [0.9, 0.04], rtol=1e-5)
    np.testing.assert_allclose(agnostic["boxes"][0, 0].numpy(), anchors[0], atol=1e-4)
    assert NMS_PRESETS["deployment"].class_agnostic and not NMS_PRESETS["evaluation"].class_agnostic


@pytest.fixture(scope="module")
def small_detector():
    keras.utils.set_random_seed(1)
    detector = ObjectDetector("resnet18", ("Car", "Pedestrian"), preprocessor={"input_size": (64, 128)}, fpn_width=16,
                              head_width=16, head_depth=1, nms=NMSConfig(score_threshold=0.0, max_detections=20))
    # Bias the class head so that some anchors score above the threshold.
    bias = detector.get_layer("class_head_output").bias
    bias.assign(np.random.default_rng(0).normal(0, 2, bias.shape).astype("float32"))
    return detector


@pytest.fixture
def image(tmp_path):
    array = np.random.default_rng(0).integers(0, 255, (90, 150, 3)).astype("uint8")
    Image.fromarray(array).save(tmp_path / "img.png")
    return array, str(tmp_path / "img.png")


def test_detector_save_load_and_detect_in_image_pixels(small_detector, image, tmp_path):
    array, path = image
    first = small_detector.predict([path])[0]
    assert len(first) == 20 and first.boxes[:, 2].max() <= 150 and first.boxes[:, 3].max() <= 90
    assert np.all(np.diff(first.scores) <= 1e-7)
    small_detector.save(tmp_path / "det.keras")
    again = keras.saving.load_model(tmp_path / "det.keras", safe_mode=True)
    assert isinstance(again, ObjectDetector) and again.nms == small_detector.nms
    deployed = again.predict([array], nms="deployment")[0]  # class-agnostic NMS inside predict_step too
    assert len(deployed) <= 50 and np.all(deployed.scores >= 0.3)
    assert again.nms == small_detector.nms  # the per-call setting did not stick
    second = again.predict([array])[0]
    np.testing.assert_allclose(second.boxes, first.boxes, atol=1e-3)
    assert second.labels == first.labels
    # The boxes come back in the image's own pixels: the letterbox scale undone, checked by hand.
    canvases, scales, sizes, _ = small_detector.preprocessor.load([array])
    assert sizes == [(90, 150)] and canvases.shape == (1, 64, 128, 3)
    # Letterboxing keeps the aspect: 90×150 → 64 px high would be 106.7 px wide, so the height fits
    # (each axis' exact resize factor, after rounding the new size to whole pixels).
    np.testing.assert_allclose(scales[0], [106 / 150, 64 / 90, 106 / 150, 64 / 90])
    batch = small_detector.predict(canvases)
    n = int(batch["num_detections"][0])
    np.testing.assert_allclose(first.boxes, np.clip(batch["boxes"][0, :n] / scales[0], 0, [150, 90, 150, 90]),
                               atol=1e-3)


def test_saved_model_serves_the_same_detections(small_detector, image, tmp_path):
    array, _ = image
    export_saved_model(small_detector, tmp_path / "saved")
    loaded = tf.saved_model.load(str(tmp_path / "saved"))
    served = loaded.signatures["detect_image"](image=tf.constant(array))
    expected = small_detector.predict([array])[0]
    n = int(served["num_detections"][0])
    assert n == len(expected)
    np.testing.assert_allclose(served["boxes"][0, :n].numpy(), expected.boxes, atol=1e-3)
    np.testing.assert_allclose(served["scores"][0, :n].numpy(), expected.scores, atol=1e-5)
    batch = np.zeros((2, 64, 128, 3), "uint8")
    out = loaded.signatures["serving_default"](images=tf.constant(batch))
    assert out["boxes"].shape == (2, 20, 4)


def test_giou_box_loss_vanishes_when_the_boxes_are_right():
    from domains.driving.boxes import encode, make_anchors

    anchors = make_anchors((64, 64))
    boxes = anchors + np.array([1, -1, 2, 1], "float32")
    labels = np.full(len(anchors), -1.0, "float32")
    labels[[3, 40, 200]], labels[[7, 9]] = [0, 1, 0], -2
    targets = np.concatenate([encode(boxes, anchors), labels[:, None]], 1)[None].astype("float32")
    logits = np.random.default_rng(0).normal(size=(1, len(anchors), 2)).astype("float32")
    exact = np.concatenate([targets[..., :4], logits], -1)
    config = AnchorConfig()
    giou_loss = DetectionLoss(2, box_loss="giou", input_size=(64, 64), anchor_config=config)
    focal_only = DetectionLoss(2, box_weight=0.0)
    assert float(giou_loss(targets, exact)) == pytest.approx(float(focal_only(targets, exact)), abs=1e-5)
    shifted = exact.copy()
    shifted[..., 0] += 2.0  # centres moved by 0.2 anchor widths: 1 - GIoU > 0 on the positives
    assert float(giou_loss(targets, shifted)) > float(giou_loss(targets, exact)) + 0.05


def test_the_task_encodes_targets_that_its_decoder_inverts(small_detector):
    """encode_targets then predict_step's decoding gives the boxes back (deltas are the only output)."""
    from domains.driving.boxes import decode

    boxes = np.array([[10.0, 12.0, 50.0, 40.0], [70.0, 5.0, 120.0, 60.0]], "float32")
    targets = np.asarray(small_detector.encode_targets(boxes, np.array([0, 1])))
    positive = targets[:, 4] >= 0
    assert set(targets[positive, 4]) == {0.0, 1.0}
    decoded = decode(targets[positive, :4], small_detector.anchors[positive])
    # Every positive anchor decodes to the box it was assigned.
    matches = np.isclose(decoded[:, None, :], boxes[None], atol=1e-3).all(axis=2)  # (positives, boxes)
    assert matches.any(axis=1).all() and matches.any(axis=0).all()  # each decodes to a box; each box is claimed


def test_group_normalised_head_towers_are_an_option_and_other_norms_are_refused():
    from domains.driving.model import build_retinanet

    net = build_retinanet("resnet18", num_classes=2, input_size=(64, 96), fpn_width=16, head_width=16, head_depth=2,
                          head_norm="group")
    norms = [layer for layer in net.layers if isinstance(layer, keras.layers.GroupNormalization)]
    assert sorted(layer.name for layer in norms) == ["box_head_norm1", "box_head_norm2", "class_head_norm1",
                                                     "class_head_norm2"]
    assert all(layer.groups == 16 for layer in norms)  # gcd(32, 16): groups must divide the channels
    with pytest.raises(ValueError, match="head_norm"):
        build_retinanet("resnet18", num_classes=2, input_size=(64, 96), head_norm="batch")
