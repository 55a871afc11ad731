"""Synthetic road scenes in KITTI format: the embedded data of the demo, the notebook and the tests.

Each scene has sky, a road in perspective with lane markings, and cars, pedestrians and cyclists
placed on the road at depths that set their size (so objects span many scales), drawn far to near
so near objects occlude far ones. Labels follow KITTI ``label_2``: truncation is the share of the
object outside the image, occlusion is 0/1/2 from the share hidden by nearer objects, boxes are the
visible extent clipped to the image, plausible 3-D fields, and a few ``DontCare`` regions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

CLASS_SHAPES = {  # (height m, width m, length m), relative frequency
    "Car": ((1.5, 1.6, 3.9), 0.6),
    "Pedestrian": ((1.75, 0.6, 0.8), 0.25),
    "Cyclist": ((1.7, 0.6, 1.8), 0.15),
}
FOCAL = 720.0  # pixels, KITTI-like
CAMERA_HEIGHT = 1.65  # metres


def _draw(draw, kind, box, rng):
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    if kind == "Car":
        colour = tuple(int(v) for v in rng.integers(30, 230, 3))
        draw.rectangle([x1, y1 + 0.35 * h, x2, y2 - 0.15 * h], fill=colour)
        draw.rectangle([x1 + 0.15 * w, y1, x2 - 0.15 * w, y1 + 0.4 * h], fill=tuple(int(c * 0.8) for c in colour))
        draw.rectangle([x1 + 0.22 * w, y1 + 0.08 * h, x2 - 0.22 * w, y1 + 0.35 * h], fill=(60, 80, 100))
        for cx in (x1 + 0.2 * w, x2 - 0.2 * w):
            draw.ellipse([cx - 0.12 * w, y2 - 0.3 * h, cx + 0.12 * w, y2], fill=(15, 15, 15))
    else:
        body = tuple(int(v) for v in rng.integers(20, 200, 3))
        head_r = 0.09 * h
        cx = (x1 + x2) / 2
        draw.ellipse([cx - head_r, y1, cx + head_r, y1 + 2 * head_r], fill=(225, 190, 160))
        if kind == "Cyclist":
            r = 0.2 * h
            for wx in (x1 + r, x2 - r):
                draw.ellipse([wx - r, y2 - 2 * r, wx + r, y2], outline=(10, 10, 10), width=max(1, int(r / 4)))
            draw.rectangle([cx - 0.12 * w, y1 + 2 * head_r, cx + 0.12 * w, y2 - 1.4 * r], fill=body)
        else:
            draw.rectangle([cx - 0.3 * w, y1 + 2 * head_r, cx + 0.3 * w, y1 + 0.6 * h], fill=body)
            draw.rectangle([cx - 0.25 * w, y1 + 0.6 * h, cx + 0.25 * w, y2], fill=(40, 40, 70))


def make_scenes(path, n: int = 32, *, image_size=(192, 624), max_objects: int = 8, depth_range=(4.0, 35.0),
                seed: int = 0, dontcare: bool = True) -> list[str]:
    """Writes ``path/image_2/NNNNNN.png`` and ``path/label_2/NNNNNN.txt`` for ``n`` scenes.

    Args:
        path: output folder (KITTI object layout).
        n: number of scenes.
        image_size: ``(H, W)``; KITTI is about 375×1242.
        max_objects: objects per scene are drawn from 1..max_objects.
        depth_range: object distances in metres (nearer is larger; KITTI-like focal length).
        seed: deterministic.
        dontcare: add ``DontCare`` boxes over some far, tiny objects (as KITTI does).

    Returns:
        The frame ids written.
    """
    from PIL import Image, ImageDraw

    root = Path(path)
    (root / "image_2").mkdir(parents=True, exist_ok=True)
    (root / "label_2").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    h, w = image_size
    names = list(CLASS_SHAPES)
    probs = np.array([CLASS_SHAPES[k][1] for k in names])
    ids = []
    for index in range(n):
        horizon = int(h * rng.uniform(0.38, 0.45))
        image = Image.new("RGB", (w, h), tuple(int(v) for v in rng.integers(150, 230, 3)))
        draw = ImageDraw.Draw(image)
        draw.rectangle([0, horizon, w, h], fill=tuple([int(rng.integers(70, 110))] * 3))
        vx = w * rng.uniform(0.4, 0.6)
        for lane in (-1.8, 1.8, 5.4, -5.4):  # lane markings (metres from the camera axis)
            for z in np.arange(4, 80, 6):
                pts = []
                for zz in (z, z + 3):
                    scale = FOCAL / zz * (h / 375)
                    pts.append((vx + lane * scale, horizon + CAMERA_HEIGHT * scale))
                draw.line(pts, fill=(235, 235, 235), width=max(1, int(3 * (h / 375) * 10 / z)))
        objects = []
        for _ in range(int(rng.integers(1, max_objects + 1))):
            kind = names[int(rng.choice(len(names), p=probs))]
            (oh, ow, ol), _ = CLASS_SHAPES[kind]
            z = rng.uniform(*depth_range)
            x = rng.uniform(-8, 8)
            scale = FOCAL / z * (h / 375)
            visual_w = (ol if kind == "Car" and rng.random() < 0.5 else ow) * scale * (1.0 if kind != "Car" else 1.15)
            cx = vx + x * scale
            bottom = horizon + CAMERA_HEIGHT * scale
            box = np.array([cx - visual_w / 2, bottom - oh * scale, cx + visual_w / 2, bottom])
            objects.append((z, kind, box, (oh, ow, ol), x))
        objects.sort(key=lambda o: -o[0])  # far to near: nearer objects are drawn over farther ones
        occupancy = np.full((h, w), -1, "int32")
        for i, (_z, kind, box, _dims, _x) in enumerate(objects):
            _draw(draw, kind, box, rng)
            x1, y1, x2, y2 = np.clip(np.round(box).astype(int), 0, [w, h, w, h])
            occupancy[y1:y2, x1:x2] = i
        lines = []
        for i, (z, kind, box, dims, x) in enumerate(objects):
            full_area = (box[2] - box[0]) * (box[3] - box[1])
            clipped = np.clip(box, 0, [w, h, w, h])
            inside = max(0.0, (clipped[2] - clipped[0])) * max(0.0, (clipped[3] - clipped[1]))
            if inside < 4 or clipped[2] - clipped[0] < 2 or clipped[3] - clipped[1] < 2:
                continue
            truncated = float(np.clip(1 - inside / full_area, 0, 1))
            x1, y1, x2, y2 = np.round(clipped).astype(int)
            visible = float((occupancy[y1:y2, x1:x2] == i).mean()) if (y2 > y1 and x2 > x1) else 0.0
            if visible < 0.2:
                continue  # hidden: KITTI annotators would not label it
            occluded = 0 if visible > 0.9 else (1 if visible > 0.5 else 2)
            if dontcare and clipped[3] - clipped[1] < 12 and rng.random() < 0.5:
                lines.append(f"DontCare -1 -1 -10 {clipped[0]:.2f} {clipped[1]:.2f} {clipped[2]:.2f} {clipped[3]:.2f} "
                             "-1 -1 -1 -1000 -1000 -1000 -10")
                continue
            ry = float(rng.uniform(-np.pi, np.pi))
            alpha = ry - np.arctan2(x, z)
            lines.append(f"{kind} {truncated:.2f} {occluded} {alpha:.2f} {clipped[0]:.2f} {clipped[1]:.2f} "
                         f"{clipped[2]:.2f} {clipped[3]:.2f} {dims[0]:.2f} {dims[1]:.2f} {dims[2]:.2f} "
                         f"{x:.2f} {CAMERA_HEIGHT:.2f} {z:.2f} {ry:.2f}")
        frame_id = f"{index:06d}"
        image.save(root / "image_2" / f"{frame_id}.png")
        (root / "label_2" / f"{frame_id}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
        ids.append(frame_id)
    return ids
