"""``python mirrored_worker.py OUT_DIR``: trains the same detector one epoch on one device and under
MirroredStrategy on two logical CPU devices (a fresh process: logical devices must be set before
TensorFlow starts), and writes both losses and the largest weight difference."""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from domains.driving import ObjectDetector, load_kitti, make_scenes, train  # noqa: E402
from restoolkit.training import strategy  # noqa: E402

out = Path(sys.argv[1])
make_scenes(out / "scenes", 8, image_size=(64, 192), seed=5, depth_range=(5, 12))
frames = load_kitti(out / "scenes")
results = {}
for name, strat in (("one", strategy("default")), ("mirrored", strategy("mirrored", devices=["/cpu:0", "/cpu:1"]))):
    import keras

    keras.utils.set_random_seed(0)
    task = ObjectDetector("resnet18", preprocessor={"input_size": (64, 192)}, fpn_width=16, head_width=16, head_depth=1,
                          freeze_at=1, frozen_bn=True)  # frozen batch norm: replicas compute what one device does
    result = train(task, frames, None, run_dir=out / name, epochs=1, batch_size=4, strategy=strat, augment=False,
                   verbose=0)
    results[name] = {"replicas": result.strategy.num_replicas_in_sync, "loss": result.history["loss"],
                     "weights": [w.numpy() for w in task.weights]}
diff = max(float(np.abs(a - b).max()) for a, b in zip(results["one"]["weights"], results["mirrored"]["weights"],
                                                          strict=True))
moved = max(float(np.abs(a).max()) for a in results["one"]["weights"])
(out / "result.json").write_text(json.dumps({"replicas": results["mirrored"]["replicas"],
                                             "loss_one": results["one"]["loss"],
                                             "loss_mirrored": results["mirrored"]["loss"], "max_weight_diff": diff,
                                             "max_weight": moved}))
