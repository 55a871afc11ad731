import keras
import numpy as np
import pytest

from restoolkit.layers import BasicBlock, BottleneckBlock, PreActBlock, PreActBottleneckBlock


@pytest.fixture
def x(rng):
    # Non-negative, like the output of a previous ReLU block: then relu(x) == x.
    return np.abs(rng.normal(size=(2, 8, 8, 16))).astype("float32")


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_one_implementation_for_every_rank(rank):
    shape = (2,) + (8,) * rank + (4,)
    y = BottleneckBlock(4, stride=2)(keras.ops.ones(shape))
    assert tuple(y.shape) == (2,) + (4,) * rank + (16,)


def test_zero_init_residual_makes_block_identity(x):
    block = BasicBlock(16, zero_init_residual=True)
    np.testing.assert_allclose(np.asarray(block(x, training=False)), x, atol=1e-6)
    assert np.all(block.norms[-1].gamma.numpy() == 0)


def test_rezero_starts_as_identity_and_learns_alpha(x):
    block = BottleneckBlock(4, branch_scale="rezero")
    np.testing.assert_allclose(np.asarray(block(x, training=False)), x, atol=1e-6)
    assert [w.name for w in block.scale.weights] == ["alpha"]


def test_layerscale_multiplies_branch_per_channel(x):
    block = BasicBlock(16, branch_scale="layerscale", layerscale_init=0.5)
    branch, skip = block.residual_parts(x)
    unscaled = block._branch(block._pre(x, False), False)
    np.testing.assert_allclose(np.asarray(branch), 0.5 * np.asarray(unscaled), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(skip), x)
    assert block.scale.gamma.shape == (16,)


def test_decayed_identity_scales_the_identity_path(x):
    block = BasicBlock(16, identity_scale=0.6, zero_init_residual=True)
    np.testing.assert_allclose(np.asarray(block(x, training=False)), 0.6 * x, atol=1e-6)


def test_drop_path_drops_whole_samples_in_training_only(x):
    # Frozen batch norm: training mode then differs from inference only by the dropped paths.
    block = BasicBlock(16, drop_path=0.5, norm_layer="frozen_batch_norm")
    batch = np.repeat(x[:1], 64, 0)
    branch, _ = block.residual_parts(batch, training=True)
    norms = np.abs(np.asarray(branch)).reshape(64, -1).max(1)
    dropped = norms == 0
    assert 10 < dropped.sum() < 54  # about half the samples lose their whole branch
    kept, _ = block.residual_parts(batch, training=False)
    np.testing.assert_allclose(np.asarray(branch)[~dropped], 2 * np.asarray(kept)[~dropped], rtol=1e-4, atol=1e-5)


def test_plain_twin_has_no_shortcut_and_rejects_residual_options(x):
    block = BasicBlock(16, residual=False)
    block(x)
    assert block.shortcut is None
    branch, skip = block.residual_parts(x)
    assert skip is None
    np.testing.assert_allclose(np.asarray(block(x, training=False)), np.maximum(np.asarray(branch), 0), atol=1e-6)
    with pytest.raises(ValueError, match="plain block"):
        BasicBlock(16, residual=False, drop_path=0.1)


def test_lesion_returns_the_shortcut(x):
    block = BasicBlock(16)
    block(x)
    block.lesioned = True
    np.testing.assert_array_equal(np.asarray(block(x, training=False)), x)


def test_bottleneck_widths_follow_torchvision():
    assert BottleneckBlock(64, groups=32, base_width=4).width == 128  # resnext50_32x4d, stage 1
    assert BottleneckBlock(64, base_width=128).width == 128  # wide_resnet50_2
    v15 = BottleneckBlock(8, stride=2)
    v1 = BottleneckBlock(8, stride=2, stride_on="1x1")
    assert [s[2] for s in v15.conv_specs()] == [1, 2, 1]
    assert [s[2] for s in v1.conv_specs()] == [2, 1, 1]


def test_strided_conv_pads_symmetrically_like_pytorch(rng):
    """A stride-2 3x3 conv on an even input must see one zero row at the top too (PyTorch padding=1)."""
    x = rng.normal(size=(1, 6, 6, 1)).astype("float32")
    block = BasicBlock(1, stride=2, norm_layer="none", act_layer="none", residual=False)
    block(x)
    kernel = np.zeros((3, 3, 1, 1), "float32")
    kernel[0, 0] = 1.0  # picks the top-left neighbour
    block.convs[0].set_weights([kernel, np.zeros(1, "float32")])
    block.convs[1].set_weights([np.pad(np.ones((1, 1, 1, 1), "float32"), ((1, 1), (1, 1), (0, 0), (0, 0))),
                                np.zeros(1, "float32")])
    y = np.asarray(block(x))[0, :, :, 0]
    padded = np.pad(x[0, :, :, 0], 1)
    np.testing.assert_allclose(y, padded[0:6:2, 0:6:2], atol=1e-6)


def test_preact_block_normalises_input_before_projection(x):
    block = PreActBottleneckBlock(8, stride=2)
    block(x)
    assert block.preact_norm is not None and block.shortcut.kind == "projection"
    assert block.shortcut.norm is None and block.shortcut.conv.use_bias  # conv only, as ResNetV2
    assert block.norms[-1] is None and block.convs[-1].use_bias
    assert PreActBlock(16).preactivation


def test_se_attention_is_injected(x):
    block = BasicBlock(16, attn_layer={"name": "se", "ratio": 4})
    block(x)
    assert type(block.attn).__name__ == "SqueezeExcite" and block.attn.ratio == 4


def test_unknown_layer_specs_fail_early():
    with pytest.raises(ValueError, match="unknown norm"):
        BasicBlock(4, norm_layer="batchnorm")(keras.ops.ones((1, 4, 4, 4)))
    with pytest.raises(ValueError, match="shortcut must be"):
        BasicBlock(4, shortcut="option_b")
