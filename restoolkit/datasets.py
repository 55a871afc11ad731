"""Small data sets the project generates itself (no downloads): demos, tests and benchmarks use them."""

from __future__ import annotations

import numpy as np


def oriented_gratings(
    n: int,
    *,
    size: int = 32,
    channels: int = 3,
    num_classes: int = 4,
    noise: float = 0.6,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Images of noisy sinusoidal gratings whose class is the orientation.

    Orientation classes are evenly spaced in [0, π); frequency, phase and contrast vary per image, and
    Gaussian noise of std ``noise`` is added, so the task needs real features but is learnable by a
    small CNN in a few epochs.

    Args:
        n: number of images.
        size: height and width.
        channels: colour channels (the grating is tinted per image).
        num_classes: number of orientations.
        noise: standard deviation of the added noise.
        seed: random seed.

    Returns:
        ``(images, labels)``: float32 ``(n, size, size, channels)`` roughly zero-mean, and int32 ``(n,)``.

    Example:
        >>> x, y = oriented_gratings(256, size=32)
    """
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, size=n).astype("int32")
    theta = labels * np.pi / num_classes + rng.normal(0, 0.05, n)
    freq = rng.uniform(0.15, 0.45, n)
    phase = rng.uniform(0, 2 * np.pi, n)
    contrast = rng.uniform(0.6, 1.2, n)
    yy, xx = np.mgrid[0:size, 0:size].astype("float32")
    proj = np.cos(theta)[:, None, None] * xx + np.sin(theta)[:, None, None] * yy
    wave = contrast[:, None, None] * np.sin(2 * np.pi * freq[:, None, None] * proj + phase[:, None, None])
    tint = rng.uniform(0.5, 1.0, (n, 1, 1, channels))
    images = wave[..., None] * tint + rng.normal(0, noise, (n, size, size, channels))
    return images.astype("float32"), labels
