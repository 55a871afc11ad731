"""The layers and models on JAX / PyTorch, where those backends are installed (skipped otherwise)."""

import importlib.util
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.parametrize("backend,module", [("jax", "jax"), ("torch", "torch")])
def test_models_run_on_other_backends(backend, module):
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed")
    env = {**os.environ, "KERAS_BACKEND": backend}
    done = subprocess.run([sys.executable, str(REPO / "tests" / "backend_check.py")], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "backend check passed" in done.stdout
