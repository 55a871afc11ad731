"""COCO metrics against direct pycocotools calls; KITTI AP rules as the devkit applies them."""

import contextlib
import io

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from domains.driving.data import Frame, read_kitti
from domains.driving.evaluate import coco_metrics, kitti_ap, kitti_precision


def _random_case(rng, n_images=6, classes=("car", "person", "bike")):
    gts, dets = [], []
    for i in range(n_images):
        n = int(rng.integers(0, 6))
        xy = rng.uniform(0, 300, (n, 2))
        boxes = np.concatenate([xy, xy + rng.uniform(5, 150, (n, 2))], 1).astype("float32")
        labels = [str(rng.choice(classes[:2])) for _ in range(n)]  # "bike" never has ground truth
        gts.append(Frame(f"{i}.png", 500, 500, boxes, labels, {"iscrowd": (rng.random(n) < 0.1).astype("int32")}))
        if i == n_images - 1:
            dets.append(Frame(f"{i}.png", 500, 500, np.zeros((0, 4), "float32"), [], scores=np.zeros(0, "float32")))
            continue
        jitter = boxes + rng.normal(0, 6, boxes.shape).astype("float32")
        extra = np.array([[10, 10, 60, 60]], "float32")
        dets.append(Frame(f"{i}.png", 500, 500, np.concatenate([jitter, extra]), labels + ["bike"],
                          scores=rng.random(n + 1).astype("float32")))
    return gts, dets


