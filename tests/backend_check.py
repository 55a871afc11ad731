"""Runs the layers and models on another Keras backend (no TensorFlow needed).

    KERAS_BACKEND=jax python tests/backend_check.py   # or torch
"""

import os
import sys
import tempfile

import keras
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from restoolkit import layers as L  # noqa: E402
from restoolkit.models import backbone, create  # noqa: E402

assert keras.backend.backend() != "tensorflow" or os.environ.get("ALLOW_TF"), "run with KERAS_BACKEND=jax or torch"
rng = np.random.default_rng(0)
cases = [
    (L.BasicBlock(8, stride=2, shortcut="zero_pad", drop_path=0.1), (2, 9, 9, 4)),
    (L.BottleneckBlock(4, stride=2, groups=2, base_width=32, shortcut="avg_down", attn_layer="se",
                       branch_scale="layerscale"), (2, 9, 9, 8)),
    (L.PreActBottleneckBlock(2, stride=2, shortcut="subsample"), (2, 8, 8, 8)),
    (L.BasicBlock(6, stride=2), (2, 5, 6, 7, 4)),
    (L.ResidualDense(16, hidden_dropout=0.1), (4, 8)),
    (L.TransformerBlock(2, causal=True, norm_position="post", drop_path=0.1), (2, 6, 8)),
]
for layer, shape in cases:
    x = rng.normal(size=shape).astype("float32")
    y = keras.ops.convert_to_numpy(layer(x, training=True))
    assert np.isfinite(y).all(), type(layer).__name__
    print(f"{keras.backend.backend()}: {type(layer).__name__} {shape} -> {y.shape}")

model = create("cifar_resnet20", num_classes=4, drop_path_rate=0.1, residual_scaling="rezero")
x = rng.normal(size=(16, 32, 32, 3)).astype("float32")
yl = rng.integers(0, 4, 16)
model.compile("adam", "sparse_categorical_crossentropy")
losses = [model.train_on_batch(x, yl) for _ in range(5)]
assert losses[-1] < losses[0], losses
path = os.path.join(tempfile.mkdtemp(), "m.keras")
model.save(path)
again = keras.saving.load_model(path, safe_mode=True)
np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
feats = backbone("resnet18", input_shape=(64, 96, 1))(rng.normal(size=(1, 64, 96, 1)).astype("float32"))
assert tuple(feats["C5"].shape) == (1, 2, 3, 512)
print(f"{keras.backend.backend()}: cifar_resnet20 trains ({losses[0]:.3f} -> {losses[-1]:.3f}), "
      f".keras round-trip equal, resnet18 backbone C5 {tuple(feats['C5'].shape)}")
print("backend check passed")
