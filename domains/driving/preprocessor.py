"""``DetectionPreprocessor``: images of any size → the letterboxed input of an :class:`ObjectDetector`."""

from __future__ import annotations

from pathlib import Path

import keras

from restoolkit.errors import ConfigError
from restoolkit.tasks import Preprocessor


@keras.saving.register_keras_serializable("restoolkit")
class DetectionPreprocessor(Preprocessor):
    """Scales each image to fit ``input_size`` and pads it bottom/right (nothing cropped or distorted);
    pixels stay in [0, 255] (the network normalises them itself).

    Args:
        input_size: ``(H, W)`` of the network input; any aspect ratio (KITTI frames: 384×1248).
    """

    def __init__(self, input_size=(384, 1248), **kwargs):
        super().__init__(**kwargs)
        self.input_size = tuple(int(v) for v in input_size)
        if len(self.input_size) != 2 or min(self.input_size) < 32:
            raise ConfigError(f"input_size must be (H, W), each at least 32, got {input_size!r}")

    def load(self, images):
        """``(canvases (N, H, W, 3), scales (N, 4), sizes [(h, w)], paths)`` for image arrays or paths."""
        import numpy as np
        import tensorflow as tf

        from domains.driving.data import letterbox_image

        canvases, scales, sizes, paths = [], [], [], []
        for item in images:
            path = str(item) if isinstance(item, str | Path) else ""
            array = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False) if path else item
            image = tf.cast(tf.convert_to_tensor(array), tf.float32)
            canvas, scale, _ = letterbox_image(image, self.input_size)
            canvases.append(canvas.numpy())
            scales.append(scale.numpy())
            sizes.append(tuple(int(v) for v in image.shape[:2]))
            paths.append(path)
        return np.stack(canvases), np.stack(scales), sizes, paths

    def get_config(self):
        return {**super().get_config(), "input_size": list(self.input_size)}
