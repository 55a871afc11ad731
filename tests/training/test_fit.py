import csv
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from restoolkit.datasets import oriented_gratings
from restoolkit.training import NonFiniteLossError, fit, resolve_kind
from restoolkit.training.fit import _as_dataset

SMALL = {"input_shape": (16, 16, 3), "num_classes": 4}


@pytest.fixture(scope="module")
def data():
    x, y = oriented_gratings(160, size=16, seed=2)
    return (x[:128], y[:128]), (x[128:], y[128:])


def test_run_directory_holds_everything_to_rebuild_and_resume(tmp_path, data):
    train, val = data
    result = fit("cifar_resnet20", train, val, epochs=2, run_dir=tmp_path, batch_size=32, model_kwargs=SMALL,
                 warmup_epochs=1, label_smoothing=0.1, clipnorm=1.0, verbose=0)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_name"] == "cifar_resnet20" and config["model_kwargs"]["num_classes"] == 4
    assert config["fit"]["global_batch_size"] == 32 and config["fit"]["label_smoothing"] == 0.1
    rebuilt = keras.saving.deserialize_keras_object(config["model"])
    assert rebuilt.count_params() == result.model.count_params()
    with (tmp_path / "history.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2] and "val_loss" in rows[0]
    assert result.history["epoch"] == [1.0, 2.0]
    for name in ("best.keras", "last.keras", "best.json"):
        assert (tmp_path / "checkpoints" / name).exists()
    best = json.loads((tmp_path / "checkpoints" / "best.json").read_text())
    assert best["value"] == pytest.approx(min(float(r["val_loss"]) for r in rows))
    last = keras.saving.load_model(tmp_path / "checkpoints" / "last.keras", safe_mode=True)
    np.testing.assert_allclose(last.predict(val[0], verbose=0), result.model.predict(val[0], verbose=0), atol=1e-5)
    assert any((tmp_path / "tensorboard").rglob("events.out.tfevents*"))
    assert (tmp_path / "backup" / "training_metadata.json").exists()
    # Called again with the same arguments, a finished run trains nothing more.
    again = fit("cifar_resnet20", train, val, epochs=2, run_dir=tmp_path, batch_size=32, model_kwargs=SMALL,
                warmup_epochs=1, label_smoothing=0.1, clipnorm=1.0, verbose=0)
    assert again.history["run"] == [1.0, 1.0]


def test_nan_in_the_data_stops_training_naming_epoch_and_step(tmp_path, data):
    x, y = (a.copy() for a in data[0])
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
    poisoned = ds.enumerate().map(lambda i, b: (tf.where(i == 2, b[0] * np.nan, b[0]), b[1]))
    with pytest.raises(NonFiniteLossError, match=r"epoch 1, step 3"):
        fit("cifar_resnet20", poisoned, epochs=2, run_dir=tmp_path, model_kwargs=SMALL, verbose=0)


def test_mixed_float16_training_reduces_the_loss(tmp_path, data):
    result = fit("cifar_resnet20", data[0], epochs=4, run_dir=tmp_path, batch_size=32, model_kwargs=SMALL,
                 mixed_precision="mixed_float16", learning_rate=3e-3, verbose=0)
    losses = result.history["loss"]
    assert losses[-1] < 0.8 * losses[0]
    assert isinstance(result.model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert result.model.get_layer("stage1_block1").compute_dtype == "float16"
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored


def test_adamw_skips_weight_decay_on_one_dimensional_weights(tmp_path, data):
    result = fit("cifar_resnet20", data[0], epochs=1, run_dir=tmp_path, model_kwargs=SMALL, verbose=0)
    opt = result.model.optimizer
    decayed = {v.path for v in result.model.trainable_variables if opt._use_weight_decay(v)}
    assert decayed and all(len(v.shape) > 1 for v in result.model.trainable_variables if v.path in decayed)
    assert not any(opt._use_weight_decay(v) for v in result.model.trainable_variables if len(v.shape) == 1)


def test_class_weights_must_cover_every_class_present(tmp_path, data):
    from restoolkit.errors import ConfigError

    with pytest.raises(ConfigError, match=r"class_weight has no weight for class\(es\) \[2, 3\]"):
        fit("cifar_resnet20", data[0], epochs=1, run_dir=tmp_path, model_kwargs=SMALL, class_weight={0: 1.0, 1: 4.0})


def test_class_weights_travel_as_sample_weights_in_tf_data():
    x = np.zeros((4, 2), "float32")
    y = np.array([0, 1, 1, 0])
    ds, steps = _as_dataset((x, y), global_batch=4, shuffle=False, seed=0, class_weight={0: 1.0, 1: 5.0},
                            one_hot_classes=None)
    (xb, yb, wb), = list(ds)
    np.testing.assert_array_equal(wb.numpy(), [1, 5, 5, 1])
    assert steps == 1


def test_per_epoch_shuffle_is_a_permutation_that_changes_every_epoch():
    x = np.arange(10, dtype="float32")[:, None]
    ds, steps = _as_dataset((x, x[:, 0]), global_batch=4, shuffle=True, seed=0, class_weight=None,
                            one_hot_classes=None)
    batches = [b[1].numpy() for b in ds.take(2 * steps)]
    first, second = np.concatenate(batches[:steps]), np.concatenate(batches[steps:])
    assert sorted(first) == sorted(second) == list(range(10))
    assert not np.array_equal(first, second)


def test_auto_strategy_choice():
    assert resolve_kind("auto", environ={}, num_gpus=0) == "default"
    assert resolve_kind("auto", environ={}, num_gpus=2) == "mirrored"
    tf_config = json.dumps({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 0}})
    assert resolve_kind("auto", environ={"TF_CONFIG": tf_config}, num_gpus=0) == "multiworker"
    with pytest.raises(ValueError, match="strategy kind"):
        resolve_kind("tpu")


def test_bad_arguments_are_refused(tmp_path, data):
    with pytest.raises(ValueError, match="mixed_precision"):
        fit("cifar_resnet20", data[0], epochs=1, run_dir=tmp_path, mixed_precision="fp8")
    with pytest.raises(ValueError, match="same length"):
        fit("cifar_resnet20", (data[0][0], data[0][1][:5]), epochs=1, run_dir=tmp_path, model_kwargs=SMALL)


def test_only_the_chief_writes_the_run_directory():
    from types import SimpleNamespace

    from restoolkit.training import is_chief

    def strat(task_type, task_id, chief=False):
        spec = {"worker": ["a:1", "b:2"], **({"chief": ["c:3"]} if chief else {})}
        resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
            tf.train.ClusterSpec(spec), task_type=task_type, task_id=task_id)
        return SimpleNamespace(cluster_resolver=resolver)

    assert is_chief(strat("worker", 0)) and not is_chief(strat("worker", 1))
    assert is_chief(strat("chief", 0, chief=True)) and not is_chief(strat("worker", 0, chief=True))
    assert is_chief(tf.distribute.get_strategy())


