"""Driving scenes: detection backbones, a RetinaNet-style detector, KITTI / BDD100K / COCO data, metrics.

One path, a module each: :mod:`.data` (readers, ``tf.data``) → :mod:`.model` (backbone + FPN, detector,
targets, loss, NMS) → :mod:`.train` → :mod:`.evaluate` (COCO, KITTI); :mod:`.boxes` holds the box
conventions, :mod:`.export` the SavedModel, :mod:`.draw` the pictures, :mod:`.synthetic` the scenes.
"""

from domains.driving.boxes import AnchorConfig, make_anchors
from domains.driving.data import (
    Frame,
    LabelError,
    make_dataset,
    read_bdd100k,
    read_coco,
    read_kitti,
    read_kitti_label,
)
from domains.driving.draw import draw_detections
from domains.driving.evaluate import coco_metrics, kitti_ap
from domains.driving.export import export_saved_model
from domains.driving.model import (
    NMS_PRESETS,
    Detector,
    NMSConfig,
    anchor_recall,
    build_detector,
    detection_backbone,
)
from domains.driving.synthetic import make_scenes
from domains.driving.train import train_detector

__all__ = [
    "AnchorConfig", "Detector", "Frame", "LabelError", "NMSConfig", "NMS_PRESETS", "anchor_recall", "build_detector",
    "coco_metrics",
    "detection_backbone", "draw_detections", "export_saved_model", "kitti_ap", "make_anchors", "make_dataset",
    "make_scenes", "read_bdd100k", "read_coco", "read_kitti", "read_kitti_label", "train_detector",
]
