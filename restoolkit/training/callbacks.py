"""Callbacks that make a run directory trustworthy: atomic checkpoints, a resumable history, and a
clear stop on a non-finite loss."""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path

import keras

from restoolkit.errors import NonFiniteLossError  # noqa: E402  (re-exported)


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stops training at the first non-finite loss, naming the epoch and step (both 1-based)."""

    def __init__(self):
        super().__init__()
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        value = float(keras.ops.convert_to_numpy(loss))
        if not math.isfinite(value):
            self.model.stop_training = True
            raise NonFiniteLossError(
                f"training stopped: the loss became {value} at epoch {self.epoch + 1}, step {batch + 1}. "
                "Look for NaN or infinite values in that step's inputs or labels; otherwise lower the "
                "learning rate or set clipnorm."
            )


def atomic_write_text(path: Path, text: str) -> None:
    """Writes ``text`` to ``path`` through a temporary file and a rename."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class AtomicCheckpoint(keras.callbacks.Callback):
    """Writes ``last.keras`` every epoch and ``best.keras`` on improvement, each by rename.

    A crash mid-write leaves the previous file intact. The best value survives restarts in
    ``best.json`` so a resumed run does not overwrite a better checkpoint.
    """

    def __init__(self, directory, monitor: str = "val_loss", mode: str = "min"):
        super().__init__()
        self.directory = Path(directory)
        self.monitor = monitor
        self.mode = mode
        self.directory.mkdir(parents=True, exist_ok=True)
        self._best_file = self.directory / "best.json"
        self.best = json.loads(self._best_file.read_text())["value"] if self._best_file.exists() else None

    def _save(self, name: str) -> None:
        tmp = self.directory / f".{name}.tmp.keras"
        self.model.save(tmp)
        os.replace(tmp, self.directory / f"{name}.keras")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self._save("last")
        value = logs.get(self.monitor)
        if value is None:
            return
        value = float(value)
        better = self.best is None or (value < self.best if self.mode == "min" else value > self.best)
        if better and math.isfinite(value):
            self.best = value
            self._save("best")
            atomic_write_text(self._best_file, json.dumps({"monitor": self.monitor, "value": value, "epoch": epoch + 1}))


class ResumableHistory(keras.callbacks.Callback):
    """``history.csv`` with one row per completed epoch, rewritten atomically.

    Must run after ``BackupAndRestore``: on a resumed run it drops rows from epochs the backup does not
    cover (finished but not backed up before a crash), so no epoch appears twice. Each row records which
    attempt (``run``) trained it.
    """

    def __init__(self, path):
        super().__init__()
        self.path = Path(path)
        self.rows: list[dict] = []
        self.attempt = 1

    def on_train_begin(self, logs=None):
        initial = getattr(self.model, "_initial_epoch", None) or 0
        if self.path.exists():
            with self.path.open() as f:
                previous = list(csv.DictReader(f))
            self.rows = [r for r in previous if int(r["epoch"]) <= initial]
            self.attempt = max((int(r["run"]) for r in previous), default=0) + 1

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch + 1, "run": self.attempt}
        row.update({k: float(keras.ops.convert_to_numpy(v)) for k, v in (logs or {}).items()})
        self.rows.append(row)
        fields = list(dict.fromkeys(k for r in self.rows for k in r))
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(self.rows)
        os.replace(tmp, self.path)
