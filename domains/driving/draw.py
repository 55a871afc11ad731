"""Drawing boxes on images for notebooks."""

from __future__ import annotations

import numpy as np

COLOURS = {"Car": "tab:blue", "Van": "tab:cyan", "Truck": "tab:purple", "Pedestrian": "tab:red",
           "Person_sitting": "tab:pink", "Cyclist": "tab:orange", "DontCare": "tab:gray"}


def draw_detections(image, boxes, labels=None, scores=None, *, ax=None, title=None, min_score: float = 0.0,
                    ground_truth=None):
    """Draws ``xyxy`` boxes (with labels and scores when given) over an image.

    Args:
        image: an ``(H, W, 3)`` array or an image path.
        boxes: ``(N, 4)`` pixels; or a :class:`~domains.driving.data.Frame` (its boxes, labels, scores).
        labels, scores: per box.
        min_score: hide boxes below this score.
        ground_truth: a :class:`~domains.driving.data.Frame` of annotations, drawn as dashed white boxes
            under the detections (a missed object shows as a dashed box alone).

    Returns:
        The matplotlib axes.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    if hasattr(boxes, "boxes"):
        frame = boxes
        boxes, labels, scores = frame.boxes, frame.labels, frame.scores
    if isinstance(image, str) or hasattr(image, "__fspath__"):
        image = plt.imread(image)
    image = np.asarray(image)
    ax = ax or plt.subplots(figsize=(image.shape[1] / 100, image.shape[0] / 100))[1]
    ax.imshow(image.astype("uint8") if image.dtype != np.uint8 and image.max() > 1 else image)
    if ground_truth is not None:
        for x1, y1, x2, y2 in np.asarray(ground_truth.boxes).reshape(-1, 4):
            ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor="white", linewidth=1,
                                   linestyle="--"))
    for i, (x1, y1, x2, y2) in enumerate(np.asarray(boxes).reshape(-1, 4)):
        score = None if scores is None else float(scores[i])
        if score is not None and score < min_score:
            continue
        label = None if labels is None else labels[i]
        colour = COLOURS.get(label, "yellow")
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=colour, linewidth=1.5))
        text = " ".join(t for t in (label, None if score is None else f"{score:.2f}") if t)
        if text:
            ax.text(x1, y1, text, color="white", fontsize=7, va="bottom", bbox={"facecolor": colour, "pad": 1, "lw": 0})
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax
