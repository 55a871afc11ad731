"""Can the hard synthetic study tell methods apart? Same split, same budget, one row per method.

2-D (radiographs of a ``difficulty="hard"`` study): ResNet-18 from scratch, ResNet-18 fine-tuned from
the ``resnet18_synthetic_radiographs`` preset (made here by its recipe, on an easy study of other
patients), and the plain (no shortcut) twin ``plain18`` from scratch.
3-D (CT series of a hard study, the finding a sphere crossing some slices): ``resnet18_3d`` on volumes
against ResNet-18 on single slices, scores averaged per patient.

Every row: patient-level AUROC on the held-out test patients with its patient-bootstrap 95% interval,
and ECE after temperature scaling on validation (``domains.medical.evaluate``), mean over ``--seeds``
training seeds (the data and split stay fixed).

    python benchmarks/medical.py [--patients 800] [--size 64] [--epochs 8] [--seeds 1]
                                 [--rows scratch,preset,plain,3d] [--ct-patients 300]
                                 [--fractions 0.7 0.15 0.15] [--finding-contrast LO HI] [--hidden-fraction H]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from domains.medical import ImageClassifier, evaluate, load_study, make_study_folder, split, train  # noqa: E402


def _parts(index):
    return {s: index[index["split"] == s] for s in ("train", "validation", "test")}


def _row(name, make_task, parts, args, *, how="mean"):
    """Trains one method with each seed; returns the table row and the per-seed metrics."""
    runs = []
    for seed in range(args.seeds):
        task = make_task()
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as run_dir:
            train(task, parts["train"], parts["validation"], run_dir=run_dir, epochs=args.epochs,
                  batch_size=args.batch_size, learning_rate=args.learning_rate, seed=seed, verbose=0)
        seconds = time.perf_counter() - start
        report = evaluate(task, parts["test"], validation=parts["validation"], temperature_scaling=True,
                          level="patient", how=how, n_bootstrap=1000, seed=seed)
        m = report.metrics
        runs.append({"auroc": m["auroc"], "lo": m["auroc_ci"][0], "hi": m["auroc_ci"][1], "ece": m["ece"],
                     "seconds": seconds})
        print(f"  {name} seed {seed}: AUROC {m['auroc']:.3f} ({m['auroc_ci'][0]:.3f}-{m['auroc_ci'][1]:.3f}), "
              f"ECE {m['ece']:.3f}, {seconds:.0f} s", flush=True)
    mean = {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}
    spread = f" ± {np.std([r['auroc'] for r in runs]):.3f}" if len(runs) > 1 else ""
    return (f"| {name} | {mean['auroc']:.3f}{spread} | {mean['lo']:.3f}–{mean['hi']:.3f} | {mean['ece']:.3f} | "
            f"{mean['seconds']:.0f} |"), runs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=800, help="2-D study: patients (radiographs)")
    parser.add_argument("--ct-patients", type=int, default=300, help="3-D study: patients (CT series)")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument("--rows", default="scratch,preset,plain,3d")
    parser.add_argument("--finding-contrast", type=float, nargs="+", default=None,
                        help="override the hard study's range, e.g. 0.1 0.8 (calibration)")
    parser.add_argument("--noise", type=float, default=None, help="override the hard study's (calibration)")
    parser.add_argument("--hidden-fraction", type=float, default=None,
                        help="override the hard study's share of hidden findings (calibration)")
    parser.add_argument("--fractions", type=float, nargs=3, default=(0.7, 0.15, 0.15),
                        help="train / validation / test shares of patients (the demo's job: 0.6 0.2 0.2)")
    args = parser.parse_args(argv)
    contrast = None  # the hard study's own range unless given: one number (fixed) or a range
    if args.finding_contrast:
        contrast = (args.finding_contrast * 2)[:2]
    hard = {"difficulty": "hard", "finding_contrast": contrast, "noise": args.noise,
            "hidden_fraction": args.hidden_fraction}
    rows = set(args.rows.split(","))
    size = (args.size, args.size)
    scratch_dir = tempfile.TemporaryDirectory()  # removed when main returns
    work = Path(scratch_dir.name)
    print(f"# medical benchmark: hard synthetic study, {args.epochs} epochs, batch {args.batch_size}, "
          f"lr {args.learning_rate}, {args.seeds} seed(s); {platform.machine()}, {os.cpu_count()} cores", flush=True)
    table = ["| method | test AUROC (patients) | 95% CI (patient bootstrap) | ECE | training s |", "|---|---|---|---|---|"]
    results = {}

    if rows & {"scratch", "preset", "plain"}:
        make_study_folder(work / "xr", args.patients, size=args.size, ct_fraction=0.0, seed=args.data_seed, **hard)
        index = split(load_study(work / "xr", work / "xr" / "labels.csv", progress=False), seed=args.data_seed,
                      fractions=tuple(args.fractions))
        parts = _parts(index)
        test = parts["test"]
        print(f"2-D: {len(index)} radiographs of {index['patient'].nunique()} patients; test {test['patient'].nunique()} "
              f"patients, {int(test.groupby('patient')['label'].max().sum())} positive", flush=True)
        table.append(f"| *2-D: {index['patient'].nunique()} patients, {len(index)} radiographs, {args.size}² px* | | | | |")
        image = {"image_size": size, "channels": 1}
        if "scratch" in rows:
            line, results["resnet18 scratch"] = _row("ResNet-18, from scratch", lambda: ImageClassifier(
                "resnet18", preprocessor=image), parts, args)
            table.append(line)
        if "preset" in rows:
            from domains.medical.app import radiographs_recipe

            print("making the resnet18_synthetic_radiographs preset (its recipe: 160 other patients, easy study)",
                  flush=True)
            preset = radiographs_recipe(work / "presets", small=False, seed=args.data_seed + 1000)
            line, results["resnet18 preset"] = _row("ResNet-18, fine-tuned from the preset", lambda: (
                ImageClassifier.from_preset(str(preset), preprocessor=image)), parts, args)
            table.append(line)
        if "plain" in rows:
            line, results["plain18 scratch"] = _row("plain-18 (no shortcuts), from scratch", lambda: ImageClassifier(
                "plain18", preprocessor=image), parts, args)
            table.append(line)

    if "3d" in rows:
        make_study_folder(work / "ct", args.ct_patients, size=args.size, ct_fraction=1.0, seed=args.data_seed + 1,
                          **hard)
        labels = work / "ct" / "labels.csv"
        series = split(load_study(work / "ct", labels, level="series", progress=False), seed=args.data_seed,
                       fractions=tuple(args.fractions))
        slices = load_study(work / "ct", labels, progress=False)
        slices = slices.merge(series[["series", "split"]], on="series")  # the same patients in each part
        depth = int(series["paths"].map(len).max())
        test = series[series["split"] == "test"]
        print(f"3-D: {len(series)} CT series ({depth} slices) of {series['patient'].nunique()} patients; test "
              f"{len(test)} patients, {int(test['label'].sum())} positive", flush=True)
        table.append(f"| *3-D: {series['patient'].nunique()} patients, CT series of {depth} slices, {args.size}² px* | | | | |")
        line, results["resnet18_3d"] = _row("ResNet-18 3-D on volumes", lambda: ImageClassifier(
            "resnet18_3d", preprocessor={"volume_shape": (depth, *size), "channels": 1}), _parts(series), args)
        table.append(line)
        line, results["resnet18 slices"] = _row("ResNet-18 2-D on slices, max per patient", lambda: ImageClassifier(
            "resnet18", preprocessor={"image_size": size, "channels": 1}), _parts(slices), args, how="max")
        table.append(line)

    print("\n" + "\n".join(table))
    return results


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
