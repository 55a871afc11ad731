"""A second KITTI 2-D AP, written for the tests from the text of the KITTI object devkit's
``evaluate_object.cpp`` (``cleanData``, ``computeStatistics``, ``getThresholds``, ``eval_class``), in its own
style: plain loops over C-like records, double arithmetic, ``int32_t`` detection heights, ``0/0`` precision
as NaN and ``std::max_element`` semantics. It shares no code with ``domains.driving.evaluate``.
"""

import math

CLASS_NAMES = ("car", "pedestrian", "cyclist")
MIN_OVERLAP = (0.7, 0.5, 0.5)
MIN_HEIGHT = (40, 25, 25)
MAX_OCCLUSION = (0, 1, 2)
MAX_TRUNCATION = (0.15, 0.3, 0.5)
N_SAMPLE_PTS = 41
NO_DETECTION = -10000000.0


def parse(path, *, detections):
    """Records of a label or result file, as the devkit's ``loadGroundtruth`` / ``loadDetections`` read them."""
    out = []
    for line in open(path).read().splitlines():
        f = line.split()
        if not f:
            continue
        rec = {"type": f[0], "truncation": float(f[1]), "occlusion": int(float(f[2])),
               "x1": float(f[4]), "y1": float(f[5]), "x2": float(f[6]), "y2": float(f[7])}
        if detections:
            rec["thresh"] = float(f[15])
        out.append(rec)
    return out


def boxoverlap(a, b, criterion=-1):
    x1, y1 = max(a["x1"], b["x1"]), max(a["y1"], b["y1"])
    x2, y2 = min(a["x2"], b["x2"]), min(a["y2"], b["y2"])
    w, h = x2 - x1, y2 - y1
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    a_area = (a["x2"] - a["x1"]) * (a["y2"] - a["y1"])
    b_area = (b["x2"] - b["x1"]) * (b["y2"] - b["y1"])
    if criterion == -1:
        return inter / (a_area + b_area - inter)
    if criterion == 0:
        return inter / a_area
    return inter / b_area


def clean_data(gt, det, current_class, difficulty):
    ignored_gt, dc, ignored_det, n_gt = [], [], [], 0
    name = CLASS_NAMES[current_class]
    for g in gt:
        height = g["y2"] - g["y1"]
        if g["type"].lower() == name:
            valid_class = 1
        elif (current_class == 0 and g["type"].lower() == "van") or (
                current_class == 1 and g["type"].lower() == "person_sitting"):
            valid_class = 0
        else:
            valid_class = -1
        ignore = (g["occlusion"] > MAX_OCCLUSION[difficulty] or g["truncation"] > MAX_TRUNCATION[difficulty]
                  or height <= MIN_HEIGHT[difficulty])
        if valid_class == 1 and not ignore:
            ignored_gt.append(0)
            n_gt += 1
        elif valid_class == 0 or (ignore and valid_class == 1):
            ignored_gt.append(1)
        else:
            ignored_gt.append(-1)
    for g in gt:
        if g["type"].lower() == "dontcare":
            dc.append(g)
    for d in det:
        valid_class = 1 if d["type"].lower() == name else -1
        height = int(abs(d["y1"] - d["y2"]))  # int32_t
        if height < MIN_HEIGHT[difficulty]:
            ignored_det.append(1)
        elif valid_class == 1:
            ignored_det.append(0)
        else:
            ignored_det.append(-1)
    return ignored_gt, dc, ignored_det, n_gt