def test_early_stopping_when_asked(tmp_path, data):
    kw = {**SMALL, "norm_layer": "none"}
    # Learning rate 0: the validation loss never improves, so patience 1 stops after epoch 2 of 6.
    result = fit("cifar_resnet20", data[0], data[1], epochs=6, run_dir=tmp_path, model_kwargs=kw, learning_rate=0.0,
                 early_stopping_patience=1, verbose=0)
    assert result.history["epoch"] == [1.0, 2.0]


def test_restore_best_returns_the_best_validation_epoch(tmp_path):
    """Validation labels opposite to the training labels: the better the model learns, the worse it
    validates. With restore_best the returned weights are the best epoch's (their validation loss,
    recomputed with scikit-learn on the returned model's predictions, is the history's minimum), not the
    last epoch's."""
    from sklearn.metrics import log_loss

    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")

    def make():
        inputs = keras.Input((4,))
        return keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))

    result = fit(make, (x, y), (x, 1 - y), epochs=5, run_dir=tmp_path, batch_size=32, learning_rate=0.05,
                 weight_decay=0.0, schedule="constant", restore_best=True, verbose=0)
    losses = result.history["val_loss"]
    assert np.argmin(losses) < len(losses) - 1 and losses[-1] > min(losses) + 0.05  # the last epoch is worse
    p = result.model.predict(x, verbose=0)
    assert log_loss(1 - y, p) == pytest.approx(min(losses), rel=1e-4)
    assert json.loads((tmp_path / "config.json").read_text())["fit"]["restore_best"] is True


class _CountBatches(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1


def _weights(model):
    return [w.numpy() for w in model.weights]


def test_a_finished_run_directory_is_never_returned_for_other_data_or_settings(tmp_path, data):
    from restoolkit.errors import RestoolkitError, ResumeError

    train, val = data
    kw = {"epochs": 1, "run_dir": tmp_path, "batch_size": 64, "model_kwargs": SMALL, "verbose": 0}
    first = fit("cifar_resnet20", train, **kw)
    assert json.loads((tmp_path / "fingerprint.json").read_text())["finished"] is True

    # The same run again: the finished result, without a single training step.
    counter = _CountBatches()
    same = fit("cifar_resnet20", train, callbacks=[counter], **kw)
    assert counter.batches == 0
    for a, b in zip(_weights(first.model), _weights(same.model), strict=True):
        np.testing.assert_array_equal(a, b)

    # Other data and another seed (the measured defect): refused, saying what differs.
    other = (train[0][::-1].copy(), train[1][::-1].copy())
    with pytest.raises(ResumeError, match=r"fit argument seed: 0 then, 1 now.*the train data") as caught:
        fit("cifar_resnet20", other, seed=1, **kw)
    assert isinstance(caught.value, RestoolkitError)
    with pytest.raises(ResumeError, match="the train data"):
        fit("cifar_resnet20", other, **kw)
    with pytest.raises(ResumeError, match="the validation data"):
        fit("cifar_resnet20", train, val, **kw)
    with pytest.raises(ResumeError, match="architecture"):
        fit("cifar_resnet32", train, **kw)
    # The same architecture starting from other weights (a preset, a pretrained file) is another run too.
    from restoolkit.models import create

    keras.utils.set_random_seed(5)
    start = create("cifar_resnet20", **SMALL)
    with pytest.raises(ResumeError, match="initial weights"):
        fit(start, train, **{k: v for k, v in kw.items() if k != "model_kwargs"})
    # overwrite=True replaces the run: trained afresh on the new data.
    counter = _CountBatches()
    fresh = fit("cifar_resnet20", other, overwrite=True, callbacks=[counter], **kw)
    assert counter.batches == 2
    assert not all(np.array_equal(a, b) for a, b in zip(_weights(first.model), _weights(fresh.model), strict=True))
    assert fresh.history["epoch"] == [1.0]


def test_a_run_directory_without_a_fingerprint_is_refused(tmp_path, data):
    from restoolkit.errors import ResumeError

    (tmp_path / "backup").mkdir()
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ResumeError, match="without a fingerprint"):
        fit("cifar_resnet20", data[0], epochs=1, run_dir=tmp_path, model_kwargs=SMALL, verbose=0)
