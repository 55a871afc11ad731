import numpy as np
import pytest

from restoolkit.models import backbone, create


def test_backbone_levels_strides_and_channels():
    model = backbone("resnet50", input_shape=(96, 160, 3))
    assert [(f["name"], f["channels"], f["stride"]) for f in model.feature_info] == [
        ("C2", 256, 4), ("C3", 512, 8), ("C4", 1024, 16), ("C5", 2048, 32)]
    out = model(np.zeros((1, 96, 160, 3), "float32"))
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "C2": (1, 24, 40, 256), "C3": (1, 12, 20, 512), "C4": (1, 6, 10, 1024), "C5": (1, 3, 5, 2048)}


def test_one_channel_dicom_backbone_and_3d():
    model = backbone("resnet18", input_shape=(64, 64, 1))
    assert model.input_shape == (None, 64, 64, 1)
    assert [f["channels"] for f in model.feature_info] == [64, 128, 256, 512]
    vol = backbone("resnet10_3d", input_shape=(32, 64, 64, 1))
    assert tuple(vol.output["C5"].shape) == (None, 1, 2, 2, 512)


def test_v2_backbone_takes_the_last_map_at_each_stride():
    model = backbone("resnet50_v2", input_shape=(64, 64, 3))
    assert [f["stride"] for f in model.feature_info] == [4, 8, 16, 32]


def test_backbone_shares_weights_with_the_classifier(tmp_path):
    clf = create("resnet18", input_shape=(64, 64, 3))
    bb = backbone("resnet18", input_shape=(64, 64, 3))
    assert [w.shape for w in bb.weights] == [w.shape for w in clf.weights[: len(bb.weights)]]
    path = tmp_path / "bb.weights.h5"
    bb.save_weights(path)
    again = backbone("resnet18", input_shape=(64, 64, 3), weights=path)
    x = np.random.default_rng(0).normal(size=(1, 64, 64, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(again(x)["C5"]), np.asarray(bb(x)["C5"]))


def test_backbone_refuses_networks_without_a_pyramid_and_bad_weight_paths():
    with pytest.raises(ValueError, match="no C2..C5"):
        backbone("cifar_resnet20", input_shape=(32, 32, 3))
    with pytest.raises(FileNotFoundError, match="not found"):
        backbone("resnet18", weights="missing.weights.h5")
