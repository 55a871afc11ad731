"""Every Python example in README.md runs, as written, except for the sizes listed here.

Each block is cut out of the README at test time and executed in a fresh folder. ``SMALLER`` lists, per
block, the only textual changes: smaller data, fewer epochs and steps (the README shows realistic sizes;
the test suite must stay fast). ``PRELUDE`` defines what a block assumes the reader already has (arrays
``x``/``y``, a model, a weights file in a cache). A block that no longer runs fails here, naming its line.
"""

import re

import numpy as np
import pytest

from tests.conftest import REPO

README = (REPO / "README.md").read_text()
BLOCKS = [(README[: m.start()].count("\n") + 2, m.group(1)) for m in re.finditer(r"```python\n(.*?)```", README, re.S)]


def _block(start: str) -> tuple[int, str]:
    found = [(line, code) for line, code in BLOCKS if code.startswith(start)]
    assert len(found) == 1, f"README has {len(found)} python blocks starting with {start!r}"
    return found[0]


SMALLER = {
    "import restoolkit as rt": [],
    "from restoolkit.layers import BottleneckBlock": [],
    "from restoolkit.training import balanced_class_weight": [("epochs=30", "epochs=1")],
    "from restoolkit import diagnostics as dx": [("depths=(8, 20, 56)", "depths=(8,), epochs=1, n_train=64, n_val=32")],
    "from domains.medical import": [("n_patients=60", "n_patients=14, size=48"), ("epochs=8", "epochs=1"),
                                    ('"image_size": (64, 64)', '"image_size": (48, 48)')],
    "from domains.driving import": [('make_scenes("data/scenes", 200, image_size=(384, 1248))',
                                     'make_scenes("data/scenes", 10, image_size=(64, 192))'),
                                    ('"input_size": (384, 1248)', '"input_size": (64, 192)'), ("epochs=12", "epochs=1")],
    "from domains.fraud import": [("simulate_transactions(1000, 2000, 90)", "simulate_transactions(120, 240, 60)"),
                                  ("train_days=49, delay_days=7, test_days=28", "train_days=35, delay_days=7, test_days=14"),
                                  ("epochs=8", "epochs=1"), ("compare(df, seeds=range(3))", "compare(df, train_days=35, test_days=14, epochs=1, models=(\"resmlp\", \"logistic_regression\"))"),
                                  ('{"tx_amount": 42.0, ..., "merchant_category": "fuel"}',
                                   '{**{c: 1.0 for c in SIMULATED_SCHEMA.numeric}, "tx_amount": 42.0, '
                                   '"merchant_category": "fuel"}')],
    "from restoolkit import load_backbone": [],
    "from restoolkit.language import": [("depths=(2, 4), residual_dropouts=(0.0, 0.1, 0.3)",
                                         "depths=(2,), residual_dropouts=(0.0,), steps=2, progress=False"),
                                        ("depth=4, steps=600", "depth=2, steps=2"), ('"ROMEO:", 200', '"ROMEO:", 20')],
}

PRELUDE = {
    "from restoolkit.training import balanced_class_weight": """
from restoolkit.datasets import oriented_gratings
x, y = oriented_gratings(96, size=32)
x_train, y_train, x_val, y_val = x[:64], y[:64], x[64:], y[64:]
""",
    "from restoolkit import diagnostics as dx": """
import restoolkit as rt
from restoolkit.datasets import oriented_gratings
x, y = oriented_gratings(32, size=32)
model = rt.create("cifar_resnet20", num_classes=4, input_shape=(32, 32, 3))
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
""",
}


def _setup_weights(tmp_path, monkeypatch):
    """The files block 'load_backbone' reads, where a user would have them: the Keras cache, a timm
    safetensors file, a preset in ~/.restoolkit (random weights: the test is about the calls)."""
    import h5py
    import keras
    from keras.src.legacy.saving import legacy_h5_format
    from safetensors.numpy import save_file

    from domains.medical import ImageClassifier
    from tests import torch_reference as ref

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("RESTOOLKIT_OFFLINE", "1")
    monkeypatch.delenv("RESTOOLKIT_HOME", raising=False)
    (tmp_path / "keras" / "models").mkdir(parents=True)
    source = keras.applications.ResNet50(weights=None, include_top=False, input_shape=(384, 384, 3))
    with h5py.File(tmp_path / "keras" / "models" / "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5", "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, source)
    save_file({k: np.ascontiguousarray(v) for k, v in ref.make_state(50, deep=True, num_classes=1000).items()},
              str(tmp_path / "model.safetensors"))
    state = {k: np.ascontiguousarray(v) for k, v in ref.make_state(50, num_classes=1000).items()}
    (tmp_path / "torch" / "hub" / "checkpoints").mkdir(parents=True)
    try:
        import torch

        torch.save({k: torch.from_numpy(v) for k, v in state.items()},
                   tmp_path / "torch" / "hub" / "checkpoints" / "resnet50-0676ba61.pth")
        extra = []
    except ImportError:  # without PyTorch, the .safetensors form of the same file (the README says so)
        save_file(state, str(tmp_path / "resnet50.safetensors"))
        extra = [('weights="torchvision", in_channels=1', 'weights="torchvision", weights_path="resnet50.safetensors", '
                                                          'in_channels=1')]
    ImageClassifier("resnet18", preprocessor={"image_size": (64, 64)}).save_to_preset(
        tmp_path / ".restoolkit" / "presets" / "resnet18_synthetic_radiographs")
    return extra


@pytest.mark.parametrize("start", list(SMALLER), ids=lambda s: s.split()[1].split(".")[0] + "_" + str(
    list(SMALLER).index(s)))
def test_readme_example_runs(start, tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    line, code = _block(start)
    substitutions = list(SMALLER[start])
    if start == "from restoolkit import load_backbone":
        substitutions += _setup_weights(tmp_path, monkeypatch)
    for old, new in substitutions:
        assert old in code, f"README line {line}: the example no longer contains {old!r}; update SMALLER"
        code = code.replace(old, new)
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "readme"}
    exec(compile(PRELUDE.get(start, "") + code, f"README.md:{line}", "exec"), namespace)


def test_every_python_block_is_covered():
    assert len(BLOCKS) == len(SMALLER), [code.splitlines()[0] for _, code in BLOCKS]
