"""One contract for every layer: config round-trip, functional use, .keras save/load in safe mode,
mixed precision and XLA."""

import keras
import numpy as np
import pytest

from restoolkit import layers as L
from tests.conftest import randomize_norm_statistics

# (id, factory, input shape). Factories, not instances: each test builds fresh layers.
CASES = [
    ("basic_projection", lambda: L.BasicBlock(8, stride=2), (2, 9, 9, 4)),
    ("basic_zero_pad", lambda: L.BasicBlock(8, stride=2, shortcut="zero_pad"), (2, 9, 9, 4)),
    ("basic_1d", lambda: L.BasicBlock(6, stride=2), (2, 11, 4)),
    ("basic_3d", lambda: L.BasicBlock(6, stride=2, shortcut="avg_down"), (2, 5, 6, 7, 4)),
    ("basic_plain", lambda: L.BasicBlock(8, residual=False), (2, 8, 8, 8)),
    ("basic_group_norm_rezero_decayed",
     lambda: L.BasicBlock(4, norm_layer={"name": "group_norm", "groups": 2}, branch_scale="rezero", identity_scale=0.8),
     (2, 6, 6, 4)),
    ("bottleneck_resnext_se_drop_path",
     lambda: L.BottleneckBlock(4, stride=2, groups=2, base_width=32, shortcut="avg_down", attn_layer="se",
                               drop_path=0.2, branch_scale="layerscale"),
     (2, 9, 9, 8)),
    ("bottleneck_v1_layout", lambda: L.BottleneckBlock(4, stride=2, stride_on="1x1", use_bias=True), (2, 8, 8, 8)),
    ("preact_basic", lambda: L.PreActBlock(8, stride=2), (2, 8, 8, 4)),
    ("preact_bottleneck_subsample", lambda: L.PreActBottleneckBlock(2, stride=2, shortcut="subsample"), (2, 8, 8, 8)),
    ("shortcut_projection", lambda: L.Shortcut("projection", filters=8, stride=2), (2, 7, 7, 4)),
    ("shortcut_zero_pad", lambda: L.Shortcut("zero_pad", filters=8, stride=2), (2, 7, 7, 4)),
    ("shortcut_avg_down", lambda: L.Shortcut("avg_down", filters=8, stride=2), (2, 7, 7, 4)),
    ("stochastic_depth", lambda: L.StochasticDepth(0.3), (4, 5, 3)),
    ("layer_scale", lambda: L.LayerScale(0.1), (2, 5, 3)),
    ("rezero", lambda: L.ReZero(0.5), (2, 5, 3)),
    ("squeeze_excite", lambda: L.SqueezeExcite(ratio=2, min_channels=2), (2, 5, 5, 8)),
    ("residual_dense", lambda: L.ResidualDense(16, hidden_dropout=0.1, residual_dropout=0.1), (4, 8)),
    ("transformer_pre_causal", lambda: L.TransformerBlock(2, causal=True, residual_dropout=0.1, drop_path=0.1), (2, 6, 8)),
    ("transformer_post", lambda: L.TransformerBlock(2, norm_position="post", branch_scale="layerscale"), (2, 6, 8)),
]
IDS = [c[0] for c in CASES]


def _model(factory, shape):
    inputs = keras.Input(shape[1:])
    return keras.Model(inputs, factory()(inputs))


def _x(shape, seed=1):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_config_round_trip_gives_identical_outputs(case):
    _, factory, shape = case
    layer = factory()
    x = _x(shape)
    y = layer(x, training=False)
    clone = layer.__class__.from_config(layer.get_config())
    clone(x, training=False)
    clone.set_weights(layer.get_weights())
    assert clone.get_config() == layer.get_config()
    np.testing.assert_array_equal(np.asarray(clone(x, training=False)), np.asarray(y))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_keras_file_round_trip_in_safe_mode(case, tmp_path):
    _, factory, shape = case
    model = _model(factory, shape)
    randomize_norm_statistics(model)
    x = _x(shape)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_mixed_precision_matches_float32(case, policy):
    _, factory, shape = case
    reference = _model(factory, shape)
    keras.config.set_dtype_policy(policy)
    mixed = _model(factory, shape)
    mixed.set_weights(reference.get_weights())
    x = _x(shape)
    out = mixed(x, training=False)
    assert keras.backend.standardize_dtype(out.dtype) == policy.split("_")[1]
    expected = np.asarray(reference(x, training=False))
    got = np.asarray(keras.ops.cast(out, "float32"))
    assert np.isfinite(got).all()
    tol = 0.05 if policy == "mixed_bfloat16" else 0.01
    np.testing.assert_allclose(got, expected, atol=tol * (1 + np.abs(expected).max()), rtol=tol)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_jit_compile_predict_and_train_step(case):
    _, factory, shape = case
    model = _model(factory, shape)
    x = _x(shape)
    eager = np.asarray(model(x, training=False))
    model.compile(optimizer="sgd", loss="mse", jit_compile=True)
    np.testing.assert_allclose(model.predict(x, verbose=0), eager, atol=1e-5, rtol=1e-5)
    loss = model.train_on_batch(x, np.zeros_like(eager))
    assert np.isfinite(loss)
