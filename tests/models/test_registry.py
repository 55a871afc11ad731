"""The whole registry under one contract, plus the architecture facts each variant must reproduce."""

import keras
import numpy as np
import pytest

import restoolkit as rt
from restoolkit.models import count_macs, count_params, create, entry

# Trainable parameter counts at 224x224x3 / 1000 classes (torchvision, timm, keras.applications), and
# CIFAR option-A counts at 10 classes (He et al. 2016, table 6).
TRAINABLE = {
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "resnet50_v1": 25_583_592,
    "resnet50_v2": 25_568_360,
    "resnet50d": 25_576_264,  # timm
    "wide_resnet50_2": 68_883_240,  # torchvision
    "resnext50_32x4d": 25_028_904,  # torchvision
    "seresnet50": 28_088_024,  # timm
    "cifar_resnet20": 269_722,
    "cifar_resnet32": 464_154,
    "cifar_resnet44": 658_586,
    "cifar_resnet56": 853_018,
    "cifar_resnet110": 1_727_962,
}
TOTAL = {"resnet50_v1": 25_636_712, "resnet50_v2": 25_613_800}


def basic_resnet_trainable(widths, blocks, stem_width, classes=1000):
    """Trainable parameters of a basic-block ResNet (v1.5 layout, projection shortcuts), counted by hand."""
    total, width_in = 7 * 7 * 3 * stem_width + 2 * stem_width, stem_width
    for stage, (width, n) in enumerate(zip(widths, blocks, strict=True)):
        for block in range(n):
            total += 9 * width_in * width + 9 * width * width + 4 * width
            if block == 0 and (stage > 0 or width_in != width):
                total += width_in * width + 2 * width
            width_in = width
    return total + width_in * classes + classes


@pytest.mark.parametrize(("name", "widths", "blocks", "stem"), [
    ("resnet18", (64, 128, 256, 512), (2, 2, 2, 2), 64), ("resnet34", (64, 128, 256, 512), (3, 4, 6, 3), 64),
    ("resnet18_050", (32, 64, 128, 256), (2, 2, 2, 2), 32), ("resnet10_050", (32, 64, 128, 256), (1, 1, 1, 1), 32)])
def test_slim_resnets_have_half_the_channels(name, widths, blocks, stem):
    # The hand count reproduces torchvision's resnet18 / resnet34 (above), then checks the slim variants
    assert count_params(create(name))["trainable"] == basic_resnet_trainable(widths, blocks, stem)
    if name in TRAINABLE:
        assert TRAINABLE[name] == basic_resnet_trainable(widths, blocks, stem)


@pytest.mark.parametrize("name", sorted(TRAINABLE))
def test_parameter_counts_are_exact(name):
    counts = count_params(create(name))
    assert counts["trainable"] == TRAINABLE[name]
    if name in TOTAL:
        assert counts["total"] == TOTAL[name]


def test_resnet50_v1_matches_keras_applications_counts():
    ours = count_params(create("resnet50_v1"))
    theirs = keras.applications.ResNet50(weights=None)
    assert ours["total"] == theirs.count_params()
    assert ours["trainable"] == sum(int(np.prod(w.shape)) for w in theirs.trainable_weights)


@pytest.mark.parametrize("name,gmacs", [("resnet18", 1.814), ("resnet50", 4.089), ("resnet34", 3.664)])
def test_macs(name, gmacs):
    assert count_macs(create(name)) / 1e9 == pytest.approx(gmacs, abs=0.002)


def test_plain_twins_have_the_same_layers_without_shortcuts():
    plain, res = create("cifar_plain20"), create("cifar_resnet20")
    # Option A shortcuts have no parameters: the twins have exactly the same weights.
    assert count_params(plain) == count_params(res)
    assert [layer.name for layer in plain.layers] == [layer.name for layer in res.layers]
    assert all(not layer.residual for layer in plain.layers if layer.name.startswith("stage"))
    # ImageNet twins lose the projection shortcuts' parameters only.
    assert count_params(create("plain18"))["trainable"] == TRAINABLE["resnet18"] - (8_448 + 33_280 + 132_096)


