"""Classifier building, weight adaptation, clinical metrics against scikit-learn, Grad-CAM, end to end."""

import keras
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import brier_score_loss, confusion_matrix, roc_auc_score

from domains.medical import (
    ImageClassifier,
    evaluate,
    grad_cam,
    leakage_report,
    load_study,
    make_study_folder,
    overlay,
    split,
    train,
)
from domains.medical.evaluate import (
    apply_temperature,
    bootstrap_auroc,
    choose_threshold,
    expected_calibration_error,
    fit_temperature,
    operating_point,
)
from restoolkit.errors import ConfigError
from restoolkit.weights import adapt_input_channels, transfer_weights


def classifier(backbone, shape, **kwargs):
    spatial, channels = shape[:-1], shape[-1]
    pre = {"image_size": spatial, "channels": channels} if len(spatial) == 2 else {
        "volume_shape": spatial, "channels": channels}
    return ImageClassifier(backbone, preprocessor=pre, **kwargs)


def test_classifier_shapes_heads_and_3d():
    model = classifier("resnet18", (48, 40, 1))
    assert model.output_shape == (None, 1) and model.layers[-1].activation.__name__ == "sigmoid"
    assert classifier("resnet18", (32, 32, 2), num_classes=3, dropout=0.2).output_shape == (None, 3)
    assert classifier("resnet10_3d", (8, 32, 32, 1)).output_shape == (None, 1)
    with pytest.raises(ConfigError, match="takes volumes"):
        classifier("resnet10_3d", (32, 32, 1))


def test_adapt_input_channels_sum_and_repeat():
    kernel = np.random.default_rng(0).normal(size=(7, 7, 3, 8))
    np.testing.assert_allclose(adapt_input_channels(kernel, 1), kernel.sum(axis=2, keepdims=True))
    five = adapt_input_channels(kernel, 5)
    np.testing.assert_allclose(five[:, :, :3], kernel * 3 / 5)
    np.testing.assert_allclose(five[:, :, 3:], kernel[:, :, :2] * 3 / 5)
    with pytest.raises(ValueError, match="adapts to 1 channel"):
        adapt_input_channels(kernel, 2, mode="sum")


def test_grey_classifier_from_colour_weights_answers_like_the_colour_model(tmp_path):
    colour = classifier("resnet18", (32, 32, 3), num_classes=4)
    colour.save(tmp_path / "colour.keras")
    grey = classifier("resnet18", (32, 32, 1))
    report = grey.load_backbone_weights(tmp_path / "colour.keras")
    assert report["adapted"] == ["stem_conv1/kernel"] and "predictions/kernel" in report["reset"]
    g = np.random.default_rng(1).random((2, 32, 32, 1)).astype("float32")
    np.testing.assert_allclose(colour.backbone(np.repeat(g, 3, -1)), grey.backbone(g), atol=1e-4)
    with pytest.raises(ValueError, match="no place in the target"):
        transfer_weights(classifier("resnet34", (32, 32, 3)), classifier("resnet18", (32, 32, 3)))


def test_threshold_operating_point_and_calibration_helpers():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    s = np.clip(y * 0.3 + rng.random(400) * 0.7, 0, 1)
    t = choose_threshold(y, s, specificity=0.9)
    point = operating_point(y, s, t)
    tn, fp, fn, tp = confusion_matrix(y, s >= t).ravel()
    assert point["specificity"] == tn / (tn + fp) >= 0.9 and point["sensitivity"] == tp / (tp + fn)
    # The most sensitive such point: any lower score threshold breaks the specificity target.
    lower = s[(s < t) & (y == 0)].max()  # the next negative let through
    assert operating_point(y, s, lower)["specificity"] < 0.9
    # ECE by its definition, on a hand-made case: two bins, each off by 0.1 and 0.3.
    assert expected_calibration_error([0, 1, 1, 1], [0.1, 0.2, 0.9, 0.9], bins=2) == pytest.approx(
        0.5 * abs(0.5 - 0.15) + 0.5 * abs(1 - 0.9))
    # Temperature scaling recovers the temperature that over-confident scores were made with.
    z = rng.normal(0, 2, 20000)
    labels = rng.random(20000) < 1 / (1 + np.exp(-z))
    assert fit_temperature(labels, 1 / (1 + np.exp(-3 * z))) == pytest.approx(3, rel=0.05)


def test_bootstrap_resamples_patients_not_images():
    rng = np.random.default_rng(0)
    y = np.repeat(rng.integers(0, 2, 30), 10)  # 30 patients, 10 correlated images each
    s = np.repeat(rng.random(30), 10) + y * 0.3
    patient_ci = bootstrap_auroc(y, s, np.repeat(np.arange(30), 10), n=300)
    image_ci = bootstrap_auroc(y, s, np.arange(300), n=300)
    auc = roc_auc_score(y, s)
    assert patient_ci[0] <= auc <= patient_ci[1]
    assert patient_ci[1] - patient_ci[0] > 2 * (image_ci[1] - image_ci[0])


