"""Driving scenes: an :class:`ObjectDetector` (RetinaNet on registry ResNets), KITTI / BDD100K / COCO data,
COCO and KITTI metrics.

The four steps, as in every domain: ``data`` (:func:`load_kitti`, :func:`load_coco`,
:func:`load_bdd100k`, :func:`split`, :func:`make_dataset`) → task (:class:`ObjectDetector`,
``from_preset``) → :func:`train` → :func:`evaluate` (a :class:`restoolkit.tasks.Report`).
:mod:`.boxes` holds the box conventions, :mod:`.model` the network, targets, loss and NMS, :mod:`.export`
the SavedModel, :mod:`.draw` the pictures, :mod:`.synthetic` the scenes; :mod:`.app` is the
command-line job.
"""

from domains.driving.boxes import AnchorConfig, make_anchors
from domains.driving.data import (
    Frame,
    LabelError,
    load_bdd100k,
    load_coco,
    load_kitti,
    make_dataset,
    read_bdd100k,
    read_coco,
    read_coco_results,
    read_kitti,
    read_kitti_label,
    read_kitti_results,
    split,
)
from domains.driving.draw import draw_detections
from domains.driving.evaluate import coco_metrics, evaluate, kitti_ap
from domains.driving.export import export_saved_model
from domains.driving.model import NMS_PRESETS, NMSConfig, anchor_recall, detection_backbone
from domains.driving.object_detector import ObjectDetector
from domains.driving.preprocessor import DetectionPreprocessor
from domains.driving.synthetic import make_scenes
from domains.driving.train import train

__all__ = [
    "AnchorConfig", "DetectionPreprocessor", "Frame", "LabelError", "NMSConfig", "NMS_PRESETS", "ObjectDetector",
    "anchor_recall", "coco_metrics", "detection_backbone", "draw_detections", "evaluate", "export_saved_model",
    "kitti_ap", "load_bdd100k", "load_coco", "load_kitti", "make_anchors", "make_dataset", "make_scenes",
    "read_bdd100k", "read_coco", "read_coco_results", "read_kitti", "read_kitti_label", "read_kitti_results", "split", "train",
]
