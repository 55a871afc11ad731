"""DICOM loading: our pipeline (decode + LUTs + window + resize in parallel tf.data map calls, then the
on-disk cache) against a plain single-threaded pydicom loop doing the same work, files/s.

    python benchmarks/dicom_loading.py [--patients 500] [--size 256] [--image-size 128] [--repeats 3]

Each loader runs ``--repeats`` times over all files, interleaved, and the best rate counts (as timeit
does: on a shared 2-core machine the slower runs measure the neighbours, not the loader).
"""

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pydicom  # noqa: E402
from pydicom.pixels import apply_modality_lut, apply_voi_lut  # noqa: E402
from scipy.ndimage import zoom  # noqa: E402

from domains.medical import make_dataset, make_study_folder, scan  # noqa: E402


def plain_loop(paths, image_size):
    """What a user writes without us: dcmread, LUTs, min-max, MONOCHROME1 flip, resize; one thread."""
    out = []
    for p in paths:
        ds = pydicom.dcmread(p)
        values = apply_modality_lut(ds.pixel_array, ds).astype("float32")
        if "WindowCenter" in ds:
            values = apply_voi_lut(values, ds).astype("float32")
        values = (values - values.min()) / max(float(values.max() - values.min()), 1e-6)
        if ds.PhotometricInterpretation == "MONOCHROME1":
            values = 1 - values
        out.append(zoom(values, [t / s for t, s in zip(image_size, values.shape, strict=True)], order=1))
    return np.stack(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=500)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    scratch = tempfile.TemporaryDirectory()  # removed when main returns
    work = Path(scratch.name)
    make_study_folder(work / "study", args.patients, size=args.size, seed=0)
    index = scan(work / "study", progress=False)
    paths = list(index["path"])
    shape = (args.image_size, args.image_size)
    print(f"# DICOM loading, {len(paths)} files of {args.size}x{args.size} → {shape}; {platform.machine()}, "
          f"{os.cpu_count()} cores")

    def plain():
        start = time.perf_counter()
        plain_loop(paths, shape)
        return len(paths) / (time.perf_counter() - start)

    def epoch(ds):
        start = time.perf_counter()
        n = sum(int(x.shape[0]) for x in ds)
        return n / (time.perf_counter() - start)

    epoch(make_dataset(index.head(64), label=None, image_size=shape, batch_size=8))  # start the worker pool
    rates = {"plain": [], "one": [], "pool": []}
    for _ in range(args.repeats):
        rates["plain"].append(plain())
        rates["one"].append(epoch(make_dataset(index, label=None, image_size=shape, batch_size=32, workers=1)))
        rates["pool"].append(epoch(make_dataset(index, label=None, image_size=shape, batch_size=32)))
    plain, one, uncached = (max(rates[k]) for k in ("plain", "one", "pool"))
    print("all runs, files/s:", {k: [round(r) for r in v] for k, v in rates.items()})
    ds = make_dataset(index, label=None, image_size=shape, batch_size=32, cache_dir=work / "cache")
    first, cached = epoch(ds), epoch(ds)
    print("| loader | files/s | vs plain loop |\n|---|---|---|")
    print(f"| plain pydicom loop, 1 thread (no validation, no typed errors) | {plain:.0f} | 1.00x |")
    print(f"| restoolkit make_dataset, decoding in this process (workers=1) | {one:.0f} | {one / plain:.2f}x |")
    print(f"| restoolkit make_dataset, {os.cpu_count()} decoding processes (pool started) | {uncached:.0f} | "
          f"{uncached / plain:.2f}x |")
    print(f"| restoolkit make_dataset, cache filling | {first:.0f} | {first / plain:.2f}x |")
    print(f"| restoolkit make_dataset, cached epoch | {cached:.0f} | {cached / plain:.2f}x |")


if __name__ == "__main__":
    main()
