"""Training on synthetic scenes at small scale: AP50 clearly above the untrained detector."""

import matplotlib.pyplot as plt
import numpy as np

from domains.driving import (
    ObjectDetector,
    coco_metrics,
    draw_detections,
    evaluate,
    kitti_ap,
    load_kitti,
    make_scenes,
    train,
)

PRESET = "retinanet_resnet10_050_synthetic_scenes"
SMALL = {"fpn_width": 64, "head_width": 64, "head_depth": 2, "freeze_at": 0, "frozen_bn": False}


def test_training_beats_the_untrained_detector(tmp_path):
    # The CLI's recipe at a tenth of its steps: the preset's architecture from scratch, fresh scenes seen
    # once in batches of 4 (the full 1200 steps and the AP goal are in benchmarks/detection_learning.py)
    make_scenes(tmp_path / "train", 480, image_size=(128, 384), seed=1, depth_range=(5, 18))
    make_scenes(tmp_path / "val", 24, image_size=(128, 384), seed=2, depth_range=(5, 18))
    frames, val = load_kitti(tmp_path / "train"), load_kitti(tmp_path / "val")
    images = [f.image_path for f in val]
    untrained = ObjectDetector.from_preset(PRESET, load_weights=False)
    before = evaluate(untrained, val).metrics
    detector = ObjectDetector.from_preset(PRESET, load_weights=False)
    result = train(detector, frames, None, run_dir=tmp_path / "run", epochs=1, batch_size=4, learning_rate=1e-3,
                   mixed_precision="auto", verbose=0, seed=0)
    assert result.model is detector
    report = evaluate(detector, val)
    detections = report.detections
    after = coco_metrics(val, detections, class_names=detector.class_names)
    # Measured: AP50 0.00 untrained, 0.23 after these 120 steps (the full recipe: 0.91); the floor is half
    assert after["AP50"] >= 0.1 and after["AP50"] > before["AP50"] + 0.05, (before, after)
    np.testing.assert_equal({k: report.metrics[k] for k in after}, after)
    assert report.metrics["kitti"] == kitti_ap(val, detections, classes=("Car", "Pedestrian", "Cyclist"))
    assert report.metrics["kitti"]["Car"]["moderate"]["R11"] > 0
    saved = report.save(tmp_path / "report")
    assert (saved.parent / "detections.png").stat().st_size > 1000 and (saved.parent / "kitti.csv").exists()

    ax = draw_detections(images[0], detections[0], min_score=0.0)
    assert len(ax.patches) == len(detections[0])
    plt.close(ax.figure)
    truth = draw_detections(images[0], val[0].boxes, val[0].labels)
    assert len(truth.patches) == len(val[0]) and np.allclose(truth.patches[0].get_width(),
                                                                val[0].boxes[0, 2] - val[0].boxes[0, 0])
    plt.close(truth.figure)


def test_mixed_precision_training_keeps_float32_outputs(tmp_path):
    make_scenes(tmp_path / "s", 8, image_size=(64, 192), seed=4, depth_range=(5, 12))
    frames = load_kitti(tmp_path / "s")
    tiny = {**SMALL, "fpn_width": 16, "head_width": 16, "head_depth": 1}
    import keras

    detector = ObjectDetector("resnet18", preprocessor={"input_size": (64, 192)}, **tiny)
    seen = {}

    class Probe(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen["head"] = self.model.get_layer("class_head_conv1").compute_dtype
            seen["output"] = self.model.output.dtype

    result = train(detector, frames, frames[:4], run_dir=tmp_path / "run", epochs=1, batch_size=4,
                   mixed_precision="mixed_bfloat16", callbacks=[Probe()], verbose=0)
    assert np.isfinite(result.history["loss"][0]) and np.isfinite(result.history["val_loss"][0])
    # The task given in float32 was trained in bfloat16 (rebuilt under the policy), outputs float32.
    assert seen == {"head": "bfloat16", "output": "float32"}


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
    # Two replicas of half the batch each train like one device with the whole batch (frozen batch norm,
    # the same global batches): the same weights up to float reordering. The logged loss differs by a few
    # percent (measured 7%): each replica divides its loss by its own count of positive anchors.
    assert result["replicas"] == 2
    np.testing.assert_allclose(result["loss_mirrored"], result["loss_one"], rtol=0.1)
    assert result["max_weight_diff"] < 1e-3 * result["max_weight"], result


def test_the_detector_memorises_the_three_real_kitti_frames(kitti_root, tmp_path):
    """A detector that cannot memorise three images has a bug. At 160x512 (cars of 9–100 px) with anchors
    at half the default size, 100 steps: Car AP50 ≥ 0.9 on the same frames, and KITTI Car AP equal to a
    perfect detector's (the devkit's cap on few objects, see test_evaluate). At 70 steps AP50 ranged
    0.85–0.92 from run to run (CPU training is not bit-deterministic): too close to the floor."""
    from domains.driving import read_kitti
    from domains.driving.evaluate import kitti_ap

    frames = read_kitti(kitti_root)
    task = ObjectDetector("resnet18", preprocessor={"input_size": (160, 512)}, fpn_width=32, head_width=32,
                          head_depth=1, freeze_at=0, frozen_bn=False, anchor_config={"size_multiplier": 2.0})
    # The three frames ten times over: 10 steps an epoch, so 10 epochs are 100 steps with 10 (not 100)
    # epoch-end checkpoints, which cost more than the steps at this size.
    train(task, frames * 10, None, run_dir=tmp_path / "run", epochs=10, batch_size=3, learning_rate=2e-3,
          augment=False, verbose=0)
    report = evaluate(task, frames)
    car = coco_metrics(frames, report.detections, class_names=["Car"])
    assert car["AP50"] >= 0.9, car
    perfect = [f.select([n != "DontCare" for n in f.labels]) for f in frames]
    for p in perfect:
        p.scores = np.ones(len(p))
    assert report.metrics["kitti"]["Car"] == kitti_ap(frames, perfect)["Car"]
