"""Detection metrics identical to the official tools: COCO through pycocotools, KITTI 2-D AP as the
KITTI devkit (``evaluate_object.cpp``) computes it.

Inputs are :class:`~domains.driving.data.Frame` lists: ground truth, and detections with ``scores``
for the same images in the same order.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pandas as pd

from domains.driving.boxes import iou_matrix
from restoolkit.errors import ConfigError
from restoolkit.tasks import Report

COCO_KEYS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


def _xywh(frame, k: int) -> list[float]:
    if "coco_bbox" in frame.attributes:  # the file's own numbers: x + w - x is not always w in floating point
        return [float(v) for v in frame.attributes["coco_bbox"][k]]
    x1, y1, x2, y2 = (float(v) for v in frame.boxes[k])
    return [x1, y1, x2 - x1, y2 - y1]


def to_coco(ground_truth, detections=None, *, class_names=None):
    """COCO dictionaries from frames: ``(gt_dict, detections_list, category_ids)``, exactly what
    pycocotools would read from the files the frames came from.

    Image ids are the frames' own (``frame_attributes["id"]``, from :func:`read_coco`; ``1..N`` in frame
    order otherwise); categories keep the file's ids (``attributes["category_id"]``) when every frame has
    them; each annotation keeps its file ``area`` and ``[x, y, w, h]``; detections keep their order within
    each image (pycocotools breaks score ties by it). Every ground-truth frame is an image (also without
    objects or detections); categories are the classes with at least one ground-truth box
    (``class_names`` restricts them).
    """
    ids = [f.frame_attributes.get("id") for f in ground_truth]
    image_ids = ids if None not in ids and len(set(ids)) == len(ids) else list(range(1, len(ground_truth) + 1))
    names = sorted({n for f in ground_truth for n in f.labels}) if class_names is None else list(class_names)
    present = [n for n in names if any(n in f.labels for f in ground_truth)]
    if ground_truth and all("category_id" in f.attributes for f in ground_truth):
        file_ids = {n: int(c) for f in ground_truth for n, c in zip(f.labels, f.attributes["category_id"], strict=True)}
        cat_ids = {n: file_ids[n] for n in present}
    else:
        cat_ids = {n: i + 1 for i, n in enumerate(present)}
    wanted = set(cat_ids.values())
    images, annotations = [], []
    for image_id, frame in zip(image_ids, ground_truth, strict=True):
        images.append({"id": image_id, "width": int(frame.width), "height": int(frame.height)})
        crowd = frame.attributes.get("iscrowd", np.zeros(len(frame), "int64"))
        area = frame.attributes.get("area")
        for k, name in enumerate(frame.labels):
            if name not in cat_ids:
                continue
            box = _xywh(frame, k)
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": cat_ids[name],
                                "bbox": box, "area": float(area[k]) if area is not None else box[2] * box[3],
                                "iscrowd": int(crowd[k])})
    gt = {"images": images, "annotations": annotations,
          "categories": [{"id": i, "name": n} for n, i in cat_ids.items()]}
    dets = []
    if detections is not None:
        if len(detections) != len(ground_truth):
            raise ConfigError(f"{len(detections)} detection frames for {len(ground_truth)} ground-truth frames")
        for image_id, (index, frame) in zip(image_ids, enumerate(detections), strict=True):
            if frame.scores is None:
                raise ConfigError(f"detection frame {index} has no scores")
            categories = frame.attributes.get("category_id")
            for k, (name, score) in enumerate(zip(frame.labels, frame.scores, strict=True)):
                category = int(categories[k]) if categories is not None else cat_ids.get(name)
                if category in wanted:  # detections of a class without ground truth cannot be scored
                    dets.append({"image_id": image_id, "category_id": category, "bbox": _xywh(frame, k),
                                 "score": float(score)})
    return gt, dets, cat_ids


def coco_eval(gt: dict, dets: list) -> dict:
    """pycocotools' ``COCOeval`` on in-memory dictionaries, with its traps avoided.

    All ground-truth images are evaluated; with no detections at all the evaluation still runs (pycocotools'
    ``loadRes`` cannot take an empty list), so metrics without ground truth in their range stay undefined;
    ``maxDets`` stays (1, 10, 100) per image and category; categories without ground truth are not in ``gt``
    and so do not count.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = {**gt, "info": {}, "licenses": []}
        coco_gt.createIndex()
        if dets:
            coco_dt = coco_gt.loadRes(dets)
        else:
            coco_dt = COCO()
            coco_dt.dataset = {"images": gt["images"], "annotations": [], "categories": gt["categories"]}
            coco_dt.createIndex()
        evaluator = COCOeval(coco_gt, coco_dt, "bbox")
        evaluator.params.imgIds = sorted(coco_gt.getImgIds())
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    # pycocotools writes -1 where a metric is undefined (no ground truth of that size): NaN says so.
    return dict(zip(COCO_KEYS, (float(v) if v > -1 else float("nan") for v in evaluator.stats), strict=True))


