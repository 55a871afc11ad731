import keras
import numpy as np
import pytest

from restoolkit.layers import (
    LayerScale,
    ResidualDense,
    ReZero,
    SqueezeExcite,
    StochasticDepth,
    TransformerBlock,
)


def test_stochastic_depth_keeps_or_drops_whole_samples(rng):
    x = np.ones((2000, 3, 3), "float32")
    y = np.asarray(StochasticDepth(0.25, seed=1)(x, training=True))
    per_sample = y.reshape(2000, -1)
    assert np.all(np.isclose(per_sample, 0) | np.isclose(per_sample, 1 / 0.75))
    assert np.all(per_sample.min(1) == per_sample.max(1))
    assert abs((per_sample[:, 0] == 0).mean() - 0.25) < 0.04
    np.testing.assert_array_equal(np.asarray(StochasticDepth(0.25)(x, training=False)), x)
    with pytest.raises(ValueError):
        StochasticDepth(1.0)


def test_layerscale_and_rezero_values(rng):
    x = rng.normal(size=(2, 3, 4)).astype("float32")
    np.testing.assert_allclose(np.asarray(LayerScale(0.1)(x)), 0.1 * x, rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(ReZero()(x)), np.zeros_like(x))


def test_squeeze_excite_gates_channels_in_0_1(rng):
    x = np.abs(rng.normal(size=(2, 5, 5, 8))).astype("float32")
    layer = SqueezeExcite(ratio=2, min_channels=1)
    y = np.asarray(layer(x))
    gate = y / x
    assert np.all((gate > 0) & (gate < 1))
    np.testing.assert_allclose(gate.std(axis=(1, 2)), 0, atol=1e-5)  # one gate per sample and channel


def test_residual_dense_matches_the_paper_formula(rng):
    x = rng.normal(size=(4, 6)).astype("float32")
    layer = ResidualDense(10, norm_layer="layer_norm")
    y = np.asarray(layer(x, training=False))
    gamma, beta = layer.norm.get_weights()
    w1, b1 = layer.dense1.get_weights()
    w2, b2 = layer.dense2.get_weights()
    mu, var = x.mean(1, keepdims=True), x.var(1, keepdims=True)
    h = (x - mu) / np.sqrt(var + 1e-6) * gamma + beta
    expected = x + np.maximum(h @ w1 + b1, 0) @ w2 + b2
    np.testing.assert_allclose(y, expected, atol=1e-5)
    plain = ResidualDense(10, residual=False)
    plain(x)
    assert plain.residual_parts(x)[1] is None


def test_transformer_causal_mask_hides_the_future(rng):
    x = rng.normal(size=(1, 6, 8)).astype("float32")
    block = TransformerBlock(2, causal=True)
    y = np.asarray(block(x))
    x2 = x.copy()
    x2[:, 4:] = rng.normal(size=(1, 2, 8))
    y2 = np.asarray(block(x2))
    np.testing.assert_allclose(y[:, :4], y2[:, :4], atol=1e-5)
    assert not np.allclose(y[:, 4:], y2[:, 4:])


@pytest.mark.parametrize("norm_position", ["pre", "post"])
def test_transformer_residual_layouts(rng, norm_position):
    x = rng.normal(size=(2, 5, 8)).astype("float32")
    block = TransformerBlock(2, norm_position=norm_position, branch_scale="rezero")
    y = np.asarray(block(x))
    if norm_position == "pre":
        np.testing.assert_allclose(y, x, atol=1e-6)  # ReZero: both sub-blocks start at zero
    else:
        # Post-norm normalises the sum: with zero branches the output is LayerNorm(LayerNorm(x)).
        z = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-6)
        np.testing.assert_allclose(y, z, atol=1e-4)
    without = TransformerBlock(2, residual=False)
    assert not np.allclose(np.asarray(without(x)), x)
    with pytest.raises(ValueError, match="norm_position"):
        TransformerBlock(2, norm_position="sandwich")
    with pytest.raises(ValueError, match="divisible"):
        TransformerBlock(3)(keras.ops.ones((1, 2, 8)))


def test_member_average_joins_binary_scores_and_refuses_anything_else():
    from restoolkit.layers import MemberAverage

    a, b = np.full((3, 1), 0.2, "float32"), np.full((3, 1), 0.6, "float32")
    np.testing.assert_allclose(np.asarray(MemberAverage()([a, b])), np.full((3, 1), 0.4), atol=1e-7)
    np.testing.assert_array_equal(np.asarray(MemberAverage()([a, b], training=True)), np.concatenate([a, b], 1))
    with pytest.raises(ValueError, match=r"two or more \(batch, 1\) outputs"):
        MemberAverage()([np.zeros((3, 2), "float32"), np.zeros((3, 2), "float32")])
    with pytest.raises(ValueError, match="two or more"):
        MemberAverage()([a])
