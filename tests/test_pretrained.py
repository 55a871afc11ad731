"""Pretrained weights from keras.applications files, torchvision / timm state dicts and presets — all
offline, with files made here."""

import json
import os
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
from safetensors.numpy import save_file

from restoolkit import freeze, list_presets, load_backbone, load_preset, save_preset
from restoolkit.errors import WeightsError
from restoolkit.models import create
from restoolkit.presets import PresetError, verify
from restoolkit.pretrained import WeightsNotFoundError, keras_applications_file, load_torch_state_dict
from tests import torch_reference as ref


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("RESTOOLKIT_OFFLINE", "1")
    (tmp_path / "keras" / "models").mkdir(parents=True)
    return tmp_path / "keras" / "models"


def _write_legacy_h5(model, path):
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)


def test_imagenet_from_the_keras_cache_without_top_at_an_odd_size(keras_home):
    source = keras.applications.ResNet50(weights=None, include_top=False, input_shape=(65, 71, 3))
    from tests.conftest import randomize_norm_statistics

    randomize_norm_statistics(source)
    fname = keras_applications_file("resnet50_v1", include_top=False)
    assert fname == "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    _write_legacy_h5(source, keras_home / fname)
    ours = load_backbone("resnet50_v1", weights="imagenet", input_shape=(65, 71, 3))
    reference = keras.applications.ResNet50(weights=str(keras_home / fname), include_top=False,
                                            input_shape=(65, 71, 3), pooling="avg")
    x = np.random.default_rng(0).uniform(-1, 1, (2, 65, 71, 3)).astype("float32")
    np.testing.assert_allclose(ours(x), reference(x), atol=1e-4)


def test_imagenet_v2_with_top_and_a_one_channel_stem(keras_home):
    source = keras.applications.ResNet50V2(weights=None, include_top=True)
    fname = keras_applications_file("resnet50_v2", include_top=True)
    _write_legacy_h5(source, keras_home / fname)
    ours = load_backbone("resnet50_v2", weights="imagenet", include_top=True)
    x = np.random.default_rng(1).uniform(-1, 1, (1, 224, 224, 3)).astype("float32")
    np.testing.assert_allclose(ours(x), source(x), atol=1e-4)
    grey = load_backbone("resnet50_v2", weights="imagenet", in_channels=1, input_shape=(96, 96, 3), num_classes=5)
    assert grey.input_shape == (None, 96, 96, 1) and grey.output_shape == (None, 5)
    kernel = keras.ops.convert_to_numpy(grey.get_layer("stem_conv1").kernel)
    np.testing.assert_allclose(kernel[:, :, 0], keras.ops.convert_to_numpy(source.get_layer("conv1_conv").kernel).sum(2),
                               atol=1e-5)


def test_missing_imagenet_file_names_the_file_and_the_folder(keras_home):
    with pytest.raises(WeightsNotFoundError, match=r"put resnet101v2_weights_tf_dim_ordering_tf_kernels_notop\.h5 in "
                                                   + str(keras_home).replace("\\", "\\\\")):
        load_backbone("resnet101_v2", weights="imagenet", input_shape=(64, 64, 3))
    with pytest.raises(ValueError, match="weights='imagenet' exists for"):
        load_backbone("resnet18", weights="imagenet")


@pytest.mark.parametrize("name, depth, deep, size", [("resnet18", 18, False, (64, 64)), ("resnet18", 18, False, (65, 71)),
                                                     ("resnet50", 50, False, (64, 64)), ("resnet18d", 18, True, (65, 71))])
def test_torch_state_dicts_load_exactly_as_pytorch_computes(tmp_path, name, depth, deep, size):
    state = ref.make_state(depth, deep=deep, num_classes=10)
    save_file({k: np.ascontiguousarray(v) for k, v in state.items()}, str(tmp_path / "w.safetensors"))
    model = load_backbone(name, weights="timm" if deep else "torchvision", weights_path=tmp_path / "w.safetensors",
                          input_shape=(*size, 3), include_top=True, num_classes=10, classifier_activation=None)
    x = np.random.default_rng(0).uniform(-1, 1, (2, *size, 3)).astype("float32")
    expected = ref.forward(state, x, depth, deep=deep)
    # Random weights with random batch-norm statistics grow activations to ~1e3 by the head: compare
    # within float32 precision relative to that scale (real ImageNet logits are O(10): 1e-4 absolute).
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=1e-4 * max(1.0, np.abs(expected).max()))