def coco_metrics(ground_truth, detections, *, class_names=None) -> dict:
    """COCO AP, AP50, AP75, APs/m/l (and AR) for frames; see :func:`coco_eval`.

    Example:
        >>> coco_metrics(ground_truth, task.predict(images))["AP50"]
    """
    gt, dets, _ = to_coco(ground_truth, detections, class_names=class_names)
    return coco_eval(gt, dets)


# --- KITTI ------------------------------------------------------------------------------------------------

KITTI_MIN_OVERLAP = {"Car": 0.7, "Pedestrian": 0.5, "Cyclist": 0.5}
KITTI_NEIGHBOUR = {"Car": "Van", "Pedestrian": "Person_sitting"}
DIFFICULTIES = ("easy", "moderate", "hard")
MIN_HEIGHT = (40, 25, 25)
MAX_OCCLUSION = (0, 1, 2)
MAX_TRUNCATION = (0.15, 0.30, 0.50)
N_SAMPLE_PTS = 41


def _clean(gt, det, cls: str, difficulty: int):
    """The devkit's ``cleanData``: 0 counted, 1 ignored (neighbour class or too hard / small), -1 other."""
    lower = cls.lower()
    neighbour = KITTI_NEIGHBOUR.get(cls, "").lower()
    ignored_gt = []
    for name, box, occ, trunc in zip(gt.labels, gt.boxes, gt.attributes["occluded"], gt.attributes["truncated"],
                                     strict=True):
        height = float(box[3]) - float(box[1])
        valid = 1 if name.lower() == lower else (0 if neighbour and name.lower() == neighbour else -1)
        ignore = occ > MAX_OCCLUSION[difficulty] or trunc > MAX_TRUNCATION[difficulty] or height <= MIN_HEIGHT[difficulty]
        ignored_gt.append(0 if valid == 1 and not ignore else (1 if valid == 0 or (ignore and valid == 1) else -1))
    dontcare = gt.boxes[[n.lower() == "dontcare" for n in gt.labels]].reshape(-1, 4)
    ignored_det = []
    for name, box in zip(det.labels, det.boxes, strict=True):
        height = int(abs(float(box[3]) - float(box[1])))  # the devkit stores it in an int32_t: truncated
        ignored_det.append(1 if height < MIN_HEIGHT[difficulty] else (0 if name.lower() == lower else -1))
    return np.array(ignored_gt, int), np.array(ignored_det, int), dontcare


def _statistics(overlap, dc_overlap, scores, ignored_gt, ignored_det, min_overlap, compute_fp, thresh=0.0):
    """The devkit's ``computeStatistics`` for one image: ``(tp, fp, fn, tp_scores)``."""
    n_gt, n_det = overlap.shape
    assigned = np.zeros(n_det, bool)
    below = scores < thresh if compute_fp else np.zeros(n_det, bool)
    tp = fp = fn = 0
    tp_scores = []
    no_detection = -1e7
    for i in range(n_gt):
        if ignored_gt[i] == -1:
            continue
        det_idx, valid, max_overlap, assigned_ignored = -1, no_detection, 0.0, False
        for j in range(n_det):
            if ignored_det[j] == -1 or assigned[j] or below[j]:
                continue
            o = overlap[i, j]
            if not compute_fp and o > min_overlap and scores[j] > valid:
                det_idx, valid = j, scores[j]
            elif compute_fp and o > min_overlap and (o > max_overlap or assigned_ignored) and ignored_det[j] == 0:
                max_overlap, det_idx, valid, assigned_ignored = o, j, 1.0, False
            elif compute_fp and o > min_overlap and valid == no_detection and ignored_det[j] == 1:
                det_idx, valid, assigned_ignored = j, 1.0, True
        if valid == no_detection and ignored_gt[i] == 0:
            fn += 1
        elif valid != no_detection and (ignored_gt[i] == 1 or ignored_det[det_idx] == 1):
            assigned[det_idx] = True
        elif valid != no_detection:
            tp += 1
            tp_scores.append(scores[det_idx])
            assigned[det_idx] = True
    if compute_fp:
        fp = int(np.sum(~(assigned | (ignored_det == -1) | (ignored_det == 1) | below)))
        stuff = 0
        for d in range(dc_overlap.shape[0]):
            for j in range(n_det):
                if assigned[j] or ignored_det[j] in (-1, 1) or below[j]:
                    continue
                if dc_overlap[d, j] > min_overlap:
                    assigned[j] = True
                    stuff += 1
        fp -= stuff
    return tp, fp, fn, tp_scores


