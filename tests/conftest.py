import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
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