def test_timm_se_resnet_loads_exactly_as_timm_computes(tmp_path):
    """SE weights (timm's se.fc1 / se.fc2 1x1 convolutions) map onto our attention layers exactly."""
    state = ref.make_state(50, se=True, num_classes=7)
    assert state["layer1.0.se.fc1.weight"].shape == (16, 256, 1, 1)
    assert state["layer4.2.se.fc1.weight"].shape == (128, 2048, 1, 1)
    save_file({k: np.ascontiguousarray(v) for k, v in state.items()}, str(tmp_path / "se.safetensors"))
    model = load_backbone("seresnet50", weights="timm", weights_path=tmp_path / "se.safetensors",
                          input_shape=(64, 64, 3), classifier_activation=None)
    assert model.output_shape == (None, 7)  # the file's head, kept by default
    x = np.random.default_rng(1).uniform(-1, 1, (2, 64, 64, 3)).astype("float32")
    expected = ref.forward(state, x, 50)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=1e-4 * max(1.0, np.abs(expected).max()))
    # Without the SE tensors the file is another architecture: refused, naming the file.
    plain = {k: v for k, v in state.items() if ".se." not in k}
    save_file({k: np.ascontiguousarray(v) for k, v in plain.items()}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(WeightsError, match=r"plain\.safetensors: no source tensor for our weight 'stage1_block1/attn"):
        load_backbone("seresnet50", weights="timm", weights_path=tmp_path / "plain.safetensors",
                      input_shape=(64, 64, 3))


def test_timm_tags_exist_in_timm():
    """Every tag we name is one of timm's published pretrained tags (from its default_cfgs)."""
    from restoolkit.pretrained import TIMM_REPOS

    published = {"resnet18.a1_in1k", "resnet34.a1_in1k", "resnet50.a1_in1k", "resnet101.a1_in1k", "resnet152.a1_in1k",
                 "resnet18d.ra2_in1k", "resnet34d.ra2_in1k", "resnet50d.ra2_in1k", "resnet50d.a1_in1k",
                 "resnet101d.ra2_in1k", "resnet152d.ra2_in1k", "seresnet50.ra2_in1k", "seresnet50.a1_in1k"}
    for name, repo in TIMM_REPOS.items():
        assert repo.removeprefix("timm/") in published, repo
        assert repo.removeprefix("timm/").split(".")[0] == name


def test_head_handling_is_explicit(tmp_path):
    state = ref.make_state(18, num_classes=10)
    headless = {k: v for k, v in state.items() if not k.startswith("fc.")}
    save_file({k: np.ascontiguousarray(v) for k, v in state.items()}, str(tmp_path / "w.safetensors"))
    save_file({k: np.ascontiguousarray(v) for k, v in headless.items()}, str(tmp_path / "headless.safetensors"))
    kept = load_backbone("resnet18", weights="torchvision", weights_path=tmp_path / "w.safetensors",
                         input_shape=(32, 32, 3), classifier_activation=None)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(kept.get_layer("predictions").kernel), state["fc.weight"].T)
    features = load_backbone("resnet18", weights="torchvision", weights_path=tmp_path / "w.safetensors",
                             input_shape=(32, 32, 3), include_top=False)
    assert features.output_shape == (None, 512)
    with pytest.raises(WeightsError, match=r"headless\.safetensors: include_top=True but the file holds no classifier"):
        load_backbone("resnet18", weights="torchvision", weights_path=tmp_path / "headless.safetensors",
                      input_shape=(32, 32, 3), include_top=True)
    with pytest.warns(UserWarning, match="its head has 10 classes, not 3: a new head"):
        three = load_backbone("resnet18", weights="torchvision", weights_path=tmp_path / "w.safetensors",
                              input_shape=(32, 32, 3), num_classes=3)
    assert three.output_shape == (None, 3)
    (tmp_path / "broken.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(WeightsError, match=r"broken\.safetensors: not a readable safetensors file"):
        load_backbone("resnet18", weights="torchvision", weights_path=tmp_path / "broken.safetensors")


def test_user_paths_expand_the_home_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    state = ref.make_state(18, num_classes=10)
    save_file({k: np.ascontiguousarray(v) for k, v in state.items()}, str(tmp_path / "w.safetensors"))
    model = load_backbone("resnet18", weights="torchvision", weights_path="~/w.safetensors", input_shape=(32, 32, 3))
    assert model.output_shape == (None, 10)
    folder = save_preset(model, "~/presets/mine", metadata={"description": "test"})
    assert folder == tmp_path / "presets" / "mine" and load_preset("~/presets/mine").output_shape == (None, 10)


def test_torch_mapping_refuses_another_architecture_and_adapts_channels():
    state = ref.make_state(18)
    with pytest.raises(ValueError, match="no source tensor|no place"):
        load_torch_state_dict(create("resnet34", input_shape=(32, 32, 3), num_classes=10), state)
    grey = create("resnet18", input_shape=(32, 32, 1), num_classes=10)
    report = load_torch_state_dict(grey, state)
    assert report["adapted"] == ["stem_conv1/kernel"]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(grey.get_layer("stem_conv1").kernel)[:, :, 0],
                               state["conv1.weight"].sum(1).transpose(1, 2, 0), atol=1e-6)


def test_pth_files_need_pytorch_and_load_like_safetensors(tmp_path):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    state = ref.make_state(18)
    torch.save({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}, tmp_path / "w.pth")
    for size in ((224, 224), (225, 231)):
        model = load_backbone("resnet18", weights="torchvision", weights_path=tmp_path / "w.pth", input_shape=(*size, 3),
                              num_classes=10, classifier_activation=None)
        x = np.random.default_rng(0).uniform(-1, 1, (1, *size, 3)).astype("float32")
        expected = ref.forward(state, x, 18)
        np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=1e-4 * max(1.0, np.abs(expected).max()))