def _thresholds(scores, n_gt):
    """The devkit's ``getThresholds``: scores at (approximately) linearly spaced recall."""
    scores = sorted(scores, reverse=True)
    out, current = [], 0.0
    for i, s in enumerate(scores):
        left = (i + 1) / n_gt
        right = (i + 2) / n_gt if i < len(scores) - 1 else left
        if right - current < current - left and i < len(scores) - 1:
            continue
        out.append(s)
        current += 1.0 / (N_SAMPLE_PTS - 1.0)
    return out


def _intersection_over_det(det_boxes, dc_boxes):
    """Overlap of detections with DontCare regions, as a share of the detection's area (criterion 0)."""
    d = np.asarray(det_boxes, "float64").reshape(-1, 4)
    c = np.asarray(dc_boxes, "float64").reshape(-1, 4)
    lt = np.maximum(c[:, None, :2], d[None, :, :2])
    rb = np.minimum(c[:, None, 2:], d[None, :, 2:])
    wh = rb - lt
    inter = np.where((wh[..., 0] > 0) & (wh[..., 1] > 0), wh[..., 0] * wh[..., 1], 0.0)
    area = (d[:, 2] - d[:, 0]) * (d[:, 3] - d[:, 1])
    return inter / np.maximum(area[None, :], 1e-12)


def kitti_precision(ground_truth, detections, cls: str, difficulty: int) -> np.ndarray:
    """The 41-point interpolated precision curve of the devkit for one class and difficulty.

    Returns ``nan`` everywhere when the class has no counted ground truth at this difficulty.
    """
    cleaned, n_gt, scores_tp = [], 0, []
    min_overlap = KITTI_MIN_OVERLAP[cls]
    for gt, det in zip(ground_truth, detections, strict=True):
        ig, idt, dc = _clean(gt, det, cls, difficulty)
        overlap = iou_matrix(gt.boxes, det.boxes)
        dc_overlap = _intersection_over_det(det.boxes, dc)
        scores = np.asarray(det.scores, "float64")
        cleaned.append((overlap, dc_overlap, scores, ig, idt))
        n_gt += int(np.sum(ig == 0))
        scores_tp += _statistics(overlap, dc_overlap, scores, ig, idt, min_overlap, False)[3]
    if n_gt == 0:
        return np.full(N_SAMPLE_PTS, np.nan)
    thresholds = _thresholds(scores_tp, n_gt)
    precision = np.zeros(N_SAMPLE_PTS)
    for t, thresh in enumerate(thresholds):
        tp = fp = 0
        for overlap, dc_overlap, scores, ig, idt in cleaned:
            a, b, _, _ = _statistics(overlap, dc_overlap, scores, ig, idt, min_overlap, True, thresh)
            tp, fp = tp + a, fp + b
        precision[t] = tp / (tp + fp)
    for t in range(len(thresholds)):
        precision[t] = precision[t:].max()
    return precision


