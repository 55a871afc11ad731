"""COCO metrics on real-format files equal pycocotools run directly on the same files.

Hypothesis writes random COCO annotation and results files the way the COCO servers do: image ids in
no particular order, category ids with gaps, ``area`` from segmentations (not the box), boxes exactly at
the small / medium / large thresholds, crowd boxes, empty images, categories without ground truth or
without detections, tied scores. Every one of the 12 stats must agree to 1e-9 (pycocotools' -1,
"undefined", is our NaN).
"""

import contextlib
import io
import json
import math
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domains.driving.data import load_coco, read_coco_results
from domains.driving.evaluate import COCO_KEYS, coco_metrics

# Sides that put box areas on COCO's thresholds (32² and 96²) and just around them, plus fractions.
SIDES = st.sampled_from([1.0, 4.0, 8.5, 16.0, 31.99, 32.0, 32.01, 48.0, 95.5, 96.0, 96.5, 128.0, 0.0])
SCORES = st.sampled_from([0.05, 0.3, 0.5, 0.5, 0.7, 0.9])  # repeated values: ties


@st.composite
def coco_files(draw):
    n_images = draw(st.integers(1, 5))
    image_ids = draw(st.lists(st.integers(1, 10**6), min_size=n_images, max_size=n_images, unique=True))
    n_cats = draw(st.integers(1, 3))
    cat_ids = draw(st.lists(st.integers(1, 90), min_size=n_cats, max_size=n_cats, unique=True))
    images = [{"id": i, "width": 400, "height": 300, "file_name": f"{i}.jpg"} for i in image_ids]
    annotations = []
    for image_id in image_ids:
        for _ in range(draw(st.integers(0, 4))):
            w, h = draw(SIDES), draw(SIDES)
            x, y = draw(st.floats(0, 400 - 130, allow_nan=False)), draw(st.floats(0, 300 - 130, allow_nan=False))
            ann = {"id": len(annotations) + 1, "image_id": image_id, "category_id": draw(st.sampled_from(cat_ids)),
                   "bbox": [x, y, w, h], "iscrowd": int(draw(st.integers(0, 9)) == 0)}
            area = draw(st.sampled_from(["segmentation", "box", "absent", "threshold"]))
            if area == "segmentation":
                ann["area"] = w * h * draw(st.floats(0.3, 1.0))
            elif area == "box":
                ann["area"] = w * h
            elif area == "threshold":
                ann["area"] = draw(st.sampled_from([1024.0, 9216.0, 1023.999, 9216.001]))
            annotations.append(ann)
    draw(st.randoms()).shuffle(images)  # the images list in no particular id order
    results = []
    for image_id in image_ids:
        own = [a for a in annotations if a["image_id"] == image_id]
        for _ in range(draw(st.integers(0, 6))):
            if own and draw(st.booleans()):
                base = draw(st.sampled_from(own))["bbox"]
                shift = draw(st.sampled_from([0.0, 0.5, 2.0, 8.0]))
                bbox = [base[0] + shift, base[1], base[2], base[3]]
            else:
                bbox = [draw(st.floats(0, 270)), draw(st.floats(0, 170)), draw(SIDES), draw(SIDES)]
            results.append({"image_id": image_id, "category_id": draw(st.sampled_from(cat_ids)), "bbox": bbox,
                            "score": draw(SCORES)})
    categories = [{"id": c, "name": f"class{c}"} for c in cat_ids]
    return {"images": images, "annotations": annotations, "categories": categories}, results


def _pycocotools(gt_path: Path, results: list, res_path: Path) -> list[float]:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(gt_path))
        if results:
            dt = gt.loadRes(str(res_path))
        else:  # loadRes cannot take an empty list: the same empty result set, built by hand
            dt = COCO()
            dt.dataset = {"images": gt.dataset["images"], "annotations": [], "categories": gt.dataset["categories"]}
            dt.createIndex()
        evaluator = COCOeval(gt, dt, "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return [float(v) for v in evaluator.stats]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(coco_files())
def test_coco_stats_equal_pycocotools_on_the_files(files):
    gt, results = files
    with tempfile.TemporaryDirectory() as folder:
        gt_path, res_path = Path(folder) / "instances.json", Path(folder) / "results.json"
        ref_path = Path(folder) / "reference.json"
        gt_path.write_text(json.dumps(gt))
        res_path.write_text(json.dumps(results))
        # pycocotools needs every annotation's area (a KeyError otherwise); where the file has none, ours
        # takes the box area: the reference gets exactly that written in.
        ref_path.write_text(json.dumps({**gt, "annotations": [{"area": a["bbox"][2] * a["bbox"][3], **a}
                                                              for a in gt["annotations"]]}))
        expected = _pycocotools(ref_path, results, res_path)
        frames, categories = load_coco(gt_path, folder), {c["id"]: c["name"] for c in gt["categories"]}
        detections = read_coco_results(res_path, frames, categories)
        ours = coco_metrics(frames, detections)
    for key, want in zip(COCO_KEYS, expected, strict=True):
        got = ours[key]
        if want == -1:
            assert math.isnan(got), (key, got, want)
        else:
            assert abs(got - want) <= 1e-9, (key, got, want)


def test_unsorted_image_ids_and_file_areas_are_kept(tmp_path):
    """The measured defect: two images listed in descending id order (COCO's val file is unsorted)."""
    gt = {"images": [{"id": 9, "width": 100, "height": 100}, {"id": 3, "width": 100, "height": 100}],
          "categories": [{"id": 5, "name": "car"}],
          "annotations": [{"id": 1, "image_id": 9, "category_id": 5, "bbox": [0, 0, 40, 40], "area": 900.0,
                           "iscrowd": 0},
                          {"id": 2, "image_id": 3, "category_id": 5, "bbox": [10, 10, 40, 40], "area": 1600.0,
                           "iscrowd": 0}]}
    results = [{"image_id": 9, "category_id": 5, "bbox": [0, 0, 40, 40], "score": 0.6},
               {"image_id": 3, "category_id": 5, "bbox": [60, 60, 30, 30], "score": 0.9}]
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "res.json").write_text(json.dumps(results))
    frames = load_coco(tmp_path / "gt.json", tmp_path)
    assert [f.frame_attributes["id"] for f in frames] == [9, 3]
    np.testing.assert_array_equal(frames[0].attributes["area"], [900.0])  # the file's, not 40 × 40
    assert frames[0].boxes.dtype == np.float64
    ours = coco_metrics(frames, read_coco_results(tmp_path / "res.json", frames))
    expected = _pycocotools(tmp_path / "gt.json", results, tmp_path / "res.json")
    np.testing.assert_allclose([ours[k] for k in COCO_KEYS], [v if v != -1 else np.nan for v in expected],
                               atol=1e-12)