def test_grad_cam_points_at_the_evidence():
    inputs = keras.Input((32, 32, 1), name="image")
    features = keras.layers.Conv2D(1, 1, use_bias=False, kernel_initializer="ones", name="features")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D()(features)
    outputs = keras.layers.Dense(1, activation="sigmoid", kernel_initializer="ones", name="predictions")(pooled)
    model = keras.Model(inputs, outputs)
    image = np.zeros((32, 32, 1), "float32")
    image[20:24, 5:9] = 1.0
    heat = grad_cam(model, image, layer="features")
    assert heat.shape == (32, 32) and heat.max() == pytest.approx(1)
    peak = np.unravel_index(np.argmax(heat), heat.shape)
    assert 20 <= peak[0] < 24 and 5 <= peak[1] < 9 and heat[:10, 20:].max() == 0
    ax = overlay(image, heat, title="cam")
    assert len(ax.images) == 2
    import matplotlib.pyplot as plt

    plt.close(ax.figure)


def test_end_to_end_scan_split_train_evaluate(tmp_path):
    """The issue's acceptance test: AUROC well above chance, report numbers equal scikit-learn's."""
    labels = make_study_folder(tmp_path / "study", n_patients=60, size=64, seed=0)
    index = load_study(tmp_path / "study", tmp_path / "study" / "labels.csv", on="patient", progress=False)
    index = split(index, fractions=(0.6, 0.2, 0.2), seed=0)
    assert leakage_report(index).attrs["leaking"] == 0
    train_rows, val, test = (index[index["split"] == s] for s in ("train", "validation", "test"))
    task = ImageClassifier("resnet18", preprocessor={"image_size": (64, 64)})
    result = train(task, train_rows, val, run_dir=tmp_path / "run", epochs=12, batch_size=16, verbose=0, seed=0)
    assert result.model is task and (tmp_path / "run" / "checkpoints" / "best.keras").exists()

    report = evaluate(task, test, validation=val, n_bootstrap=200)
    m, p = report.metrics, report.predictions
    assert m["auroc"] > 0.8, m
    y, s = p["label"].to_numpy(), p["score"].to_numpy()
    assert m["auroc"] == roc_auc_score(y, s) and m["brier"] == brier_score_loss(y, s)
    tn, fp, fn, tp = confusion_matrix(y, s >= m["threshold"]).ravel()
    # Every operating-point number against scikit-learn's confusion matrix (NaN only where undefined).
    np.testing.assert_equal([m["sensitivity"], m["specificity"], m["ppv"], m["npv"]],
                            [tp / (tp + fn), tn / (tn + fp), tp / (tp + fp) if tp + fp else np.nan,
                             tn / (tn + fn) if tn + fn else np.nan])
    assert m["auroc_ci"][0] <= m["auroc"] <= m["auroc_ci"][1] and m["threshold_source"].startswith("90%")
    from domains.medical.data import make_dataset

    direct = keras.Model.predict(task, make_dataset(test, label=None, image_size=(64, 64)), verbose=0)
    np.testing.assert_allclose(s, direct[:, 0], atol=1e-6)
    # The same run directory with the same task, files and settings returns the finished run untrained.
    again = train(ImageClassifier("resnet18", preprocessor={"image_size": (64, 64)}), train_rows, val,
                  run_dir=tmp_path / "run", epochs=12, batch_size=16, verbose=0, seed=0)
    np.testing.assert_allclose(again.model.predict(test.head(4)), task.predict(test.head(4)), atol=1e-6)

    patient = evaluate(task, test, validation=val, level="patient", how="max", temperature_scaling=True,
                       n_bootstrap=200)
    by_patient = pd.DataFrame({"patient": test["patient"].to_numpy(), "score": s}).groupby("patient")["score"].max()
    calibrated = apply_temperature(by_patient.to_numpy(), patient.metrics["temperature"])
    np.testing.assert_allclose(np.sort(patient.predictions["score"]), np.sort(calibrated), atol=1e-12)
    assert patient.metrics["n"] == test["patient"].nunique()
    subgroups = set(report.subgroups["subgroup"])
    assert subgroups == {"manufacturer", "sex", "age_band"}
    women = p[p["sex"] == "F"]
    row = report.subgroups[(report.subgroups["subgroup"] == "sex") & (report.subgroups["value"] == "F")].iloc[0]
    assert row["n"] == len(women) and row["positives"] == women["label"].sum()

    # Identifying fields never reach the report, its files or the predictions.
    out = report.save(tmp_path / "report")
    written = out.read_text() + (tmp_path / "report" / "predictions.csv").read_text()
    assert (tmp_path / "report" / "reliability.png").stat().st_size > 1000
    for value in list(labels["patient_id"]) + list(labels["patient_name"]):
        assert value not in written
    from domains.medical.pseudonyms import project_key

    assert project_key().hex() not in written  # the pseudonym key stays outside every output