def kitti_ap(ground_truth, detections, *, classes=("Car", "Pedestrian", "Cyclist")) -> dict:
    """KITTI 2-D AP (percent) per class and difficulty, R11 and R40, as the official devkit.

    Car needs IoU > 0.7, Pedestrian and Cyclist > 0.5 (strictly greater). Easy / Moderate / Hard keep
    ground truth with height > 40 / 25 / 25 px (float), occlusion ≤ 0 / 1 / 2 and truncation ≤
    0.15 / 0.30 / 0.50 (cumulative); harder or smaller ground truth, and Van (for Car) or Person_sitting
    (for Pedestrian), are ignored: matching them is neither a TP nor an FP. Detections shorter than the
    minimum height (height truncated to an integer, as the devkit's ``int32_t``) are ignored, as are
    unmatched detections covering a ``DontCare`` region (intersection over detection area > the class
    IoU).

    Returns:
        ``{"Car": {"easy": {"R11": …, "R40": …}, …}, …}``; classes without ground truth are left out.
    """
    if len(ground_truth) != len(detections):
        raise ValueError(f"{len(detections)} detection frames for {len(ground_truth)} ground-truth frames")
    for i, det in enumerate(detections):
        if det.scores is None:
            raise ValueError(f"detection frame {i} has no scores")
    out = {}
    for cls in classes:
        per = {}
        for d, name in enumerate(DIFFICULTIES):
            precision = kitti_precision(ground_truth, detections, cls, d)
            if np.isnan(precision).all():
                continue
            per[name] = {"R11": float(precision[0::4].sum() / 11 * 100), "R40": float(precision[1:].sum() / 40 * 100)}
        if per:
            out[cls] = per
    return out


def evaluate(task, frames, *, detections=None, classes=None, nms=None, batch_size: int = 8) -> Report:
    """COCO metrics (pycocotools) and KITTI AP (``evaluate_object.cpp``'s rules) of a detector on frames.

    Args:
        task: an :class:`~domains.driving.ObjectDetector`, or ``None`` when ``detections`` are given
            (any model's output: :class:`Frame` lists, e.g. from :func:`read_coco_results`).
        frames: the ground truth.
        detections: detections in the frames' order instead of running ``task``.
        classes: KITTI classes to evaluate (default: those of the task present in the ground truth).
        nms: NMS preset or settings for this evaluation (default: the task's).

    Returns:
        A :class:`restoolkit.tasks.Report`: ``metrics`` holds the 12 COCO stats and
        ``kitti`` (``{class: {difficulty: {"R11", "R40"}}}``); tables ``coco`` and ``kitti``; the figure
        ``detections`` (the first four frames: detections over dashed ground truth); ``report.detections``
        are the frames.
    """
    if detections is None:
        detections = task.predict([f.image_path for f in frames], batch_size=batch_size, nms=nms)
    if len(detections) != len(frames):
        raise ConfigError(f"{len(detections)} detection frames for {len(frames)} ground-truth frames")
    class_names = list(task.class_names) if task is not None else sorted({c for f in frames for c in f.labels})
    coco = coco_metrics(frames, detections, class_names=class_names)
    present = {c for f in frames for c in f.labels}
    kitti_classes = tuple(classes or [c for c in class_names if c in present and c in ("Car", "Pedestrian", "Cyclist")])
    kitti = kitti_ap(frames, detections, classes=kitti_classes) if kitti_classes else {}
    rows = [{"class": cls, "difficulty": d, "AP R11": v["R11"], "AP R40": v["R40"]} for cls, per in kitti.items()
            for d, v in per.items()]
    shown = [i for i, f in enumerate(frames) if f.image_path][:4]

    def draw(axes):  # the first frames side by side: detections over the ground truth (dashed)
        from domains.driving.draw import draw_detections

        for ax, i in zip(axes, shown, strict=False):
            draw_detections(frames[i].image_path, detections[i], min_score=0.3, ax=ax, ground_truth=frames[i],
                            title=f"{Path(frames[i].image_path).name}: score ≥ 0.3, ground truth dashed")
        for ax in axes[len(shown):]:
            ax.set_axis_off()

    width = 6.0 if not shown else min(7.0, 2.5 * frames[shown[0]].width / max(frames[shown[0]].height, 1))
    height = width * frames[shown[0]].height / max(frames[shown[0]].width, 1) + 0.4 if shown else 4.0
    draw.panels = (2, 2, (2 * width, 2 * height)) if len(shown) > 1 else (1, 1, (width, height))
    report = Report(title="Detection evaluation", metrics={**coco, "kitti": kitti},
                    tables={"coco": pd.DataFrame([coco]), "kitti": pd.DataFrame(rows)},
                    figures={"detections": draw} if shown else {})
    report.detections = detections
    return report
