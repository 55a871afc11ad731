"""The three domain tasks through the shared test base: build, train, save, presets."""

import numpy as np
import pytest
import tensorflow as tf

from tests.task_testing import check_unbuilt_preset, run_preset_test, run_task_test


@pytest.fixture(autouse=True)
def _no_installed_presets(tmp_path, monkeypatch):
    monkeypatch.setenv("RESTOOLKIT_HOME", str(tmp_path / "home"))


def test_image_classifier(tmp_path):
    from domains.medical import ImageClassifier

    rng = np.random.default_rng(0)
    x = rng.random((8, 32, 32, 1)).astype("float32")
    y = (rng.random(8) < 0.5).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    task = run_task_test(ImageClassifier, {"backbone": "resnet18", "num_classes": 1, "dropout": 0.1,
                                           "preprocessor": {"image_size": (32, 32)},
                                           "backbone_options": {"drop_path_rate": 0.05}},
                         data, x, expected_output_shape=(None, 1))
    task.save_to_preset(tmp_path / "preset")
    run_preset_test(ImageClassifier, tmp_path / "preset", x)
    # A built-in preset whose weights are not built: its architecture and preprocessing on request.
    arch = check_unbuilt_preset(ImageClassifier, "resnet18_synthetic_radiographs")
    assert arch.preprocessor.image_size == (96, 96) and arch.output_shape == (None, 1)


def test_object_detector(tmp_path):
    from domains.driving import ObjectDetector

    task = ObjectDetector("resnet18", ("Car", "Pedestrian"), preprocessor={"input_size": (64, 96)}, fpn_width=8,
                          head_width=8, head_depth=1)
    n = len(task.anchors)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (4, 64, 96, 3)).astype("float32")
    y = np.zeros((4, n, 5), "float32")
    y[..., 4] = -1.0
    y[:, :5, 4] = 0.0  # a few positive anchors of class 0 with exact boxes
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(2)
    kwargs = {"backbone": "resnet18", "class_names": ["Car", "Pedestrian"], "preprocessor": {"input_size": (64, 96)},
              "fpn_width": 8, "head_width": 8, "head_depth": 1, "nms": "deployment", "box_loss": "giou",
              "head_norm": "group", "iou_thresholds": [0.45, 0.35]}
    trained = run_task_test(ObjectDetector, kwargs, data, x, expected_output_shape=(None, n, 6))
    trained.save_to_preset(tmp_path / "preset")
    run_preset_test(ObjectDetector, tmp_path / "preset", x)
    arch = check_unbuilt_preset(ObjectDetector, "retinanet_resnet10_050_synthetic_scenes", class_names=["Car"])
    assert arch.input_size == (128, 384) and arch.class_names == ["Car"]
    assert arch.iou_thresholds == (0.4, 0.3) and arch.backbone_name == "resnet10_050"
    from domains.driving.app import OPTIONS  # the CLI's default backbone is the preset's

    assert {o.name: o.default for o in OPTIONS}["backbone"] == arch.backbone_name


def test_fraud_classifier(tmp_path):
    from domains.fraud import FraudClassifier, Schema

    rng = np.random.default_rng(0)
    import pandas as pd

    df = pd.DataFrame({"amount": rng.gamma(2, 30, 256), "hour": rng.integers(0, 24, 256).astype(float),
                       "merchant": rng.choice(["a", "b", "c"], 256), "label": (rng.random(256) < 0.1).astype(int)})
    schema = Schema(numeric=["amount", "hour"], categorical=["merchant"], target="label")
    template = FraudClassifier.from_table(df, schema)
    from domains.fraud.features import to_inputs

    inputs = to_inputs(schema.validate(df), schema)
    data = tf.data.Dataset.from_tensor_slices((inputs, df["label"].to_numpy("float32"))).batch(64)
    x = tf.data.Dataset.from_tensor_slices(inputs).batch(64)
    kwargs = {"preprocessor": template.preprocessor.get_config(), "backbone": "resmlp", "schema": schema,
              "backbone_options": {"width": 16, "depth": 1}, "prior_beta": 0.5}
    task = run_task_test(FraudClassifier, kwargs, data, x, expected_output_shape=(None, 1))
    task.save_to_preset(tmp_path / "preset")
    run_preset_test(FraudClassifier, tmp_path / "preset", x)
    # The built-in presets are fitted to the user's table; the default one is the six-member ensemble.
    fitted = FraudClassifier.from_preset("resmlp_fraud", load_weights=False, data=df, target="label")
    assert fitted.schema.categorical == ["merchant"] and fitted.predict(df).shape == (256,)
    assert fitted.backbone_options == template.backbone_options == {"width": 24, "depth": 2, "hidden_factor": 1.0,
                                                                    "members": 6}
    kernels = [tuple(w.shape) for w in fitted.weights if w.path.endswith("kernel")]
    assert kernels.count((24, 24)) == 6 * 2 * 2 and (24, 48) not in kernels  # blocks as wide inside as outside
    single = FraudClassifier.from_preset("resmlp_single_fraud", load_weights=False, data=df, target="label")
    assert single.backbone_options == {"width": 32, "depth": 2, "hidden_factor": 2.0, "members": 1}
    assert single.predict(df).shape == (256,)
    # An ensemble backbone through the same base: it trains on 1-D labels (one loss per member), saves and
    # reloads.
    ensemble = run_task_test(FraudClassifier, {**kwargs, "backbone_options": {"width": 8, "depth": 1, "members": 3}},
                             data, x, expected_output_shape=(None, 1))
    assert tuple(ensemble(next(iter(x)), training=True).shape) == (64, 3)
    # The FT-Transformer backbone through the same base (train, .keras with safe_mode, preset).
    ft = run_task_test(FraudClassifier, {**kwargs, "backbone": "ft_transformer", "prior_beta": None,
                                         "backbone_options": {"d_token": 8, "depth": 1, "num_heads": 2}},
                       data, x, expected_output_shape=(None, 1))
    assert ft.backbone_options == {"d_token": 8, "depth": 1, "num_heads": 2}  # no MLP width / depth mixed in
    fitted = FraudClassifier.from_preset("ft_transformer_fraud", load_weights=False, data=df, target="label")
    assert fitted.backbone_name == "ft_transformer" and fitted.predict(df).shape == (256,)


def test_a_task_from_scratch_resumes_in_any_process_but_pretrained_weights_are_another_run(tmp_path):
    """Fresh random initialisations differ between processes: they must not block a resume. Loaded or
    pretrained weights are part of the run: a run from scratch is never returned for them."""
    from domains.medical import ImageClassifier
    from restoolkit.errors import ResumeError
    from restoolkit.tasks import train_task

    rng = np.random.default_rng(0)
    x = rng.random((8, 32, 32, 1)).astype("float32")
    y = (rng.random(8) < 0.5).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    kwargs = {"run_dir": tmp_path / "run", "epochs": 1, "verbose": 0, "data_fingerprint": "eight images"}
    first = ImageClassifier("resnet18", preprocessor={"image_size": (32, 32)})
    train_task(first, data, **kwargs)
    assert not first.has_fresh_weights
    second = ImageClassifier("resnet18", preprocessor={"image_size": (32, 32)})  # other random weights
    assert second.has_fresh_weights
    again = train_task(second, data, **kwargs)  # the finished run, its weights copied into the new task
    np.testing.assert_allclose(again.model.predict(x), first.predict(x), atol=1e-6)
    first.save_to_preset(tmp_path / "preset")
    pretrained = ImageClassifier.from_preset(tmp_path / "preset")
    with pytest.raises(ResumeError, match="initial weights"):
        train_task(pretrained, data, **kwargs)
