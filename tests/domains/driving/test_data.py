"""Readers (KITTI on real frames, BDD100K, COCO), label errors and the tf.data pipeline."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from domains.driving.boxes import iou_matrix, make_anchors
from domains.driving.data import (
    LabelError,
    make_dataset,
    read_bdd100k,
    read_coco,
    read_kitti,
    read_kitti_label,
)
from domains.driving.model import anchor_recall, assign_targets


def test_kitti_reader_keeps_all_fields_on_real_frames(kitti_root):
    frames = read_kitti(kitti_root)
    assert [f.image_path.rsplit("/", 1)[-1] for f in frames] == ["000000.png", "000007.png", "000008.png"]
    lines = (kitti_root / "label_2" / "000008.txt").read_text().split("\n")
    frame = frames[2]
    assert (frame.height, frame.width) == (375, 1242) and len(frame) == len([x for x in lines if x.strip()])
    first = lines[0].split()
    assert frame.labels[0] == first[0] and frame.labels.count("DontCare") == 4
    np.testing.assert_allclose(frame.boxes[0], [float(v) for v in first[4:8]], atol=1e-4)
    assert frame.attributes["truncated"][0] == pytest.approx(float(first[1]))
    assert frame.attributes["occluded"][0] == int(first[2])
    assert frame.attributes["alpha"][0] == pytest.approx(float(first[3]))
    np.testing.assert_allclose(frame.attributes["dimensions"][0], [float(v) for v in first[8:11]])
    np.testing.assert_allclose(frame.attributes["location"][0], [float(v) for v in first[11:14]])
    assert frame.attributes["rotation_y"][0] == pytest.approx(float(first[14]))


@pytest.mark.parametrize("line, message", [
    ("Car 0 0 0 50 10 40 30 1 1 1 0 0 0 0", "x2 <= x1"),
    ("Car 0 0 0 nan 10 40 30 1 1 1 0 0 0 0", "NaN"),
    ("Car 0 0 0 10 10 40", "7 fields"),
    ("Car 0 0 zero 10 10 40 30 1 1 1 0 0 0 0", "not a number"),
    ("Car 0 0 0 10 10 140 30 1 1 1 0 0 0 0", "outside the 100x50 image"),
    ("Lorry 0 0 0 10 10 40 30 1 1 1 0 0 0 0", "unknown class 'Lorry'"),
    ("Car 1.5 0 0 10 10 40 30 1 1 1 0 0 0 0", r"truncation must be in \[0, 1\], got 1.5"),
    ("Car -1 -1 0 10 10 40 30 1 1 1 0 0 0 0", r"truncation must be in \[0, 1\], got -1"),
    ("Car 0 4 0 10 10 40 30 1 1 1 0 0 0 0", "occlusion must be 0, 1, 2 or 3, got 4"),
    ("Car 0 1.5 0 10 10 40 30 1 1 1 0 0 0 0", "occlusion must be 0, 1, 2 or 3, got 1.5"),
])
def test_malformed_kitti_labels_name_file_and_line(tmp_path, line, message):
    path = tmp_path / "000001.txt"
    path.write_text("Pedestrian 0 0 0 1 1 5 20 1 1 1 0 0 0 0\n" + line + "\n")
    with pytest.raises(LabelError, match=rf"000001.txt:2: .*{message}"):
        read_kitti_label(path, size=(50, 100))


def test_clip_on_request_warns_and_clips(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("Car 0 0 0 -5 10 140 30 1 1 1 0 0 0 0\n")
    with pytest.warns(UserWarning, match="a.txt:1: box .* clipped"):
        frame = read_kitti_label(path, size=(50, 100), clip=True)
    np.testing.assert_allclose(frame.boxes[0], [0, 10, 100, 30])


def test_bdd100k_reader(tmp_path):
    labels = [{"name": "a.jpg", "attributes": {"weather": "rainy", "timeofday": "night"}, "labels": [
        {"id": 1, "category": "car", "attributes": {"occluded": True, "truncated": False},
         "box2d": {"x1": 10, "y1": 20, "x2": 110, "y2": 90}},
        {"id": 2, "category": "traffic light", "attributes": {"trafficLightColor": "red"},
         "box2d": {"x1": 500, "y1": 10, "x2": 510, "y2": 30}},
        {"id": 3, "category": "lane", "poly2d": [[0, 0], [1, 1]]}]},
        {"name": "b.jpg", "labels": []}]
    path = tmp_path / "det.json"
    path.write_text(json.dumps(labels))
    frames = read_bdd100k(path, tmp_path)
    assert [len(f) for f in frames] == [2, 0] and frames[0].labels == ["car", "traffic light"]
    assert (frames[0].height, frames[0].width) == (720, 1280)
    assert frames[0].attributes["occluded"].tolist() == [True, False]
    assert frames[0].attributes["traffic_light_color"].tolist() == ["none", "red"]
    assert frames[0].frame_attributes["weather"] == "rainy"
    labels[0]["labels"][0]["category"] = "tractor"
    path.write_text(json.dumps(labels))
    with pytest.raises(LabelError, match=r"frame \[0\] 'a.jpg' label \[0\]: unknown category 'tractor'"):
        read_bdd100k(path, tmp_path)


def test_coco_reader_xywh_and_category_gaps(tmp_path):
    data = {"images": [{"id": 7, "file_name": "x.jpg", "width": 200, "height": 100},
                       {"id": 9, "file_name": "y.jpg", "width": 200, "height": 100}],
            "categories": [{"id": 3, "name": "car"}, {"id": 18, "name": "dog"}],
            "annotations": [{"id": 1, "image_id": 7, "category_id": 18, "bbox": [10, 20, 30, 40], "iscrowd": 1,
                             "area": 1200}]}
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(data))
    frames, categories = read_coco(path, tmp_path)
    assert categories == {3: "car", 18: "dog"} and [len(f) for f in frames] == [1, 0]
    np.testing.assert_allclose(frames[0].boxes[0], [10, 20, 40, 60])
    assert frames[0].labels == ["dog"] and frames[0].attributes["iscrowd"].tolist() == [1]
    data["annotations"][0]["category_id"] = 4
    path.write_text(json.dumps(data))
    with pytest.raises(LabelError, match=r"annotations\[0\] \(id 1\): category_id 4"):
        read_coco(path, tmp_path)


def test_pipeline_letterboxes_real_kitti_without_losing_a_car(kitti_root):
    frames = read_kitti(kitti_root)
    ds = make_dataset(frames, ["Car", "Pedestrian", "Cyclist"], input_size=(384, 1248), batch_size=3, targets=False)
    images, target = next(iter(ds))
    assert images.shape == (3, 384, 1248, 3)
    for i, frame in enumerate(frames):
        keep = target["classes"][i].numpy() >= 0
        cars = [b for b, n in zip(frame.boxes, frame.labels, strict=True) if n in ("Car", "Pedestrian", "Cyclist")]
        assert keep.sum() == len(cars)  # every car kept (keras-hub's square crop drops 3 of 6 here)
        got = target["boxes"][i].numpy()[keep]
        scale = min(384 / frame.height, 1248 / frame.width)
        np.testing.assert_allclose(got, np.array(cars) * scale, rtol=2e-3, atol=0.5)
        assert got[:, 2].max() <= 1248 and got[:, 3].max() <= 384


def test_augmentation_keeps_boxes_on_their_pixels(tmp_path):
    # A white square on black: after flip / jitter the box must still frame the white pixels.
    image = np.zeros((100, 300, 3), "uint8")
    image[20:60, 30:90] = 255
    Image.fromarray(image).save(tmp_path / "000000.png")
    (tmp_path / "l.txt").write_text("Car 0 0 0 30 20 90 60 1 1 1 0 0 0 0\n")
    frame = read_kitti_label(tmp_path / "l.txt", image_path=tmp_path / "000000.png")
    ds = make_dataset([frame] * 8, ["Car"], input_size=(128, 256), batch_size=8, augment=True, targets=False, seed=3)
    images, target = next(iter(ds))
    for img, box in zip(images.numpy(), target["boxes"].numpy()[:, 0], strict=True):
        x1, y1, x2, y2 = np.round(box).astype(int)
        brightness = img.mean(-1)
        inside = brightness[y1 + 2:y2 - 2, x1 + 2:x2 - 2].mean()
        outside = np.delete(brightness, np.s_[max(y1 - 2, 0):y2 + 2], axis=0).mean()
        assert inside > outside + 100


def test_matcher_thresholds_decide_positive_ignored_and_background(tmp_path):
    import pytest

    from domains.driving import ObjectDetector
    from restoolkit.errors import ConfigError

    box = np.array([[0.0, 0.0, 10.0, 10.0]], "float32")
    # IoU with the box: 1.0 (its best anchor), 0.45, 0.35, 0.2
    anchors = np.array([[0, 0, 10, 10], [0, 0, 10, 22.222222], [0, 0, 10, 28.571428], [0, 0, 10, 50]], "float32")
    paper = assign_targets(box, np.array([0]), anchors).numpy()[:, 4]
    loose = assign_targets(box, np.array([0]), anchors, positive_iou=0.4, negative_iou=0.3).numpy()[:, 4]
    np.testing.assert_array_equal(paper, [0, -2, -1, -1])  # 0.5 / 0.4: 0.45 is ignored, 0.35 background
    np.testing.assert_array_equal(loose, [0, 0, -2, -1])  # 0.4 / 0.3: 0.45 is positive, 0.35 ignored
    task = ObjectDetector("resnet10_050", ["Car"], preprocessor={"input_size": (64, 96)}, fpn_width=8, head_width=8,
                          head_depth=1, iou_thresholds=(0.4, 0.3))
    boxes, classes = np.array([[10, 10, 20, 40]], "float32"), np.array([0])
    np.testing.assert_array_equal(task.encode_targets(boxes, classes).numpy(),
                                  assign_targets(boxes, classes, task.anchors, positive_iou=0.4,
                                                 negative_iou=0.3).numpy())
    with pytest.raises(ConfigError, match="iou_thresholds"):
        ObjectDetector("resnet10_050", ["Car"], iou_thresholds=(0.3, 0.4))
    # The training pipeline matches with the detector's thresholds (train() passes them)
    Image.fromarray(np.zeros((64, 96, 3), "uint8")).save(tmp_path / "000000.png")
    (tmp_path / "l.txt").write_text("Pedestrian 0 0 0 10 10 20 40 1 1 1 0 0 0 0\n")
    frame = read_kitti_label(tmp_path / "l.txt", image_path=tmp_path / "000000.png")
    _, targets = next(iter(make_dataset([frame], ["Pedestrian"], input_size=(64, 96), anchors=task.anchors,
                                        iou_thresholds=task.iou_thresholds)))
    np.testing.assert_array_equal(targets.numpy()[0], task.encode_targets(boxes, classes).numpy())


def test_training_batches_have_a_static_size_and_evaluation_keeps_every_frame(tmp_path):
    image = np.zeros((40, 80, 3), "uint8")
    frames = []
    for i in range(10):
        Image.fromarray(image).save(tmp_path / f"{i:06d}.png")
        (tmp_path / f"{i}.txt").write_text(f"Car 0 0 0 {i} 5 {i + 20} 30 1 1 1 0 0 0 0\n")
        frames.append(read_kitti_label(tmp_path / f"{i}.txt", image_path=tmp_path / f"{i:06d}.png"))
    options = {"input_size": (32, 64), "batch_size": 4, "targets": False}
    training = make_dataset(frames, ["Car"], shuffle=True, augment=True, **options)
    assert training.element_spec[0].shape[0] == 4  # static: one compiled step shape, no polymorphic batch
    assert [len(x) for x, _ in training] == [4, 4]
    evaluation = make_dataset(frames, ["Car"], **options)
    assert evaluation.element_spec[0].shape[0] is None
    assert [len(x) for x, _ in evaluation] == [4, 4, 2]
    left = [x1 for _, t in evaluation for x1 in t["boxes"].numpy()[:, 0, 0]]
    np.testing.assert_allclose(np.sort(left), np.arange(10) * 32 / 40)  # every frame, once (letterbox scale 0.8)
    # Fewer frames than a batch: the one short batch is kept, not dropped
    assert [len(x) for x, _ in make_dataset(frames[:3], ["Car"], shuffle=True, **options)] == [3]


def test_assign_targets():
    anchors = make_anchors((64, 64))
    exact = anchors[10]
    tiny = np.array([40, 40, 44, 43], "float32")  # matches no anchor at 0.5: claims its best one anyway
    boxes = np.stack([exact, tiny, np.zeros(4, "float32")])
    targets = assign_targets(boxes, np.array([2, 0, -1]), anchors).numpy()
    assert targets[10, 4] == 2 and np.allclose(targets[10, :4], 0, atol=1e-5)
    overlaps = iou_matrix(tiny, anchors)[0]
    assert overlaps.max() < 0.4 and targets[np.argmax(overlaps), 4] == 0
    assert set(np.unique(targets[:, 4])) <= {-2, -1, 0, 2}
    empty = assign_targets(np.zeros((0, 4), "float32"), np.zeros((0,), "int32"), anchors).numpy()
    assert (empty[:, 4] == -1).all()


def test_anchor_recall_counts_matchable_boxes():
    anchors = make_anchors((64, 64))
    good = anchors[5]
    batch = [(None, {"boxes": np.stack([good, [0, 0, 2, 60]]), "classes": np.array([0, 1])})]
    assert anchor_recall(batch, anchors) == 0.5


@pytest.mark.parametrize("content, message", [
    ("{not json", r"coco.json:1:2: not valid JSON"),
    ('{"annotations": []}', "an object with an 'images' list"),
    ('{"images": [{"id": 1, "height": 10}]}', r"images\[0\]: an image needs 'id', 'width' and 'height'; 'width'"),
    ('{"images": [], "categories": [{"id": 1}]}', r"categories\[0\]: a category needs an 'id' and a 'name'"),
    ('{"images": [{"id": 1, "width": 9, "height": 9}], "categories": [{"id": 1, "name": "car"}], '
     '"annotations": [{"id": 7, "category_id": 1, "bbox": [0, 0, 1, 1]}]}', r"annotations\[0\] \(id 7\): 'image_id'"),
    ('{"images": [{"id": 1, "width": 9, "height": 9}], "categories": [{"id": 1, "name": "car"}], '
     '"annotations": [{"id": 7, "image_id": 1, "category_id": 1, "bbox": [0, "0", 1, 1]}]}',
     r"bbox\[1\] must be a finite number, got '0'"),
    ('{"images": [{"id": 1, "width": 9, "height": 9}], "categories": [{"id": 1, "name": "car"}], '
     '"annotations": [{"id": 7, "image_id": 2, "category_id": 1, "bbox": [0, 0, 1, 1]}]}',
     "image_id 2 is not in 'images'"),
])
def test_malformed_coco_files_name_the_file_and_entry(tmp_path, content, message):
    from domains.driving.data import read_coco

    (tmp_path / "coco.json").write_text(content)
    with pytest.raises(LabelError, match=message):
        read_coco(tmp_path / "coco.json", tmp_path)


@pytest.mark.parametrize("content, message", [
    ('{"name": "a.jpg", "labels": []}', "a list of frames, got dict"),
    ('[{"name": "a.jpg"}]', r"frame \[0\] 'a.jpg': 'labels' must be a list .* got None"),
    ('[{"name": "a.jpg", "labels": null}]', r"frame \[0\] 'a.jpg': 'labels' must be a list"),
])
def test_malformed_bdd100k_files_are_refused(tmp_path, content, message):
    from domains.driving.data import read_bdd100k

    (tmp_path / "bdd.json").write_text(content)
    with pytest.raises(LabelError, match=message):
        read_bdd100k(tmp_path / "bdd.json", tmp_path)


def test_kitti_result_folders_evaluate_any_models_output(kitti_root, tmp_path):
    """Detections written as KITTI result files (16 fields) read back to the same AP as in memory."""
    from domains.driving.data import read_kitti, read_kitti_results
    from domains.driving.evaluate import kitti_ap

    truth = read_kitti(kitti_root)
    rng = np.random.default_rng(0)
    (tmp_path / "results").mkdir()
    for frame in truth:
        lines = []
        for box, label in zip(frame.boxes, frame.labels, strict=True):
            if label == "DontCare":
                continue
            jitter = box + rng.normal(0, 2, 4)
            lines.append(f"{label} -1 -1 -10 {jitter[0]:.2f} {jitter[1]:.2f} {jitter[2]:.2f} {jitter[3]:.2f} "
                         f"-1 -1 -1 -1000 -1000 -1000 -10 {rng.random():.4f}")
        (tmp_path / "results" / f"{Path(frame.image_path).stem}.txt").write_text("\n".join(lines) + "\n")
    detections = read_kitti_results(tmp_path / "results", truth)
    assert [len(d) for d in detections] == [sum(lab != "DontCare" for lab in f.labels) for f in truth]
    assert detections[0].scores.dtype == np.float64
    ap = kitti_ap(truth, detections)
    assert ap["Car"]["moderate"]["R40"] > 0
    (tmp_path / "results" / "000007.txt").unlink()
    with pytest.raises(LabelError, match=r"000007.txt: no result file for 000007.png"):
        read_kitti_results(tmp_path / "results", truth)
