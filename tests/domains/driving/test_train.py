"""Training on synthetic scenes at small scale: AP50 clearly above the untrained detector."""

import matplotlib.pyplot as plt
import numpy as np

from domains.driving import (
    build_detector,
    coco_metrics,
    draw_detections,
    kitti_ap,
    make_scenes,
    read_kitti,
    train_detector,
)

SMALL = {"fpn_width": 64, "head_width": 64, "head_depth": 2, "freeze_at": 0, "frozen_bn": False}


def test_training_beats_the_untrained_detector(tmp_path):
    make_scenes(tmp_path / "train", 48, image_size=(128, 384), seed=1, depth_range=(5, 18))
    make_scenes(tmp_path / "val", 16, image_size=(128, 384), seed=2, depth_range=(5, 18))
    train, val = read_kitti(tmp_path / "train"), read_kitti(tmp_path / "val")
    images = [f.image_path for f in val]
    untrained = build_detector("resnet18", input_size=(128, 384), **SMALL)
    before = coco_metrics(val, untrained.detect(images), class_names=untrained.class_names)
    detector, result = train_detector(train, None, run_dir=tmp_path / "run", backbone="resnet18",
                                      input_size=(128, 384), epochs=8, batch_size=8, learning_rate=1e-3,
                                      detector_kwargs=SMALL, verbose=0, seed=0)
    assert result.history["loss"][-1] < 0.8 * result.history["loss"][0]
    detections = detector.detect(images)
    after = coco_metrics(val, detections, class_names=detector.class_names)
    assert after["AP50"] > before["AP50"] + 0.05, (before, after)
    assert kitti_ap(val, detections)["Car"]["moderate"]["R11"] > 0

    ax = draw_detections(images[0], detections[0], min_score=0.0)
    assert len(ax.patches) == len(detections[0])
    plt.close(ax.figure)
    truth = draw_detections(images[0], val[0].boxes, val[0].labels)
    assert len(truth.patches) == len(val[0]) and np.allclose(truth.patches[0].get_width(),
                                                                val[0].boxes[0, 2] - val[0].boxes[0, 0])
    plt.close(truth.figure)


def test_mixed_precision_training_keeps_float32_outputs(tmp_path):
    make_scenes(tmp_path / "s", 8, image_size=(64, 192), seed=4, depth_range=(5, 12))
    frames = read_kitti(tmp_path / "s")
    tiny = {**SMALL, "fpn_width": 16, "head_width": 16, "head_depth": 1}
    detector, result = train_detector(frames, frames[:4], run_dir=tmp_path / "run", backbone="resnet18",
                                      input_size=(64, 192), epochs=1, batch_size=4, detector_kwargs=tiny,
                                      mixed_precision="mixed_bfloat16", verbose=0)
    assert np.isfinite(result.history["loss"][0]) and np.isfinite(result.history["val_loss"][0])
    assert detector.model.output.dtype == "float32"
    assert detector.model.get_layer("class_head_conv1").compute_dtype == "bfloat16"


def test_training_under_mirrored_strategy_on_two_devices(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    worker = Path(__file__).with_name("mirrored_worker.py")
    repo = Path(__file__).resolve().parents[3]
    env = {**__import__("os").environ, "PYTHONPATH": str(repo)}
    run = subprocess.run([sys.executable, str(worker), str(tmp_path)], capture_output=True, text=True, timeout=300,
                         env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["replicas"] == 2 and np.isfinite(result["loss"][0])
