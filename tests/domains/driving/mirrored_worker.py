"""``python mirrored_worker.py OUT_DIR``: trains the detector one epoch under MirroredStrategy on two
logical CPU devices (a fresh process: logical devices must be set before TensorFlow starts)."""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from pathlib import Path  # noqa: E402

from domains.driving import make_scenes, read_kitti, train_detector  # noqa: E402
from restoolkit.training import strategy  # noqa: E402

out = Path(sys.argv[1])
make_scenes(out / "scenes", 8, image_size=(64, 192), seed=5, depth_range=(5, 12))
frames = read_kitti(out / "scenes")
detector, result = train_detector(frames, None, run_dir=out / "run", backbone="resnet18", input_size=(64, 192),
                                  epochs=1, batch_size=4, strategy=strategy("mirrored", devices=["/cpu:0", "/cpu:1"]),
                                  detector_kwargs={"fpn_width": 16, "head_width": 16, "head_depth": 1}, verbose=0)
(out / "result.json").write_text(json.dumps({"replicas": result.strategy.num_replicas_in_sync,
                                             "loss": result.history["loss"]}))
