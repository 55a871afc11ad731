"""Presets: a folder that rebuilds a pretrained model and says where it came from.

    <preset>/config.json         the Keras config of the model (+ the registry name and arguments)
    <preset>/model.weights.h5    the weights
    <preset>/preprocessing.json  what inputs the weights expect (size, channels, range, mean / std)
    <preset>/metadata.json       training data, metrics, license, and the SHA-256 of every file above

Loading checks every SHA-256 *before* anything is deserialised, deserialises with ``safe_mode=True``,
and refuses a file that resolves outside the preset folder (a symlink, ``../``).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import keras

FORMAT = "restoolkit-preset/1"
FILES = ("config.json", "model.weights.h5", "preprocessing.json")


from restoolkit.errors import PresetError  # noqa: E402  (re-exported)


def home() -> Path:
    """``$RESTOOLKIT_HOME`` (default ``~/.restoolkit``); user presets live in ``home()/presets``."""
    return Path(os.environ.get("RESTOOLKIT_HOME", Path.home() / ".restoolkit")).expanduser()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_preset(model: keras.Model, path, *, metadata: dict, preprocessing: dict | None = None,
                arch: dict | None = None) -> Path:
    """Writes ``model`` as a preset folder.

    Args:
        model: any Keras model built from serialisable layers.
        path: the folder (created; existing preset files are replaced).
        metadata: free-form provenance: ``training_data``, ``metrics``, ``license``, ``description``…
        preprocessing: e.g. ``{"input_size": [224, 224], "channels": 3, "range": [0, 255],
            "mean": [...], "std": [...], "channel_order": "RGB"}``.
        arch: ``{"name": <registry name>, **kwargs}`` so that :func:`rebuild` can make the same
            architecture at another input size or head.

    Returns:
        The folder.
    """
    folder = Path(path).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    config = {"format": FORMAT, "model": keras.saving.serialize_keras_object(model), "arch": arch,
              "weights": "model.weights.h5", "keras_version": keras.__version__}
    (folder / "config.json").write_text(json.dumps(config, indent=1, default=str))
    model.save_weights(folder / "model.weights.h5")
    (folder / "preprocessing.json").write_text(json.dumps(preprocessing or {}, indent=2))
    meta = {**metadata, "format": FORMAT, "files": {name: _sha256(folder / name) for name in FILES}}
    (folder / "metadata.json").write_text(json.dumps(meta, indent=2, default=str))
    return folder


def verify(path) -> dict:
    """Checks a preset folder without deserialising anything; returns its metadata.

    Raises:
        PresetError: naming the file that is missing, outside the folder, or whose SHA-256 differs.
    """
    folder = Path(path).expanduser().resolve()
    meta_file = folder / "metadata.json"
    if not meta_file.is_file():
        raise PresetError(f"{folder}: not a preset (no metadata.json)")
    meta = json.loads(meta_file.read_text())
    listed = meta.get("files") or {}
    for name in FILES:
        if name not in listed:
            raise PresetError(f"{folder}: metadata.json lists no checksum for {name}")
    for name, digest in listed.items():
        file = (folder / name).resolve()
        if file.parent != folder or Path(name).name != name:
            raise PresetError(f"{folder}: {name!r} resolves outside the preset folder ({file}); refused")
        if not file.is_file():
            raise PresetError(f"{folder}: {name} is missing")
        actual = _sha256(file)
        if actual != digest:
            raise PresetError(f"{folder}: {name} has SHA-256 {actual[:12]}…, metadata.json says {digest[:12]}…; "
                              "the file was changed or corrupted")
    config = json.loads((folder / "config.json").read_text())
    if config.get("weights") not in listed:
        raise PresetError(f"{folder}: config.json names weights {config.get('weights')!r}, which metadata.json "
                          "does not vouch for")
    return meta


def read_preset_config(path) -> dict:
    """The verified ``config.json`` of a preset folder."""
    folder = Path(path).expanduser().resolve()
    verify(folder)
    return json.loads((folder / "config.json").read_text())


def preset_folder(preset) -> Path | None:
    """The folder of ``preset``: a path (``~`` expanded) or the name of an installed preset; ``None`` for a
    name that is neither (a built-in preset whose weights are not built)."""
    path = Path(str(preset)).expanduser()
    if path.is_dir():
        return path.resolve()
    installed = home() / "presets" / str(preset)
    if "/" not in str(preset) and (installed / "metadata.json").is_file():
        return installed
    if any(sep in str(preset) for sep in ("/", "~")) or path.suffix:
        raise PresetError(f"preset folder not found: {path}")
    return None


def load_preset(path) -> keras.Model:
    """Verifies, then rebuilds the model (``safe_mode=True``) and loads its weights."""
    folder = Path(path).expanduser().resolve()
    config = read_preset_config(folder)
    model = keras.saving.deserialize_keras_object(config["model"], safe_mode=True)
    try:
        model.load_weights(folder / config["weights"])
    except ValueError as e:
        raise PresetError(f"{folder / config['weights']}: the weights do not fit the model in config.json ({e})") from e
    model.preset = {"path": str(folder), "arch": config.get("arch"),
                    "preprocessing": json.loads((folder / "preprocessing.json").read_text()),
                    "metadata": json.loads((folder / "metadata.json").read_text())}
    return model


def rebuild(source: keras.Model, *, input_shape, num_classes=None) -> keras.Model:
    """The registry architecture of a preset model at another input shape and/or head."""
    from restoolkit.models import create

    arch = dict(getattr(source, "preset", {}).get("arch") or {})
    if not arch.get("name"):
        raise ValueError("this preset has no registry architecture ('arch'): it can only be loaded as saved")
    name = arch.pop("name")
    arch["input_shape"] = tuple(input_shape)
    if num_classes is not None:
        arch.update(num_classes=num_classes, include_top=True)
    return create(name, **arch)


def list_presets() -> list[dict]:
    """Presets in ``$RESTOOLKIT_HOME/presets`` and the recipes of the installed domains (built or not).

    Returns:
        One dict per preset: ``name``, ``path`` (``None`` when not built), ``built``, ``description``,
        ``metrics``. Build the recipes with ``make pretrain`` (``python -m restoolkit pretrain``).
    """
    from restoolkit.tasks.apps import installed_recipes

    root = home() / "presets"
    found = {}
    if root.is_dir():
        for folder in sorted(p for p in root.iterdir() if (p / "metadata.json").is_file()):
            meta = json.loads((folder / "metadata.json").read_text())
            found[folder.name] = {"name": folder.name, "path": str(folder), "built": True,
                                  "description": meta.get("description", ""), "metrics": meta.get("metrics", {})}
    for name, (_, description) in installed_recipes().items():
        found.setdefault(name, {"name": name, "path": None, "built": False, "description": description, "metrics": {}})
    return list(found.values())


def preset_path(name: str) -> Path:
    """The folder of an installed preset by name (raises with the command that builds it)."""
    from restoolkit.tasks.apps import installed_recipes

    folder = home() / "presets" / name
    if not (folder / "metadata.json").is_file():
        hint = " - build it with `make pretrain`" if name in installed_recipes() else ""
        raise PresetError(f"preset {name!r} is not in {folder.parent}{hint}")
    return folder
