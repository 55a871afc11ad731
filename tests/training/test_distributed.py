"""Distribution and fault tolerance, each in fresh processes (TensorFlow's runtime is set up once)."""

import csv
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from tests.conftest import REPO

WORKER = Path(__file__).with_name("worker.py")
ENV = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _run(*args, timeout=240):
    return subprocess.run([sys.executable, str(WORKER), *map(str, args)], env=ENV, capture_output=True, text=True,
                          timeout=timeout)


def test_mirrored_on_two_devices_equals_one_device_with_the_same_global_batch(tmp_path):
    single = _run("single", tmp_path / "single.npy", tmp_path / "run_single")
    mirrored = _run("mirrored", tmp_path / "mirrored.npy", tmp_path / "run_mirrored")
    assert single.returncode == 0, single.stderr[-3000:]
    assert mirrored.returncode == 0, mirrored.stderr[-3000:]
    assert "replicas=2 global_batch=32" in mirrored.stdout
    a, b = np.load(tmp_path / "single.npy"), np.load(tmp_path / "mirrored.npy")
    initial_scale = np.abs(a).mean()
    np.testing.assert_allclose(b, a, atol=2e-4 * max(1.0, initial_scale), rtol=1e-3)


def _two_workers(tmp_path, *extra):
    ports = ",".join(map(str, _free_ports(2)))
    procs = [
        subprocess.Popen([sys.executable, str(WORKER), "multiworker", str(i), ports, str(tmp_path / f"w{i}.npy"), *extra],
                         env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(2)
    ]
    outputs = []
    for p in procs:
        try:
            out, err = p.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        outputs.append((p.returncode, out, err))
    return outputs


def test_two_workers_train_with_plain_model_fit_and_agree(tmp_path):
    outputs = _two_workers(tmp_path)
    for rc, out, err in outputs:
        assert rc == 0, err[-3000:]
        assert "finished" in out
    np.testing.assert_array_equal(np.load(tmp_path / "w0.npy"), np.load(tmp_path / "w1.npy"))


def test_upstream_multiworker_bug_is_still_there(tmp_path):
    """When this fails, Keras fixed keras-team/keras#20585: delete restoolkit/training/keras_fixes.py."""
    outputs = _two_workers(tmp_path, "--no-fix")
    failed = [rc != 0 for rc, _, _ in outputs]
    assert any(failed), (
        "Unpatched Keras now trains with MultiWorkerMirroredStrategy: upstream fixed keras-team/keras#20585 / "
        "tensorflow/tensorflow#72388. Remove restoolkit.training.keras_fixes and its call in strategy()."
    )
    assert any("PerReplica" in err or "axis" in err for _, _, err in outputs)


def _history(run_dir):
    path = run_dir / "history.csv"
    if not path.exists():
        return []
    with path.open() as f:
        return list(csv.DictReader(f))


def test_sigkill_mid_epoch_then_restart_resumes_without_losing_or_repeating_epochs(tmp_path):
    run_dir, epochs = tmp_path / "run", 4
    proc = subprocess.Popen([sys.executable, str(WORKER), "resumable", str(run_dir), str(epochs)], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 180
    while len(_history(run_dir)) < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert proc.poll() is None, "the run ended before it could be killed: " + proc.stderr.read()[-2000:]
    time.sleep(0.6)  # into the third epoch (8 steps of 0.15 s each)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(_history(run_dir))
    assert 2 <= done_before < epochs

    again = _run("resumable", run_dir, epochs)
    assert again.returncode == 0, again.stderr[-3000:]
    rows = _history(run_dir)
    assert [int(r["epoch"]) for r in rows] == list(range(1, epochs + 1))
    runs = [int(r["run"]) for r in rows]
    assert runs == [1] * done_before + [2] * (epochs - done_before)
    assert (run_dir / "checkpoints" / "last.keras").exists()
