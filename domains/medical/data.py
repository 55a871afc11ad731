"""From a folder of DICOM files to an index, labels, a patient-level split and a ``tf.data`` pipeline.

The index is a pandas DataFrame with one row per image (``level="image"``) or per series
(``level="series"``, for 3-D models). It never holds identifying fields: patients appear only as
:func:`~domains.medical.dicom.patient_hash` values, and labels keyed by patient id are joined through the
same hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import deque
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from functools import lru_cache, partial
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from domains.medical import dicom

SPLITS = ("train", "validation", "test")


from restoolkit.errors import ConfigError, DataError, LabelError  # noqa: E402  (one hierarchy for every domain)


def _age_years(age) -> float | None:
    """DICOM AS values such as ``045Y``, ``006M``, ``010W``, ``003D`` in years."""
    match = re.fullmatch(r"(\d{3})([DWMY])", str(age or ""))
    if not match:
        return None
    return int(match.group(1)) / {"D": 365.25, "W": 52.18, "M": 12.0, "Y": 1.0}[match.group(2)]


def _read_header(path: str, decode: bool = False):
    try:
        ds = dicom.validate(path)
        if decode:  # every frame decoded once: the index never lists a file that only fails later
            for _ in dicom.iter_frames(path, ds=ds):
                pass
    except dicom.DicomError as e:
        return None, (path, type(e).__name__, str(e).removeprefix(f"{path}: "))
    except (MemoryError, OSError) as e:  # one file never ends the scan
        return None, (path, type(e).__name__, str(e) or type(e).__name__)
    meta = dicom.metadata(ds)
    position = ds.get("ImagePositionPatient")
    meta["path"] = path
    meta["position"] = tuple(float(v) for v in position) if position else None
    meta["age_years"] = _age_years(meta.pop("age"))
    return meta, None


def scan(folder, *, level: str = "image", workers: int = 8, progress: bool = True,
         verify: str = "header") -> pd.DataFrame:
    """Indexes every DICOM image under ``folder``; other files are skipped with the reason.

    Every file is validated eagerly (a truncated file is found now, not during training). The
    skipped files are in ``index.attrs["skipped"]`` (a DataFrame of ``path``, ``error``, ``reason``)
    and summarised on one line.

    Args:
        folder: the root folder (searched recursively).
        level: ``"image"`` (one row per file) or ``"series"`` (one row per SeriesInstanceUID with its
            files in ``paths``, for volumes).
        workers: threads reading headers.
        progress: show a progress bar.
        verify: ``"header"`` (headers and pixel data lengths checked; fast) or ``"decode"`` (every frame
            of every file decoded once, so a corrupt compressed stream is skipped now, not in training).
            Symbolic links to missing files are always listed as skipped (``BrokenLink``).

    Returns:
        A DataFrame with ``path`` (or ``paths``), ``patient`` (hashed), ``study``, ``series``, ``modality``,
        ``photometric``, ``rows``, ``columns``, ``frames``, ``pixel_spacing``, ``manufacturer``, ``sex``,
        ``age_years``, ``body_part``, ``transfer_syntax``…

    Example:
        >>> index = scan("study_folder")
        >>> index[["patient", "modality", "rows", "columns"]].head()
    """
    if level not in ("image", "series"):
        raise ConfigError(f"level must be 'image' or 'series', got {level!r}")
    root = Path(folder).expanduser().resolve()  # absolute: the index must not depend on the working directory
    if not root.is_dir():
        raise FileNotFoundError(f"not a folder: {root}")
    if verify not in ("header", "decode"):
        raise ConfigError(f"verify must be 'header' or 'decode', got {verify!r}")
    entries = sorted(p for p in root.rglob("*") if not p.name.startswith("."))
    files = [str(p) for p in entries if p.is_file()]
    rows = []
    skipped = [(str(p), "BrokenLink", f"a symbolic link to {os.readlink(p)}, which does not exist")
               for p in entries if p.is_symlink() and not p.exists()]
    read = partial(_read_header, decode=verify == "decode")
    with ThreadPoolExecutor(workers) as pool:
        for meta, problem in tqdm(pool.map(read, files), total=len(files), desc=f"scan {root.name}",
                                  unit="file", disable=not progress):
            if problem:
                skipped.append(problem)
            else:
                rows.append(meta)
    index = pd.DataFrame(rows)
    skipped = pd.DataFrame(skipped, columns=["path", "error", "reason"])
    if level == "series" and len(index):
        index = _by_series(index)
    index.attrs["skipped"] = skipped
    if len(skipped):
        kinds = ", ".join(f"{n} {k}" for k, n in skipped["error"].value_counts().items())
        print(f"scan: {len(index)} {'images' if level == 'image' else 'series'} indexed from {len(files)} files; skipped {len(skipped)} ({kinds})"
              " - see index.attrs['skipped']")
    return index


def load_study(folder, labels=None, *, on: str = "patient", key: str | None = None, level: str = "image",
               progress: bool = True) -> pd.DataFrame:
    """A DICOM folder as an index (:func:`scan`), with labels attached when a labels table is given
    (:func:`attach_labels`): the ``data.load_*`` step of the medical domain."""
    index = scan(Path(folder).expanduser(), level=level, progress=progress)
    if labels is None:
        return index
    if isinstance(labels, str | os.PathLike):
        labels = Path(labels).expanduser()
    return attach_labels(index, labels, on=on, key=key)


def _by_series(images: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for _, group in images.groupby("series", sort=True):
        first = group.iloc[0].to_dict()
        first.pop("path")
        first.pop("position")
        rows.append({**first, "paths": list(group["path"]), "slices": len(group)})
    return pd.DataFrame(rows)


def attach_labels(index: pd.DataFrame, labels, *, on: str = "study", key: str | None = None,
                  label: str = "label", missing: str = "raise") -> pd.DataFrame:
    """Joins a labels table (a CSV path or DataFrame) to the index.

    Args:
        index: from :func:`scan`.
        labels: the labels CSV or DataFrame.
        on: the index column to join on: ``study``, ``series``, ``sop`` or ``patient``. For ``patient``
            the labels' raw patient ids are hashed the way :func:`scan` hashes them, so the raw ids never
            enter the index.
        key: the labels column holding that key (defaults: ``study_uid``/``series_uid``/``sop_uid``/
            ``patient_id``).
        label: the labels column to copy (written as ``label``).
        missing: ``"raise"`` when an indexed image has no label, or ``"drop"`` (reported).

    Returns:
        The index with a ``label`` column.

    Raises:
        LabelError: a column is missing, a key has two different labels, or images lack labels.
    """
    table = pd.read_csv(Path(labels).expanduser()) if isinstance(labels, str | os.PathLike) else labels.copy()
    source = str(labels) if isinstance(labels, str | os.PathLike) else "labels"
    key = key or {"study": "study_uid", "series": "series_uid", "sop": "sop_uid", "patient": "patient_id"}[on]
    for column in (key, label):
        if column not in table.columns:
            raise LabelError(f"{source}: no column {column!r} (columns: {list(table.columns)})")
    if table[label].isna().any():
        rows = (np.flatnonzero(table[label].isna()) + 2).tolist()[:5]
        raise LabelError(f"{source}: column {label!r} is empty on line(s) {rows}")
    keys = table[key].astype(str)
    if on == "patient":
        from domains.medical.pseudonyms import pseudonym

        keys = keys.map(pseudonym)
    mapping = pd.DataFrame({on: keys, "label": table[label].to_numpy()}).drop_duplicates()
    conflicting = mapping[on][mapping[on].duplicated()]
    if len(conflicting):
        raise LabelError(f"{source}: {len(conflicting)} {on} key(s) have more than one {label!r} value "
                         f"(first line {int(np.flatnonzero(keys.isin(conflicting))[0]) + 2})")
    out = index.drop(columns=["label"], errors="ignore").merge(mapping, on=on, how="left")
    out.attrs = index.attrs
    unlabelled = out["label"].isna()
    if unlabelled.any():
        message = f"{int(unlabelled.sum())} of {len(out)} indexed rows have no label in {source} (joined on {on})"
        if missing == "raise":
            raise LabelError(message + "; pass missing='drop' to leave them out")
        print(f"attach_labels: dropped {message}")
        out = out[~unlabelled].reset_index(drop=True)
    unused = len(set(mapping[on]) - set(index[on]))
    if unused:
        print(f"attach_labels: {unused} label row(s) in {source} match no indexed image")
    out["label"] = out["label"].astype(table[label].dtype if table[label].dtype.kind in "iub" else "float64")
    return out


def split(index: pd.DataFrame, *, by: str = "patient", stratify: str | None = "label",
          fractions=(0.7, 0.15, 0.15), seed: int = 0) -> pd.DataFrame:
    """Assigns every row to ``train``/``validation``/``test`` so that no ``by`` group crosses splits.

    Groups (patients by default) are split, not rows; with ``stratify`` each group's label is the
    maximum over its rows (a patient with any positive image is positive) and the split keeps the
    label proportions per split.

    Returns:
        A copy of the index with a ``split`` column. See :func:`leakage_report`.
    """
    from sklearn.model_selection import train_test_split

    if len(fractions) != 3 or abs(sum(fractions) - 1) > 1e-6 or min(fractions) < 0:
        raise ConfigError(f"fractions must be three non-negative shares summing to 1, got {fractions}")
    if by not in index.columns:
        raise LabelError(f"index has no column {by!r}")
    groups = index.groupby(by)[stratify].max() if stratify else pd.Series(0, index=index[by].unique())
    strat = groups.to_numpy() if stratify else None
    ids = groups.index.to_numpy()
    n_test = round(fractions[2] * len(ids))
    n_val = round(fractions[1] * len(ids))
    if n_test:
        rest, test = train_test_split(ids, test_size=n_test, stratify=strat, random_state=seed)
    else:
        rest, test = ids, ids[:0]
    if n_val:
        train, val = train_test_split(rest, test_size=n_val, random_state=seed,
                                      stratify=groups.loc[rest].to_numpy() if stratify else None)
    else:
        train, val = rest, rest[:0]
    assignment = {**dict.fromkeys(train, "train"), **dict.fromkeys(val, "validation"), **dict.fromkeys(test, "test")}
    out = index.copy()
    out["split"] = out[by].map(assignment)
    out.attrs = {**index.attrs, "split_by": by}
    return out


def leakage_report(index: pd.DataFrame, *, by: str | None = None) -> pd.DataFrame:
    """Counts per split, and the proof that no group crosses splits.

    Returns:
        One row per split with ``rows``, ``groups``, ``positives`` (when labelled) and
        ``shared_groups``: how many of its groups also appear in another split (0 everywhere means no
        leakage). ``report.attrs["leaking"]`` is the number of groups in more than one split.
    """
    by = by or index.attrs.get("split_by", "patient")
    splits_per_group = index.groupby(by)["split"].nunique()
    leaking = set(splits_per_group[splits_per_group > 1].index)
    rows = []
    for name in SPLITS:
        part = index[index["split"] == name]
        row = {"split": name, "rows": len(part), "groups": part[by].nunique(),
               "shared_groups": len(set(part[by]) & leaking)}
        if "label" in part:
            row["positives"] = int((part["label"] > 0).sum())
        rows.append(row)
    report = pd.DataFrame(rows).set_index("split")
    report.attrs["leaking"] = len(leaking)
    return report


# --- tf.data ------------------------------------------------------------------------------------------

def _fit_channels(image: np.ndarray, channels: int, path) -> np.ndarray:
    have = image.shape[-1]
    if have == channels:
        return image
    if have == 1:
        return np.repeat(image, channels, axis=-1)
    if channels == 1:
        return image.mean(axis=-1, keepdims=True)
    raise DataError(f"{path}: image has {have} channels, the pipeline wants {channels}")


@lru_cache(maxsize=128)
def _linear_taps(n_in: int, n_out: int):
    """For each output sample along one axis: the two input samples around it and the weight of the
    second. Pixel centres are aligned as in ``scipy.ndimage.zoom(order=1, grid_mode=True,
    mode="nearest")`` (and TF / PIL bilinear without antialiasing)."""
    x = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0, n_in - 1)
    lo = np.floor(x).astype(np.intp)
    return lo, np.minimum(lo + 1, n_in - 1), (x - lo).astype("float32")


def _resize(array: np.ndarray, shape) -> np.ndarray:
    """Linear resize of the leading spatial axes of ``(*spatial, C)`` to ``shape``, one axis at a time.

    The same numbers as ``scipy.ndimage.zoom(order=1, grid_mode=True, mode="nearest")`` (a test checks
    it) at a fraction of its time: two gathers and a blend per axis, work proportional to the output,
    where ``zoom`` spends about 1.5 ms on each 256x256 image (a third of the decoding pipeline's time).
    """
    out = array
    for axis, n in enumerate(shape):
        if out.shape[axis] != n:
            lo, hi, weight = _linear_taps(out.shape[axis], int(n))
            weight = weight.reshape((-1,) + (1,) * (out.ndim - axis - 1))
            first = np.take(out, lo, axis=axis)
            out = first + (np.take(out, hi, axis=axis) - first) * weight
    return np.ascontiguousarray(out, dtype="float32")


def load_image(path, *, window=None, image_size=(224, 224), channels: int = 1) -> np.ndarray:
    """One 2-D image as the pipeline gives it: ``(H, W, channels)`` float32 in [0, 1]."""
    image, _ = dicom.read_pixels(path, window=window, frame=0)  # the first frame of a multi-frame file
    return _resize(_fit_channels(image, channels, path), image_size)


def load_volume(paths, *, window=None, volume_shape=(32, 128, 128), channels: int = 1) -> np.ndarray:
    """One series as ``(D, H, W, channels)`` float32 in [0, 1], ordered by geometry (lenient checks)."""
    series = dicom.read_series(list(paths), strict=False)
    # Modality values (HU for CT) to [0, 1] with the same window logic as 2-D images.
    ds = dicom._open(series.files[0], pixels=False)
    volume = dicom.window_values(ds, series.volume, window)
    return _resize(_fit_channels(volume, channels, series.files[0]), volume_shape)


_POOLS: dict[int, ProcessPoolExecutor] = {}
# Files per decoding task, and tasks in flight per worker (benchmarks/dicom_loading.py measured these).
_CHUNK, _AHEAD = 16, 2


def _ignore_interrupts():
    """Workers leave Ctrl-C (and a notebook kernel's interrupt) to the parent, which shuts them down."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _pool(workers: int) -> ProcessPoolExecutor:
    """A decoding pool kept for the process's life (spawned: TensorFlow's threads must not be forked)."""
    if workers not in _POOLS:
        import multiprocessing

        _POOLS[workers] = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                              initializer=_ignore_interrupts)
    return _POOLS[workers]


def _load_chunk(load, keys) -> np.ndarray:
    return np.stack([load(key) for key in keys])


def _in_order(pool: ProcessPoolExecutor, fn, items, *, ahead: int):
    """``pool.map(fn, items)`` with at most ``ahead`` tasks in flight: ``map`` submits every item at once,
    so decoded images would pile up in memory whenever training is slower than decoding."""
    pending = deque()
    for item in items:
        pending.append(pool.submit(fn, item))
        if len(pending) >= ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _cache_key(index: pd.DataFrame, column: str, config: dict) -> str:
    h = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode())
    for item in index[column]:
        for path in item if isinstance(item, list) else [item]:
            stat = os.stat(path)
            h.update(f"{path}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return h.hexdigest()[:20]


def make_dataset(
    index: pd.DataFrame,
    *,
    label: str | None = "label",
    window=None,
    image_size=(224, 224),
    volume_shape=None,
    channels: int = 1,
    batch_size: int = 32,
    shuffle: bool = False,
    augment: bool = False,
    flip: bool = False,
    cache_dir=None,
    seed: int = 0,
    drop_remainder: bool = False,
    workers: int | None = None,
):
    """A ``tf.data.Dataset`` of ``(image, label)`` batches (or images when ``label`` is ``None``).

    Decoding (LUTs, window, resize) runs in ``workers`` processes (default: the CPU count; 1 decodes in
    this process), in index order. With ``cache_dir`` the
    decoded tensors are cached on disk under a key made of every file's path, size and modification
    time and of the preprocessing config, so a changed file or setting never reuses a stale cache.
    Row order is the index order unless ``shuffle``.

    Args:
        index: rows from :func:`scan` (``level="image"`` for 2-D, ``"series"`` for 3-D).
        label: the label column, or ``None`` for unlabelled inference.
        window: as in :func:`domains.medical.dicom.read_image` (a list gives one channel per window).
        image_size: ``(H, W)`` for 2-D.
        volume_shape: ``(D, H, W)``: read series volumes instead of images.
        channels: output channels (grey images are repeated, colour averaged to 1).
        batch_size: global batch size.
        shuffle, seed: reshuffle each epoch.
        augment: random shifts (±10%), zoom (±10%), brightness and contrast (±10%).
        flip: also random left-right flips (off by default: anatomy is not symmetric).
        cache_dir: cache decoded tensors here.

    Returns:
        The dataset; ``dataset.element_spec`` has fixed spatial shapes.
    """
    import tensorflow as tf

    workers = (os.cpu_count() or 1) if workers is None else workers
    if isinstance(window, list | tuple) and not dicom._is_pair(window):
        channels = len(window)
    if volume_shape is None:
        column, shape = "path", (*image_size, channels)
        load = partial(load_image, window=window, image_size=tuple(image_size), channels=channels)
    else:
        column, shape = "paths", (*volume_shape, channels)
        load = partial(load_volume, window=window, volume_shape=tuple(volume_shape), channels=channels)
    if column not in index:
        raise LabelError(f"index has no {column!r} column: use scan(level={'image' if column == 'path' else 'series'!r})")
    # Absolute paths: the decoding processes live on and do not follow the caller's working directory.
    keys = [[os.path.abspath(p) for p in v] if column == "paths" else os.path.abspath(v) for v in index[column]]
    if label is not None and label not in index:
        raise LabelError(f"index has no label column {label!r}: call attach_labels first")
    labels = index[label].to_numpy("float32") if label is not None else np.zeros(len(index), "float32")

    # Decoding is Python (pydicom) holding the GIL: worker processes give real parallelism. Each task
    # decodes a chunk of files and sends back one stacked array: one message and one tf.data element per
    # chunk instead of per image (per-element costs in this process competed with the workers for the
    # 2 cores).
    chunk = max(1, min(_CHUNK, len(keys) // (2 * max(workers, 1))))
    chunks = [keys[i:i + chunk] for i in range(0, len(keys), chunk)]
    load_chunk = partial(_load_chunk, load)

    def decoded():
        yield from (map(load_chunk, chunks) if workers <= 1 else _in_order(_pool(workers), load_chunk, chunks,
                                                                            ahead=_AHEAD * workers))

    images = tf.data.Dataset.from_generator(decoded, output_signature=tf.TensorSpec((None, *shape), tf.float32))
    images = images.unbatch().apply(tf.data.experimental.assert_cardinality(len(keys)))  # steps per epoch stay known
    ds = tf.data.Dataset.zip((images, tf.data.Dataset.from_tensor_slices(labels)))
    if cache_dir is not None:
        config = {"window": window, "shape": shape, "column": column}  # workers do not change the result
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        ds = ds.cache(str(Path(cache_dir) / f"medical-{_cache_key(index, column, config)}"))
    if shuffle:
        ds = ds.shuffle(len(index), seed=seed, reshuffle_each_iteration=True)
    if augment or flip:
        ds = ds.map(_augmenter(augment, flip, len(shape) - 1, seed), num_parallel_calls=os.cpu_count() or 1)
    if label is None:
        ds = ds.map(lambda x, y: x)
    # tf.data's autotuner is off for this pipeline (parallelism and buffers are set above): it runs its
    # own optimisation in this process, and on 2 cores that stalled one epoch in two by about a third
    # (1030 files: 800 vs 1200 files/s, benchmarks/dicom_loading.py). Decoding is already parallel in
    # the worker processes; there is nothing for it to tune. ``with_options`` afterwards turns it back on.
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(2).with_options(options)


def _augmenter(augment: bool, flip: bool, spatial_rank: int, seed: int):
    import tensorflow as tf

    def apply(x, y):
        if flip:
            x = tf.reverse(x, axis=[spatial_rank - 1]) if tf.random.uniform([]) < 0.5 else x
        if augment:
            if spatial_rank == 2:
                h, w = x.shape[0], x.shape[1]
                scale = tf.random.uniform([], 0.9, 1.1)
                size = tf.cast(tf.round(tf.cast([h, w], tf.float32) * scale), tf.int32)
                z = tf.image.resize(x, size)
                z = tf.image.resize_with_crop_or_pad(z, h, w)
                shift = tf.cast(tf.round(tf.random.uniform([2], -0.1, 0.1) * [h, w]), tf.int32)
                x = tf.roll(z, shift, axis=[0, 1])
            contrast = tf.random.uniform([], 0.9, 1.1)
            mean = tf.reduce_mean(x)
            x = tf.clip_by_value((x - mean) * contrast + mean + tf.random.uniform([], -0.1, 0.1), 0.0, 1.0)
        return x, y

    return apply
