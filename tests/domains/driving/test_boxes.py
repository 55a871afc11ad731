"""The box, anchor and letterbox conventions the module docstring promises."""


import numpy as np
import pytest

from domains.driving.boxes import (
    AnchorConfig,
    decode,
    encode,
    feature_sizes,
    iou_matrix,
    make_anchors,
)
from domains.driving.model import detection_backbone


def test_iou_matrix_by_hand():
    a = [[0, 0, 10, 10]]
    b = [[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 5, 10]]
    np.testing.assert_allclose(iou_matrix(a, b), [[1.0, 50 / 150, 0.0, 0.5]])


def test_anchor_layout_centres_sizes_aspects_and_order():
    config = AnchorConfig()
    anchors = make_anchors((384, 1248), config)
    sizes = feature_sizes((384, 1248), config)
    assert sizes == [(48, 156), (24, 78), (12, 39), (6, 20), (3, 10)]
    assert len(anchors) == 9 * sum(r * c for r, c in sizes)
    first = anchors[:9]  # P3, cell (0, 0): centre (4, 4)
    centres = (first[:, :2] + first[:, 2:]) / 2
    np.testing.assert_allclose(centres, 4.0)
    w, h = first[:, 2] - first[:, 0], first[:, 3] - first[:, 1]
    np.testing.assert_allclose(w / h, [0.5, 1, 2] * 3, rtol=1e-5)  # aspect = w / h
    np.testing.assert_allclose(np.sqrt(w * h), np.repeat([32, 32 * 2 ** (1 / 3), 32 * 2 ** (2 / 3)], 3), rtol=1e-5)
    second_cell = anchors[9:18]  # next column of the same row: x + stride
    np.testing.assert_allclose((second_cell[:, 0] + second_cell[:, 2]) / 2, 12.0)
    p4_square = anchors[9 * 48 * 156 + 1]  # scale 1, aspect 1 at P4: 64 px
    np.testing.assert_allclose(p4_square[2] - p4_square[0], 64, rtol=1e-5)


@pytest.mark.parametrize("size", [(384, 1248), (375, 1242), (129, 250)])
def test_feature_sizes_match_the_network(size):
    fpn = detection_backbone("resnet18", input_shape=(*size, 3), fpn_width=16)
    shapes = [tuple(fpn.output[f"P{k}"].shape[1:3]) for k in range(3, 8)]
    assert shapes == feature_sizes(size, AnchorConfig())


def test_encode_decode_round_trip():
    rng = np.random.default_rng(0)
    anchors = make_anchors((64, 64))[:50]
    xy = rng.uniform(0, 50, (50, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(2, 40, (50, 2))], 1).astype("float32")
    np.testing.assert_allclose(decode(encode(boxes, anchors), anchors), boxes, atol=1e-3)
    np.testing.assert_allclose(encode(anchors, anchors), 0, atol=1e-6)


def test_letterbox_keeps_every_box_undistorted():
    import tensorflow as tf

    from domains.driving.data import letterbox_image

    image = np.zeros((375, 1242, 3), "float32")
    image[100:200, 300:500] = 255.0  # a bright box to find again after letterboxing
    canvas, scale, offset = (t.numpy() for t in letterbox_image(tf.constant(image), (384, 1248)))
    assert canvas.shape == (384, 1248, 3) and np.all(offset == 0)
    sx, sy = scale[0], scale[1]
    assert abs(sx - sy) < 2 / 375  # the same scale on both axes up to the rounding of the new size
    box = np.array([300, 100, 500, 200]) * scale
    x1, y1, x2, y2 = np.round(box).astype(int)
    assert canvas[y1 + 2:y2 - 2, x1 + 2:x2 - 2].min() > 200 and canvas[:, x2 + 3:].max() < 1
    assert canvas[int(np.ceil(375 * sy)) + 1:].max() == 0  # padding below, nothing cropped
