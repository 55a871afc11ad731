import keras
import numpy as np
import pytest

from restoolkit.layers import Shortcut


def test_zero_pad_is_parameter_free_subsampling_plus_zero_channels(rng):
    x = rng.normal(size=(2, 7, 7, 4)).astype("float32")
    layer = Shortcut("zero_pad", filters=8, stride=2)
    y = np.asarray(layer(x))
    assert layer.count_params() == 0
    assert y.shape == (2, 4, 4, 8)
    np.testing.assert_array_equal(y[..., 2:6], x[:, ::2, ::2, :])
    np.testing.assert_array_equal(y[..., :2], 0)
    np.testing.assert_array_equal(y[..., 6:], 0)


def test_avg_down_pools_then_projects(rng):
    x = rng.normal(size=(1, 8, 8, 3)).astype("float32")
    layer = Shortcut("avg_down", filters=5, stride=2, norm_layer="none", use_bias=False)
    y = np.asarray(layer(x))
    kernel = layer.conv.get_weights()[0][0, 0]  # (3, 5)
    pooled = x.reshape(1, 4, 2, 4, 2, 3).mean(axis=(2, 4))
    np.testing.assert_allclose(y, pooled @ kernel, atol=1e-5)


def test_projection_is_strided_1x1_conv(rng):
    x = rng.normal(size=(1, 7, 7, 3)).astype("float32")
    layer = Shortcut("projection", filters=4, stride=2, norm_layer="none")
    y = np.asarray(layer(x))
    np.testing.assert_allclose(y, x[:, ::2, ::2] @ layer.conv.get_weights()[0][0, 0], atol=1e-5)


def test_identity_with_changing_shape_is_refused():
    with pytest.raises(ValueError, match="identity shortcut needs stride 1"):
        Shortcut("identity", filters=8, stride=2)(keras.ops.ones((1, 4, 4, 8)))


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="shortcut kind must be one of"):
        Shortcut("option_c")