def test_registry_names_required_by_the_spec():
    required = {
        "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnet50d", "resnet50_v1", "resnet101_v1",
        "resnet152_v1", "resnet50_v2", "resnet101_v2", "resnet152_v2", "wide_resnet50_2", "resnext50_32x4d",
        "cifar_resnet20", "cifar_resnet32", "cifar_resnet44", "cifar_resnet56", "cifar_resnet110",
        "cifar_resnet1202", "plain18", "plain34", "cifar_plain20", "cifar_plain32", "cifar_plain44",
        "cifar_plain56", "cifar_plain110", "resnet10_3d", "resnet18_3d", "resnet34_3d", "resnet50_3d",
    }
    assert required <= set(rt.available())


def test_overrides_reach_every_block():
    model = create("resnet18", input_shape=(32, 32, 3), num_classes=4, shortcut="avg_down", drop_path_rate=0.2,
                   residual_scaling="layerscale", attn_layer="se", norm_layer={"name": "group_norm", "groups": 8},
                   act_layer="swish", zero_init_residual=True)
    blocks = [layer for layer in model.layers if layer.name.startswith("stage")]
    assert len(blocks) == 8
    assert [b.shortcut.kind for b in blocks].count("avg_down") == 3
    np.testing.assert_allclose([b.drop_path for b in blocks], np.linspace(0, 0.2, 8), atol=1e-7)
    for b in blocks:
        cfg = b.get_config()
        assert cfg["branch_scale"] == "layerscale" and cfg["attn_layer"] == "se" and cfg["act_layer"] == "swish"
        assert cfg["norm_layer"] == {"name": "group_norm", "groups": 8} and cfg["zero_init_residual"]
        assert isinstance(b.norms[0], keras.layers.GroupNormalization)


def test_decayed_identity_falls_linearly_over_depth():
    model = create("cifar_resnet20", residual_scaling="decayed", decay_min=0.4)
    scales = [layer.identity_scale for layer in model.layers if layer.name.startswith("stage")]
    np.testing.assert_allclose(scales, np.linspace(1.0, 0.4, 9))


def test_option_b_is_selectable_for_cifar():
    a = create("cifar_resnet20")
    b = create("cifar_resnet20", shortcut="projection")
    assert {layer.shortcut.kind for layer in a.layers if layer.name.startswith("stage")} == {"identity", "zero_pad"}
    assert count_params(b)["trainable"] > count_params(a)["trainable"]


def test_bad_names_and_overrides_are_refused():
    with pytest.raises(KeyError, match="unknown model 'resnet19'"):
        create("resnet19")
    with pytest.raises(TypeError, match="shortcutt"):
        create("resnet18", shortcutt="avg_down")
    with pytest.raises(ValueError, match="plain network"):
        create("plain18", drop_path_rate=0.1)
    with pytest.raises(ValueError, match="residual_scaling"):
        create("resnet18", residual_scaling="fixup")


def _small_shape(name):
    tags = entry(name).tags
    if "tabular" in tags:
        return (12,)
    if "language" in tags:
        return (16,)
    return (16, 16, 16, 1) if "3d" in tags else (32, 32, 3)


# timm's suite limits its costliest checks by model size the same way. Above these, an entry differs from a
# smaller sibling of its family that makes the full `.keras` round trip (resnet50*, resnext50, cifar_resnet110)
# only in block counts or widths, and rebuilding it from the file costs up to minutes on 2 cores; it still
# builds, runs and serialises its whole config.
ROUND_TRIP_MAX_LAYERS = 300  # top-level layers (a block is one layer): ResNet-1202 has about 600
ROUND_TRIP_MAX_PARAMS = 40_000_000  # ResNet-101 / 152 variants, wide and ResNeXt-101


