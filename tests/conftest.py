import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# OpenMP threads (scikit-learn's HistGradientBoosting, LightGBM, XGBoost) spin while they wait; with two
# test workers on two cores they spin against each other: measured 25 s instead of 1.7 s for one
# HistGradientBoosting fit, 55 s instead of 1.1 s for LightGBM. Read when the OpenMP runtime loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# Pseudonym keys of the test run live in a temporary folder, never in the user's ~/.restoolkit.
if "RESTOOLKIT_PSEUDONYM_KEY_FILE" not in os.environ:
    import tempfile

    os.environ["RESTOOLKIT_PSEUDONYM_KEY_FILE"] = os.path.join(tempfile.mkdtemp(prefix="restoolkit-key-"), "key")

from pathlib import Path  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _float32_policy_and_seed():
    """Every test starts in float32 with fixed seeds, whatever the previous one left behind."""
    keras.config.set_dtype_policy("float32")
    keras.utils.set_random_seed(0)
    yield
    keras.config.set_dtype_policy("float32")


@pytest.fixture(autouse=True)
def _private_temporary_folder(tmp_path_factory, monkeypatch):
    """Whatever a test (or the code under it, or a notebook kernel it starts) writes with ``tempfile`` goes
    to a folder of its own that is removed afterwards: a full run must not fill the disk with run
    directories and saved models (CI machines have little space)."""
    import shutil
    import tempfile

    folder = tmp_path_factory.mktemp("tempfile")
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    yield
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def randomize_norm_statistics(model, seed=0):
    """Gives every batch norm non-trivial statistics so weight-transfer tests can fail."""
    r = np.random.default_rng(seed)
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization) and layer.built:
            shape = layer.get_weights()[0].shape
            layer.set_weights([
                r.uniform(0.5, 1.5, shape).astype("float32"),
                r.normal(0, 0.1, shape).astype("float32"),
                r.normal(0, 0.1, shape).astype("float32"),
                r.uniform(0.5, 1.5, shape).astype("float32"),
            ])


# Tests that take a minute or more on 2 cores (measured with --durations), started first: with
# `pytest -n 2` a long test that starts last keeps one worker busy while the other waits (a 5-minute
# tail was measured). Longest first is the classic fix for this scheduling problem. Matching is by
# substring of the test id, so a renamed test only loses its place in the queue.
LONG_FIRST = [
    "test_every_entry_builds_predicts_and_round_trips[cifar_resnet1202]",
    "test_the_detector_memorises_the_three_real_kitti_frames",
    "test_end_to_end_scan_split_train_evaluate",
    "test_training_beats_the_untrained_detector",
    "test_demo_writes_a_report_with_every_domain",
    "test_notebook_runs[05_residual_language_model]",
    "test_mixed_float16_training_reduces_the_loss",
    "test_readme_example_runs[restoolkit_8]",
    "test_pretrain_builds_presets_that_the_tasks_load",
    "test_notebook_runs",
    "test_evaluate_command_reproduces_the_trained_runs_report",
    "test_object_detector",
    "test_training_under_mirrored_strategy_on_two_devices",
    "test_a_finished_run_directory_is_never_returned_for_other_data_or_settings",
    "test_every_entry_builds_predicts_and_round_trips[resnet152",
    "test_image_classifier",
    "test_mirrored_on_two_devices_equals_one_device_with_the_same_global_batch",
    "test_sigkill_mid_epoch_then_restart_resumes_without_losing_or_repeating_epochs",
    "test_readme_example_runs",
]


def pytest_collection_modifyitems(config, items):
    def rank(item):
        return next((i for i, key in enumerate(LONG_FIRST) if key in item.nodeid), len(LONG_FIRST))

    items.sort(key=rank)  # stable: the rest keep their order
