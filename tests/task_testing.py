"""The shared test base every task and model goes through (keras-hub's ``TestCase`` idea):
``run_task_test``, ``run_model_saving_test``, ``run_preset_test``."""

from __future__ import annotations

import inspect
import tempfile
from pathlib import Path

import keras
import numpy as np
import pytest

from restoolkit.errors import PresetError, WeightsNotFoundError


def _predict(model, x):
    """Outputs as one array (a task's ``predict_step`` may decode into a dict: all its values, in key order).
    Plain models are called directly (no ``predict`` function to trace: the registry has 1202-layer nets)."""
    from restoolkit.tasks import Task

    if not isinstance(model, Task):
        return keras.ops.convert_to_numpy(model(x, training=False))
    out = keras.Model.predict(model, x, verbose=0)
    if isinstance(out, dict):
        return np.concatenate([np.asarray(out[k], "float64").reshape(len(x), -1) for k in sorted(out)], axis=1)
    return keras.ops.convert_to_numpy(out)


def _without_names(config):
    if isinstance(config, dict):
        return {k: _without_names(v) for k, v in config.items() if k != "name"}
    if isinstance(config, list):
        return [_without_names(v) for v in config]
    return config


def run_model_saving_test(model, x, *, atol: float = 1e-6):
    """``.keras`` with ``safe_mode=True`` reloads the same class with identical outputs; a task rebuilt by
    ``from_config(get_config())`` has the same config."""
    with tempfile.TemporaryDirectory() as folder:  # large entries are hundreds of MB: never left behind
        model.save(Path(folder) / "model.keras")
        again = keras.saving.load_model(Path(folder) / "model.keras", safe_mode=True)
    assert type(again) is type(model)
    np.testing.assert_allclose(_predict(again, x), _predict(model, x), atol=atol)
    from restoolkit.tasks import Task

    if isinstance(model, Task):  # a task's config is its constructor's arguments: rebuilt, it is the same
        clone = type(model).from_config(model.get_config())
        assert _without_names(clone.get_config()) == _without_names(model.get_config())
    return again


def run_task_test(cls, init_kwargs: dict, data, x, *, expected_output_shape):
    """A task builds, its config holds every constructor argument, ``compile()`` with the task's defaults
    trains one epoch to a finite loss that changes the weights, and it saves and reloads identically."""
    task = cls(**init_kwargs)
    assert tuple(task.output_shape) == tuple(expected_output_shape)
    params = [p for p in inspect.signature(cls.__init__).parameters.values()
              if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    missing = [p.name for p in params if p.name not in task.get_config()]
    assert not missing, f"{cls.__name__}.get_config() drops constructor arguments {missing}"
    before = [w.numpy().copy() for w in task.trainable_weights]
    task.compile()
    history = task.fit(data, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert any(not np.array_equal(a, w.numpy()) for a, w in zip(before, task.trainable_weights, strict=True))
    run_model_saving_test(task, x)
    return task


def run_preset_test(cls, preset, x, *, atol: float = 1e-6):
    """A preset loads by name or folder; ``save_to_preset`` → ``from_preset`` gives identical outputs;
    ``load_weights=False`` gives the same architecture with fresh weights; unknown names are refused."""
    task = cls.from_preset(preset)
    with tempfile.TemporaryDirectory() as scratch:
        folder = task.save_to_preset(Path(scratch) / "preset")
        again = cls.from_preset(folder)
        fresh = cls.from_preset(folder, load_weights=False)
    assert type(again) is cls
    np.testing.assert_allclose(_predict(again, x), _predict(task, x), atol=atol)
    assert [w.shape for w in fresh.weights] == [w.shape for w in task.weights]
    assert any(not np.array_equal(a.numpy(), b.numpy()) for a, b in zip(fresh.weights, task.weights, strict=True))
    with pytest.raises(PresetError, match="unknown preset"):
        cls.from_preset("no_such_preset")
    return task


def check_unbuilt_preset(cls, name, **overrides):
    """A built-in preset whose weights are not built: refused with the command that builds them, and
    available as an architecture with ``load_weights=False``."""
    with pytest.raises(WeightsNotFoundError, match="make pretrain"):
        cls.from_preset(name)
    return cls.from_preset(name, load_weights=False, **overrides)