def _direct_pycocotools(gts, dets):
    """The reference: pycocotools called by hand, xywh boxes, every image, gt categories only."""
    cats = sorted({n for f in gts for n in f.labels})
    cat_id = {n: 10 * (i + 1) for i, n in enumerate(cats)}  # other ids than ours: mapping must not matter
    images = [{"id": 100 + i, "width": 500, "height": 500} for i in range(len(gts))]
    anns = []
    for i, f in enumerate(gts):
        for b, n, c in zip(f.boxes, f.labels, f.attributes["iscrowd"], strict=True):
            w, h = float(b[2] - b[0]), float(b[3] - b[1])
            anns.append({"id": len(anns) + 1, "image_id": 100 + i, "category_id": cat_id[n],
                         "bbox": [float(b[0]), float(b[1]), w, h], "area": w * h, "iscrowd": int(c)})
    results = [{"image_id": 100 + i, "category_id": cat_id[n], "bbox": [float(b[0]), float(b[1]),
                float(b[2] - b[0]), float(b[3] - b[1])], "score": float(s)}
               for i, f in enumerate(dets) for b, n, s in zip(f.boxes, f.labels, f.scores, strict=True) if n in cat_id]
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {"images": images, "annotations": anns, "categories": [{"id": v, "name": k} for k, v in cat_id.items()]}
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes(results), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_coco_metrics_equal_direct_pycocotools(seed):
    gts, dets = _random_case(np.random.default_rng(seed))
    ours = coco_metrics(gts, dets)
    reference = _direct_pycocotools(gts, dets)
    got = np.array([ours[k] for k in ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")])
    np.testing.assert_allclose(np.nan_to_num(got, nan=-1), reference, atol=1e-6)


def test_coco_traps():
    rng = np.random.default_rng(5)
    gts, dets = _random_case(rng)
    all_images = coco_metrics(gts, dets)["AR100"]
    # Evaluating only images that have detections (keras-cv's trap) would raise recall: ours counts them all.
    detected = [i for i, d in enumerate(dets) if len(d)]
    only = coco_metrics([gts[i] for i in detected], [dets[i] for i in detected])["AR100"]
    assert len(gts[-1]) == 0 or only > all_images
    empty = [Frame(d.image_path, 500, 500, np.zeros((0, 4), "float32"), [], scores=np.zeros(0, "float32")) for d in dets]
    assert coco_metrics(gts, empty)["AP"] == 0.0
    without_bike = [d.select([n != "bike" for n in d.labels]) for d in dets]
    a, b = coco_metrics(gts, without_bike), coco_metrics(gts, dets)  # a class without ground truth does not count
    np.testing.assert_array_equal(list(a.values()), list(b.values()))


def _gt(boxes, labels, occluded=None, truncated=None):
    n = len(labels)
    return Frame("x.png", 1242, 375, np.asarray(boxes, "float32").reshape(-1, 4), list(labels),
                 {"occluded": np.asarray(occluded if occluded is not None else [0] * n),
                  "truncated": np.asarray(truncated if truncated is not None else [0.0] * n, "float32")})


def _det(boxes, labels, scores):
    return Frame("x.png", 1242, 375, np.asarray(boxes, "float32").reshape(-1, 4), list(labels),
                 scores=np.asarray(scores, "float32"))


def test_kitti_ap_hand_computed_cases():
    gt = _gt([[0, 0, 100, 50], [200, 0, 300, 50]], ["Car", "Car"])
    # One TP (IoU 0.8), one detection at IoU 0.69 (< 0.7: FP and FN): one recall point, precision 1.
    det = _det([[0, 0, 100, 40], [200, 0, 269, 50]], ["Car", "Car"], [0.9, 0.8])
    ap = kitti_ap([gt], [det], classes=("Car",))["Car"]["easy"]
    assert ap == {"R11": pytest.approx(100 / 11), "R40": 0.0}
    # Both TP: two recall points at precision 1.
    det2 = _det([[0, 0, 100, 40], [200, 0, 271, 50]], ["Car", "Car"], [0.9, 0.8])
    ap2 = kitti_ap([gt], [det2], classes=("Car",))["Car"]["easy"]
    assert ap2 == {"R11": pytest.approx(100 / 11), "R40": pytest.approx(100 / 40)}


def test_kitti_matching_is_strictly_greater_than_the_overlap():
    gt = _gt([[0, 0, 100, 50]], ["Car"])
    exactly = kitti_precision([gt], [_det([[0, 0, 70, 50]], ["Car"], [1.0])], "Car", 0)  # IoU exactly 0.7
    above = kitti_precision([gt], [_det([[0, 0, 70.1, 50]], ["Car"], [1.0])], "Car", 0)
    assert exactly[0] == 0 and above[0] == 1


def test_kitti_difficulty_ignores_and_integer_heights():
    # Height 25.0 is not > 25: ignored at moderate, so there is no counted ground truth at all.
    assert np.isnan(kitti_precision([_gt([[0, 0, 50, 25]], ["Car"])], [_det([], [], [])], "Car", 1)).all()
    gt = _gt([[0, 0, 60, 50]], ["Car"])
    tp = [[0, 0, 60, 50]]
    # A detection 24.9 px high counts as 24 (int32 in the devkit): ignored, not a false positive.
    small = _det(tp + [[500, 0, 540, 24.9]], ["Car", "Car"], [0.9, 0.95])
    assert kitti_precision([gt], [small], "Car", 1)[0] == 1
    # At 25.0 px it is a false positive ranked above the true one.
    counted = _det(tp + [[500, 0, 540, 25.0]], ["Car", "Car"], [0.9, 0.95])
    assert kitti_precision([gt], [counted], "Car", 1)[0] == 0.5
    # Occlusion 1 is too hard for easy (ignored: a match is neither TP nor FP) but counted at moderate.
    occluded = _gt([[0, 0, 60, 50]], ["Car"], occluded=[1])
    assert np.isnan(kitti_precision([occluded], [_det(tp, ["Car"], [1.0])], "Car", 0)).all()
    assert kitti_precision([occluded], [_det(tp, ["Car"], [1.0])], "Car", 1)[0] == 1
    # Truncation 0.2 > 0.15: not counted at easy, counted at moderate (cumulative difficulties).
    truncated = _gt([[0, 0, 60, 50], [200, 0, 260, 50]], ["Car", "Car"], truncated=[0.2, 0.0])
    easy = kitti_precision([truncated], [_det(tp + [[200, 0, 260, 50]], ["Car", "Car"], [0.8, 0.9])], "Car", 0)
    assert easy[0] == 1  # the truncated car's match is not a false positive


def test_kitti_neighbour_classes_and_dontcare():
    gt = _gt([[0, 0, 60, 50], [100, 0, 160, 50], [300, 0, 360, 60]], ["Car", "Van", "DontCare"])
    det = _det([[0, 0, 60, 50], [100, 0, 160, 50], [305, 5, 355, 55]], ["Car", "Car", "Car"], [0.5, 0.9, 0.8])
    # The Van matched by a Car detection and the detection inside DontCare are neither TP nor FP.
    assert kitti_precision([gt], [det], "Car", 0)[0] == 1
    ped = _gt([[0, 0, 20, 60], [100, 0, 120, 60]], ["Pedestrian", "Person_sitting"])
    pdet = _det([[0, 0, 20, 60], [100, 0, 120, 60]], ["Pedestrian", "Pedestrian"], [0.5, 0.9])
    assert kitti_precision([ped], [pdet], "Pedestrian", 0)[0] == 1


def test_kitti_ap_on_real_frames(kitti_root):
    gts = read_kitti(kitti_root)
    perfect = [g.select([n != "DontCare" for n in g.labels]) for g in gts]
    for i, p in enumerate(perfect):
        p.scores = np.linspace(1, 0.5, len(p)).astype("float32") - 0.01 * i
    curve = kitti_precision(gts, perfect, "Car", 1)
    n_counted = np.count_nonzero(curve)
    assert n_counted >= 3 and np.all(curve[:n_counted] == 1) and np.all(curve[n_counted:] == 0)
    # Shrinking every car to IoU ~0.6 with its ground truth drops Car AP to 0, leaves Pedestrian as is.
    shrunk = []
    for p in perfect:
        boxes = p.boxes.copy()
        cars = np.array([n == "Car" for n in p.labels])
        boxes[cars, 2] = boxes[cars, 0] + 0.6 * (boxes[cars, 2] - boxes[cars, 0])
        shrunk.append(Frame(p.image_path, p.width, p.height, boxes, p.labels, scores=p.scores))
    before, after = kitti_ap(gts, perfect), kitti_ap(gts, shrunk)
    assert after["Car"]["moderate"]["R40"] == 0 and before["Car"]["moderate"]["R40"] > 0
    assert after.get("Pedestrian") == before.get("Pedestrian")


def test_a_perfect_detector_on_few_objects_hits_the_devkits_sampling_cap(kitti_root):
    """Why "Car easy trails Car moderate" on the three real frames: with n counted objects the devkit
    samples at most n recall points; a perfect detector scores R11 = ceil(n/4)/11, R40 = (n - 1)/40."""
    import math

    gts = read_kitti(kitti_root)
    perfect = [g.select([n != "DontCare" for n in g.labels]) for g in gts]
    for p in perfect:
        p.scores = np.ones(len(p))
    ap = kitti_ap(gts, perfect)["Car"]
    counted = {"easy": 2, "moderate": 5}  # read off the label files: height, occlusion, truncation limits
    for difficulty, n in counted.items():
        assert ap[difficulty]["R11"] == pytest.approx(math.ceil(n / 4) / 11 * 100)
        assert ap[difficulty]["R40"] == pytest.approx((n - 1) / 40 * 100)
    assert ap["easy"]["R11"] == pytest.approx(9.0909, abs=1e-3) and ap["moderate"]["R40"] == pytest.approx(10.0)