@pytest.mark.parametrize("name", rt.available(tag=None))
def test_every_entry_builds_predicts_and_round_trips(name, tmp_path):
    shape = _small_shape(name)
    extra = {"hidden_dropout": 0.0} if "tabular" in entry(name).tags else {}  # training=True below: no dropout noise
    model = create(name, input_shape=shape, num_classes=5, **extra)
    x = np.random.default_rng(0).normal(size=(2, *shape)).astype("float32")
    if "language" in entry(name).tags:  # token ids in, logits per position out
        x = np.random.default_rng(0).integers(0, 5, (2, *shape)).astype("int32")
        y = np.asarray(model(x, training=True))
        assert y.shape == (2, *shape, 5) and np.isfinite(y).all()
    else:
        # Training mode normalises with batch statistics: finite outputs even for ResNet-1202 at init.
        y = np.asarray(model(x, training=True))
        assert y.shape == (2, 5)
        np.testing.assert_allclose(y.sum(1), 1, rtol=1e-5)
    from tests.task_testing import run_model_saving_test

    if len(model.layers) > ROUND_TRIP_MAX_LAYERS or model.count_params() > ROUND_TRIP_MAX_PARAMS:
        import json

        config = json.loads(json.dumps(model.get_config()))
        assert len(config["layers"]) == len(model.layers) and config["name"] == name
        return
    loaded = run_model_saving_test(model, x, atol=0)  # the shared base: .keras safe_mode and config round trips
    for a, b in zip(model.weights, loaded.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert loaded.name == name  # the registry names the model after the entry


def test_macs_count_every_call_of_a_shared_layer():
    import keras

    inputs = keras.Input((8, 8, 4))
    shared = keras.layers.Conv2D(4, 3, padding="same")
    first = shared(inputs)
    second = shared(keras.layers.MaxPooling2D()(first))
    model = keras.Model(inputs, [first, second])
    assert count_macs(model) == (8 * 8 + 4 * 4) * 4 * 9 * 4


def test_tabular_resnet_follows_the_paper_layout():
    model = create("resmlp", input_shape=(10,), width=32, depth=3, hidden_factor=2.0)
    blocks = [layer for layer in model.layers if layer.name.startswith("block")]
    assert len(blocks) == 3 and all(b.hidden_units == 64 and b.residual for b in blocks)
    # stem 10→32, 3 × (norm 2·32 + 32→64 + 64→32), head norm, head 32→1
    expected = (10 * 32 + 32) + 3 * (2 * 32 + 32 * 64 + 64 + 64 * 32 + 32) + 2 * 32 + (32 + 1)
    assert count_params(model)["trainable"] == expected
    assert model.output_shape == (None, 1) and model.layers[-1].activation.__name__ == "sigmoid"
    plain = create("plain_resmlp", input_shape=(10,), width=32, depth=3)
    assert not any(layer.residual for layer in plain.layers if layer.name.startswith("block"))
    mlp = create("mlp", input_shape=(10,), width=16, depth=2, num_classes=3)
    assert count_params(mlp)["trainable"] == (10 * 16 + 16) + (16 * 16 + 16) + (16 * 3 + 3)


def test_ft_transformer_follows_rtdl_and_ignores_feature_order():
    """Against the paper's definition, written out in NumPy: token j is x_j·W_j + b_j, [CLS] last; the
    parameter count of its layout; and a transformer over feature tokens has no notion of position, so
    permuting the features together with their tokenizer rows leaves the prediction unchanged."""
    from restoolkit.layers import FeatureTokenizer

    d, f, heads, depth = 8, 5, 2, 2
    model = create("ft_transformer", input_shape=(f,), d_token=d, depth=depth, num_heads=heads, ff_factor=2.0)
    tokenizer = model.get_layer("tokenizer")
    assert isinstance(tokenizer, FeatureTokenizer)
    x = np.random.default_rng(0).normal(size=(3, f)).astype("float32")
    w, b, cls = (np.asarray(v) for v in (tokenizer.weight, tokenizer.bias, tokenizer.cls))
    expected = np.concatenate([x[:, :, None] * w[None] + b[None], np.broadcast_to(cls, (3, 1, d))], axis=1)
    np.testing.assert_allclose(np.asarray(tokenizer(x)), expected, rtol=1e-6)
    h = 2 * d  # feed-forward width
    block = 2 * (2 * d) + 4 * (d * d + d) + (d * h + h) + (h * d + d)  # 2 layer norms, q k v o, two linears
    assert count_params(model)["trainable"] == (2 * f * d + d) + depth * block + 2 * d + (d + 1)
    perm = np.random.default_rng(1).permutation(f)
    twin = create("ft_transformer", input_shape=(f,), d_token=d, depth=depth, num_heads=heads, ff_factor=2.0)
    twin.set_weights(model.get_weights())
    twin.get_layer("tokenizer").weight.assign(w[perm])
    twin.get_layer("tokenizer").bias.assign(b[perm])
    np.testing.assert_allclose(np.asarray(twin(x[:, perm])), np.asarray(model(x)), rtol=1e-5, atol=1e-6)
    assert not np.allclose(np.asarray(model(x[:, perm])), np.asarray(model(x)), atol=1e-4)  # weights do move
    plain = create("plain_ft_transformer", input_shape=(f,), d_token=d, depth=1, num_heads=heads)
    assert not any(layer.residual for layer in plain.layers if layer.name.startswith("block"))


def test_char_transformer_is_causal_and_has_a_plain_twin():
    model = create("char_transformer", input_shape=(12,), num_classes=7, width=16, depth=2, num_heads=2)
    x = np.random.default_rng(0).integers(0, 7, (1, 12)).astype("int32")
    changed = x.copy()
    changed[0, 8:] = (changed[0, 8:] + 1) % 7
    a, b = np.asarray(model(x)), np.asarray(model(changed))
    np.testing.assert_allclose(a[0, :8], b[0, :8], atol=1e-6)  # the future never reaches the past
    assert not np.allclose(a[0, 8:], b[0, 8:])
    plain = create("plain_char_transformer", input_shape=(12,), num_classes=7, width=16, depth=2, num_heads=2)
    assert not any(layer.residual for layer in plain.layers if layer.name.startswith("block"))
    post = create("char_transformer", input_shape=(12,), num_classes=7, width=16, depth=1, num_heads=2,
                  norm_position="post")
    assert "final_norm" not in [layer.name for layer in post.layers]


def test_members_are_independent_networks_trained_on_their_own_losses():
    """``members=k``: k differently initialised copies of the network; inference returns the mean of their
    probabilities; training returns each member's, and a task's loss is the mean of the members' binary
    cross-entropies (scikit-learn's log loss per member as the reference), not the loss of their mean."""
    from sklearn.metrics import log_loss

    from restoolkit.layers import MemberAverage, MemberMeanAUC
    from restoolkit.tasks import Task

    k, f = 3, 6
    model = create("resmlp", input_shape=(f,), width=8, depth=1, members=k)
    members = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    assert len(members) == k and isinstance(model.layers[-1], MemberAverage)
    assert count_params(model)["trainable"] == k * count_params(create("resmlp", input_shape=(f,), width=8,
                                                                         depth=1))["trainable"]
    kernels = [m.get_layer("stem").kernel.numpy() for m in members]
    assert not np.allclose(kernels[0], kernels[1])  # independently initialised
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, f)).astype("float32"), (rng.random(64) < 0.3).astype("float32")
    each = np.concatenate([np.asarray(m(x, training=False)) for m in members], axis=1)
    np.testing.assert_allclose(np.asarray(model(x)), each.mean(1, keepdims=True), atol=1e-6)
    assert tuple(model(x, training=True).shape) == (64, k)
    from tests.task_testing import run_model_saving_test

    run_model_saving_test(model, x, atol=0)  # .keras in safe mode and the config round trip

    inputs = keras.Input((f,))
    task = Task(inputs, model(inputs))
    task.compile(loss="binary_crossentropy", metrics=[MemberMeanAUC(curve="PR", num_thresholds=2000)])
    p = each.mean(1)
    per_member = np.mean([log_loss(y, each[:, i], labels=[0, 1]) for i in range(k)])
    loss = float(task.compute_loss(x, y, np.asarray(each), training=True))
    assert loss == pytest.approx(per_member, rel=1e-4)
    assert loss != pytest.approx(log_loss(y, p, labels=[0, 1]), rel=1e-3)
    metric = MemberMeanAUC(curve="PR", num_thresholds=2000)
    metric.update_state(y[:, None], each)
    reference = keras.metrics.AUC(curve="PR", num_thresholds=2000)
    reference.update_state(y[:, None], each.mean(1, keepdims=True))
    assert float(metric.result()) == pytest.approx(float(reference.result()), abs=1e-6)
    with pytest.raises(ValueError, match="members > 1"):
        create("resmlp", input_shape=(f,), num_classes=3, members=2)
    with pytest.raises(ValueError, match="positive integer"):
        create("resmlp", input_shape=(f,), members=0)