def test_missing_torchvision_file_names_it(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(WeightsNotFoundError, match="put resnet34-b627a593.pth in"):
        load_backbone("resnet34", weights="torchvision")


def test_presets_round_trip_verify_and_refuse_tampering(tmp_path, monkeypatch):
    monkeypatch.setenv("RESTOOLKIT_HOME", str(tmp_path / "home"))
    model = create("resnet18", input_shape=(32, 32, 3), num_classes=4)
    folder = save_preset(model, tmp_path / "home" / "presets" / "mine", metadata={"description": "test", "metrics": {"acc": 0.5}},
                         preprocessing={"input_size": [32, 32]}, arch={"name": "resnet18", "num_classes": 4})
    assert set(json.loads((folder / "metadata.json").read_text())["files"]) == {"config.json", "model.weights.h5",
                                                                               "preprocessing.json"}
    loaded = load_preset(folder)
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-6)
    assert loaded.preset["preprocessing"]["input_size"] == [32, 32]
    listed = {p["name"]: p for p in list_presets()}
    assert listed["mine"]["built"] and listed["mine"]["metrics"] == {"acc": 0.5}
    recipe = listed["resnet18_synthetic_radiographs"]
    assert recipe["built"] is False and recipe["path"] is None and "radiographs" in recipe["description"]
    grey = load_backbone(folder, input_shape=(48, 48, 3), in_channels=1, num_classes=2)
    assert grey.input_shape == (None, 48, 48, 1) and grey.output_shape == (None, 2)

    with (folder / "model.weights.h5").open("r+b") as f:  # one flipped byte
        f.seek(200)
        byte = f.read(1)
        f.seek(200)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(PresetError, match="model.weights.h5 has SHA-256"):
        load_preset(folder)


def test_presets_refuse_files_outside_the_folder(tmp_path):
    folder = save_preset(create("resnet18", input_shape=(32, 32, 3), num_classes=2), tmp_path / "p", metadata={})
    outside = tmp_path / "elsewhere.h5"
    os.replace(folder / "model.weights.h5", outside)
    os.symlink(outside, folder / "model.weights.h5")
    with pytest.raises(PresetError, match="resolves outside the preset folder"):
        verify(folder)
    meta = json.loads((folder / "metadata.json").read_text())
    meta["files"]["../x.h5"] = "0" * 64
    (folder / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(PresetError, match="outside the preset folder"):
        verify(folder)


def test_freeze_stages_and_batch_norm():
    model = create("resnet18", input_shape=(32, 32, 3), num_classes=2)
    frozen = freeze(model, freeze_at=2, batch_norm=True)
    assert "stem_conv1" in frozen and "stage1_block1" in frozen and "stage2_block1" not in frozen
    norms = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]
    assert norms and not any(layer.trainable for layer in norms)
    assert [layer for layer in model.get_layer("stage3_block1")._flatten_layers() if layer.name == "conv1"][0].trainable


def test_pretrain_builds_presets_that_the_tasks_load(tmp_path, monkeypatch):
    from domains.driving import ObjectDetector
    from domains.medical import ImageClassifier
    from restoolkit.__main__ import main
    from tests.task_testing import run_preset_test

    monkeypatch.setenv("RESTOOLKIT_HOME", str(tmp_path))
    assert main(["pretrain", "--small"]) == 0
    import tempfile

    assert not [p for p in Path(tempfile.gettempdir()).iterdir() if not p.name.startswith("__autograph")], "pretrain left its work folders behind"
    names = {p["name"]: p for p in list_presets()}
    assert all(names[n]["built"] for n in ("resnet18_synthetic_radiographs", "retinanet_resnet10_050_synthetic_scenes"))
    radiographs = tmp_path / "presets" / "resnet18_synthetic_radiographs"
    meta = json.loads((radiographs / "metadata.json").read_text())
    assert 0 <= meta["metrics"]["test_auroc"] <= 1 and meta["license"].startswith("Apache")
    # By name, the preset's own preprocessing (48x48, 1 channel) comes with it.
    task = run_preset_test(ImageClassifier, "resnet18_synthetic_radiographs", np.random.default_rng(0).random(
        (2, 48, 48, 1)).astype("float32"))
    assert task.preprocessor.image_size == (48, 48)
    # A new head on the preset's backbone: backbone weights copied, head fresh.
    three = ImageClassifier.from_preset("resnet18_synthetic_radiographs", num_classes=3)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(three.get_layer("stem_conv1").kernel), keras.ops.convert_to_numpy(task.get_layer("stem_conv1").kernel))
    assert three.output_shape == (None, 3)
    detector = ObjectDetector.from_preset("retinanet_resnet10_050_synthetic_scenes", class_names=["Car"])
    source = ObjectDetector.from_preset("retinanet_resnet10_050_synthetic_scenes")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(detector.backbone.get_layer("stem_conv1").kernel),
                                  keras.ops.convert_to_numpy(source.backbone.get_layer("stem_conv1").kernel))
    assert detector.class_names == ["Car"] and detector.output_shape[-1] == 4 + 1
