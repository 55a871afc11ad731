"""Boxes, anchors and box coding: the conventions every other driving module relies on (letterboxing is
``domains.driving.data.letterbox_image``, in TensorFlow, shared by the pipeline, ``detect`` and the export).

Conventions (tested in ``tests/domains/driving/test_boxes.py``):

- Boxes are ``(x1, y1, x2, y2)`` in pixels of the image they refer to, ``x2 > x1``, ``y2 > y1``; a box
  covering pixel columns 0..9 is ``(0, y1, 10, y2)`` (continuous coordinates, no ``+1``).
- Anchors: for each pyramid level ``P_k`` (stride ``2**k``) the feature map has ``ceil(H / stride)`` ×
  ``ceil(W / stride)`` cells; anchor centres are at the cell centres ``((i + 0.5) · stride, …)``; the
  base size of a level is ``size_multiplier · stride`` (32 px at P3 for the default 4); each cell
  has ``len(scales) · len(aspect_ratios)`` anchors with area ``(base · scale)²`` and
  ``aspect = w / h``. Order: level, row, column, scale, aspect ratio — the heads' output order.
- Box coding (Faster R-CNN): ``tx = (cx - cx_a) / w_a / 0.1``, ``ty`` likewise, ``tw = log(w / w_a) / 0.2``,
  ``th`` likewise (the 0.1 / 0.2 "variances" keep targets near unit scale).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

BOX_SCALE = (0.1, 0.1, 0.2, 0.2)
MAX_LOG_RATIO = math.log(1000.0 / 16)  # clamp for decoded widths/heights (torchvision's bound)


def iou_matrix(a, b) -> np.ndarray:
    """Pairwise IoU of ``(N, 4)`` and ``(M, 4)`` boxes → ``(N, M)`` (numpy, float64)."""
    a, b = np.asarray(a, "float64").reshape(-1, 4), np.asarray(b, "float64").reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=-1)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=-1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


@dataclass(frozen=True)
class AnchorConfig:
    """Anchor layout; ``asdict`` of it is what detectors serialise."""

    min_level: int = 3
    max_level: int = 7
    size_multiplier: float = 4.0
    scales: tuple[float, ...] = (1.0, 2 ** (1 / 3), 2 ** (2 / 3))
    aspect_ratios: tuple[float, ...] = (0.5, 1.0, 2.0)

    @property
    def per_cell(self) -> int:
        return len(self.scales) * len(self.aspect_ratios)

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> AnchorConfig:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


DEFAULT_ANCHORS = AnchorConfig()


def feature_sizes(image_size, config: AnchorConfig) -> list[tuple[int, int]]:
    """``(rows, cols)`` of each level for an ``(H, W)`` input: stride-2 convs with symmetric padding
    give ``ceil`` at every halving."""
    h, w = image_size
    sizes = []
    for _level in range(1, config.max_level + 1):
        h, w = math.ceil(h / 2), math.ceil(w / 2)
        sizes.append((h, w))
    return sizes[config.min_level - 1:]


def make_anchors(image_size, config: AnchorConfig = DEFAULT_ANCHORS) -> np.ndarray:
    """All anchors for an ``(H, W)`` input as ``(N, 4)`` float32 ``xyxy`` in the documented order."""
    out = []
    for level, (rows, cols) in zip(range(config.min_level, config.max_level + 1), feature_sizes(image_size, config),
                                   strict=True):
        stride = 2**level
        base = config.size_multiplier * stride
        shapes = []
        for scale in config.scales:
            for aspect in config.aspect_ratios:
                area = (base * scale) ** 2
                w = math.sqrt(area * aspect)
                shapes.append((w, area / w))
        shapes = np.asarray(shapes)  # (A, 2) as (w, h)
        cy, cx = np.meshgrid((np.arange(rows) + 0.5) * stride, (np.arange(cols) + 0.5) * stride, indexing="ij")
        centres = np.stack([cx, cy], -1).reshape(-1, 1, 2)
        half = shapes[None] / 2
        out.append(np.concatenate([centres - half, centres + half], -1).reshape(-1, 4))
    return np.concatenate(out).astype("float32")


def encode(boxes, anchors, xp=np):
    """Boxes → regression targets relative to anchors (same leading shape)."""
    wa, ha = anchors[..., 2] - anchors[..., 0], anchors[..., 3] - anchors[..., 1]
    xa, ya = anchors[..., 0] + wa / 2, anchors[..., 1] + ha / 2
    w, h = boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1]
    x, y = boxes[..., 0] + w / 2, boxes[..., 1] + h / 2
    w, h = xp.maximum(w, 1e-3), xp.maximum(h, 1e-3)
    return xp.stack([(x - xa) / wa / BOX_SCALE[0], (y - ya) / ha / BOX_SCALE[1],
                     xp.log(w / wa) / BOX_SCALE[2], xp.log(h / ha) / BOX_SCALE[3]], axis=-1)


def decode(deltas, anchors, xp=np):
    """Regression outputs → ``xyxy`` boxes (inverse of :func:`encode`; sizes clamped)."""
    wa, ha = anchors[..., 2] - anchors[..., 0], anchors[..., 3] - anchors[..., 1]
    xa, ya = anchors[..., 0] + wa / 2, anchors[..., 1] + ha / 2
    x = deltas[..., 0] * BOX_SCALE[0] * wa + xa
    y = deltas[..., 1] * BOX_SCALE[1] * ha + ya
    w = xp.exp(xp.minimum(deltas[..., 2] * BOX_SCALE[2], MAX_LOG_RATIO)) * wa
    h = xp.exp(xp.minimum(deltas[..., 3] * BOX_SCALE[3], MAX_LOG_RATIO)) * ha
    return xp.stack([x - w / 2, y - h / 2, x + w / 2, y + h / 2], axis=-1)