def compute_statistics(current_class, gt, det, dc, ignored_gt, ignored_det, compute_fp, thresh=0.0):
    tp = fp = fn = 0
    v = []
    assigned = [False] * len(det)
    ignored_threshold = [False] * len(det)
    if compute_fp:
        for i, d in enumerate(det):
            if d["thresh"] < thresh:
                ignored_threshold[i] = True
    min_overlap = MIN_OVERLAP[current_class]
    for i, g in enumerate(gt):
        if ignored_gt[i] == -1:
            continue
        det_idx, valid_detection, max_iou, assigned_ignored_det = -1, NO_DETECTION, 0.0, False
        for j, d in enumerate(det):
            if ignored_det[j] == -1 or assigned[j] or ignored_threshold[j]:
                continue
            overlap = boxoverlap(d, g, -1)
            if not compute_fp and overlap > min_overlap and d["thresh"] > valid_detection:
                det_idx, valid_detection = j, d["thresh"]
            elif (compute_fp and overlap > min_overlap and (overlap > max_iou or assigned_ignored_det)
                  and ignored_det[j] == 0):
                max_iou, det_idx, valid_detection, assigned_ignored_det = overlap, j, 1, False
            elif compute_fp and overlap > min_overlap and valid_detection == NO_DETECTION and ignored_det[j] == 1:
                det_idx, valid_detection, assigned_ignored_det = j, 1, True
        if valid_detection == NO_DETECTION and ignored_gt[i] == 0:
            fn += 1
        elif valid_detection != NO_DETECTION and (ignored_gt[i] == 1 or ignored_det[det_idx] == 1):
            assigned[det_idx] = True
        elif valid_detection != NO_DETECTION:
            tp += 1
            v.append(det[det_idx]["thresh"])
            assigned[det_idx] = True
    if compute_fp:
        for i in range(len(det)):
            if not (assigned[i] or ignored_det[i] == -1 or ignored_det[i] == 1 or ignored_threshold[i]):
                fp += 1
        nstuff = 0
        for c in dc:
            for j, d in enumerate(det):
                if assigned[j] or ignored_det[j] in (-1, 1) or ignored_threshold[j]:
                    continue
                if boxoverlap(d, c, 0) > min_overlap:
                    assigned[j] = True
                    nstuff += 1
        fp -= nstuff
    return tp, fp, fn, v


def get_thresholds(v, n_groundtruth):
    v = sorted(v, reverse=True)
    t, current_recall = [], 0.0
    for i in range(len(v)):
        l_recall = (i + 1) / n_groundtruth
        r_recall = (i + 2) / n_groundtruth if i < len(v) - 1 else l_recall
        if (r_recall - current_recall) < (current_recall - l_recall) and i < len(v) - 1:
            continue
        t.append(v[i])
        current_recall += 1.0 / (N_SAMPLE_PTS - 1.0)
    return t


def _max_element(values):
    """``*std::max_element``: the first element, replaced whenever it compares less than a later one."""
    best = values[0]
    for x in values[1:]:
        if best < x:
            best = x
    return best


def eval_class(groundtruth, detections, current_class, difficulty):
    """The 41-point precision curve, or ``None`` when the class has no counted ground truth."""
    cleaned, v, n_gt = [], [], 0
    for gt, det in zip(groundtruth, detections, strict=True):
        ignored_gt, dc, ignored_det, n = clean_data(gt, det, current_class, difficulty)
        n_gt += n
        cleaned.append((gt, det, dc, ignored_gt, ignored_det))
        v += compute_statistics(current_class, gt, det, dc, ignored_gt, ignored_det, False)[3]
    if n_gt == 0:
        return None
    thresholds = get_thresholds(v, n_gt)
    tp, fp = [0] * len(thresholds), [0] * len(thresholds)
    for gt, det, dc, ignored_gt, ignored_det in cleaned:
        for t, thresh in enumerate(thresholds):
            a, b, _, _ = compute_statistics(current_class, gt, det, dc, ignored_gt, ignored_det, True, thresh)
            tp[t] += a
            fp[t] += b
    precision = [0.0] * N_SAMPLE_PTS
    for i in range(len(thresholds)):
        precision[i] = tp[i] / (tp[i] + fp[i]) if tp[i] + fp[i] else math.nan
    for i in range(len(thresholds)):
        precision[i] = _max_element(precision[i:])
    return precision


def average_precision(precision):
    """``(R11, R40)`` in percent, as the devkit's two summaries."""
    r11 = sum(precision[i] for i in range(0, N_SAMPLE_PTS, 4)) / 11 * 100
    r40 = sum(precision[i] for i in range(1, N_SAMPLE_PTS)) / 40 * 100
    return r11, r40
