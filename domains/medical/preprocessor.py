"""``DicomImagePreprocessor``: DICOM files → the arrays an :class:`ImageClassifier` takes."""

from __future__ import annotations

import keras

from restoolkit.errors import ConfigError
from restoolkit.tasks import Preprocessor


@keras.saving.register_keras_serializable("restoolkit")
class DicomImagePreprocessor(Preprocessor):
    """Reads DICOM images or series the way the task was trained: modality and VOI LUTs, the window,
    MONOCHROME1 inverted, resized, with the channel count the network takes, in [0, 1].

    Args:
        image_size: ``(H, W)`` of 2-D images.
        volume_shape: ``(D, H, W)``: read whole series as volumes (a 3-D task) instead of images.
        channels: output channels (grey images are repeated, colour averaged to 1). A list of windows
            gives one channel per window and sets this to its length.
        window: ``None`` (the file's VOI LUT / window, else min–max), a named window (``"lung"``…), a
            ``(centre, width)`` pair, or a list of them.
    """

    def __init__(self, image_size=(224, 224), *, volume_shape=None, channels: int = 1, window=None, **kwargs):
        super().__init__(**kwargs)
        self.image_size = tuple(int(v) for v in image_size)
        self.volume_shape = tuple(int(v) for v in volume_shape) if volume_shape is not None else None
        if isinstance(window, list | tuple) and window and isinstance(window[0], list | tuple | str):
            channels = len(window)
        self.channels = int(channels)
        self.window = list(window) if isinstance(window, tuple) else window
        if len(self.image_size) != 2 or min(self.image_size) < 1:
            raise ConfigError(f"image_size must be (H, W) of positive sizes, got {image_size!r}")
        if self.volume_shape is not None and (len(self.volume_shape) != 3 or min(self.volume_shape) < 1):
            raise ConfigError(f"volume_shape must be (D, H, W) of positive sizes, got {volume_shape!r}")
        if self.channels < 1:
            raise ConfigError(f"channels must be at least 1, got {channels!r}")

    @property
    def input_shape(self) -> tuple:
        spatial = self.volume_shape if self.volume_shape is not None else self.image_size
        return (*spatial, self.channels)

    def dataset_options(self) -> dict:
        """The :func:`domains.medical.data.make_dataset` options that reproduce this preprocessing."""
        return {"image_size": self.image_size, "volume_shape": self.volume_shape, "channels": self.channels,
                "window": self.window}

    def load(self, paths):
        """A batch ``(N, *input_shape)`` from image paths (2-D) or lists of series paths (3-D)."""
        import numpy as np

        from domains.medical.data import load_image, load_volume

        if self.volume_shape is None:
            return np.stack([load_image(p, window=self.window, image_size=self.image_size, channels=self.channels)
                             for p in paths])
        return np.stack([load_volume(p, window=self.window, volume_shape=self.volume_shape, channels=self.channels)
                         for p in paths])

    def get_config(self):
        return {**super().get_config(), "image_size": list(self.image_size),
                "volume_shape": list(self.volume_shape) if self.volume_shape else None,
                "channels": self.channels, "window": self.window}
