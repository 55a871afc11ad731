"""The medical application: the end-to-end job behind ``restoolkit train medical``, its demo section and
its preset recipe. It uses only the public four steps: data → task → train → evaluate."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from restoolkit.tasks import DomainApp, Option

OPTIONS = [
    Option("run_dir", "path", required=True, must_exist=False, help="where the run, model and report go"),
    Option("folder", "path", help="a DICOM study folder (default: a synthetic study in run_dir/data)"),
    Option("labels", "path", help="the labels CSV of `folder`"),
    Option("on", "str", "patient", "what the labels are joined on", choices=("patient", "study", "series", "sop")),
    Option("backbone", "str", "resnet18", "registry backbone"),
    Option("preset", "str", None, "start from this preset (name or folder) instead of `backbone`"),
    Option("size", "int", 64, "synthetic images: size in pixels", minimum=16, maximum=1024),
    Option("n_patients", "int", 60, "synthetic study: number of patients", minimum=6),
    Option("ct_fraction", "float", 0.4, "synthetic study: share of patients imaged by CT (the others: radiographs)",
           minimum=0.0, maximum=1.0),
    Option("difficulty", "str", "easy", "synthetic study: 'easy' (any method solves it) or 'hard' (subtle "
           "findings, noise, bias, vendors, 20% positives: tells methods apart)", choices=("easy", "hard")),
    Option("image_size", "size", None, "network input (H, W); default [size, size]", length=2),
    Option("fractions", "list", [0.6, 0.2, 0.2], "train / validation / test shares of patients"),
    Option("epochs", "int", 8, "training epochs", minimum=1),
    Option("batch_size", "int", 16, "global batch size", minimum=1),
    Option("learning_rate", "float", 1e-3, "peak learning rate (cosine decay)", minimum=0.0),
    Option("strategy", "str", None, "tf.distribute strategy", choices=(None, "auto", "default", "mirrored", "multiworker")),
    Option("level", "str", "patient", "report level", choices=("image", "patient")),
    Option("seed", "int", 0, "data, split and training seed", minimum=0),
    Option("overwrite", "bool", False, "replace a different run found in run_dir"),
]


def run(config: dict, *, evaluate_only: bool = False) -> dict:
    """DICOM folder (or a synthetic one) → patient split → :class:`ImageClassifier` → clinical report."""
    import keras

    from domains.medical import (
        ImageClassifier,
        evaluate,
        leakage_report,
        load_study,
        split,
        train,
    )

    config = APP.validate(config)
    run_dir = Path(config["run_dir"])
    run_dir.mkdir(parents=True, exist_ok=True)
    size, seed = config["size"], config["seed"]
    folder, labels = config["folder"], config["labels"]
    if folder is None:
        folder, labels = synthetic_study(run_dir / "data", config)
    index = split(load_study(folder, labels, on=config["on"]), fractions=tuple(config["fractions"]), seed=seed)
    parts = {s: index[index["split"] == s] for s in ("train", "validation", "test")}
    model_file = run_dir / "model.keras"
    if evaluate_only:
        task = keras.saving.load_model(model_file, safe_mode=True)
    else:
        preprocessor = {"image_size": config["image_size"] or [size, size], "channels": 1}
        if config["preset"]:
            task = ImageClassifier.from_preset(config["preset"], preprocessor=preprocessor)
        else:
            task = ImageClassifier(config["backbone"], preprocessor=preprocessor)
        train(task, parts["train"], parts["validation"], run_dir=run_dir / "train", epochs=config["epochs"],
              batch_size=config["batch_size"], learning_rate=config["learning_rate"], strategy=config["strategy"],
              seed=seed, overwrite=config["overwrite"], verbose=2)
        task.save(model_file)
    report = evaluate(task, parts["test"], validation=parts["validation"], temperature_scaling=True,
                      level=config["level"])
    path = report.save(run_dir / "report")
    return {"metrics": report.metrics, "report": report, "report_path": path, "leakage": leakage_report(index),
            "task": task}


def synthetic_study(folder: Path, config: dict) -> tuple[Path, Path]:
    """The run's generated study, reused only if it was made with the same settings: a run asking for
    another size, seed or difficulty must not train on the old files."""
    from domains.medical import make_study_folder

    wanted = {"n_patients": config["n_patients"], "size": config["size"], "seed": config["seed"],
              "difficulty": config["difficulty"], "ct_fraction": config["ct_fraction"]}
    made, labels = folder / "study.json", folder / "labels.csv"
    if not labels.exists() or not made.exists() or json.loads(made.read_text()) != wanted:
        shutil.rmtree(folder, ignore_errors=True)
        make_study_folder(folder, wanted["n_patients"], size=wanted["size"], seed=wanted["seed"],
                          difficulty=wanted["difficulty"], ct_fraction=wanted["ct_fraction"])
        made.write_text(json.dumps(wanted))
    return folder, labels


def demo(out: Path, quick: bool) -> str:
    # The full demo trains on the hard study (the easy one is solved by any method: AUROC 1.0 tells
    # nothing); --quick keeps a small easy study, which a one-epoch smoke run can still split and score.
    result = run({"run_dir": str(out / "medical"), "n_patients": 24 if quick else 800, "size": 48 if quick else 64,
                  "epochs": 1 if quick else 8, "difficulty": "easy" if quick else "hard",
                  "ct_fraction": 0.4 if quick else 0.0})  # hard: radiographs, as benchmarks/medical.py's 2-D rows
    m = result["metrics"]
    lo, hi = m["auroc_ci"]
    return "\n".join([
        f"## Medical: synthetic DICOM study ({'easy' if quick else 'hard, radiographs'}) → patient split → ImageClassifier "
        "(ResNet-18) → clinical report", "",
        f"AUROC {m['auroc']:.3f} (95% CI {lo:.3f}–{hi:.3f}, patient bootstrap), sensitivity {m['sensitivity']:.3f} "
        f"and specificity {m['specificity']:.3f} at the threshold chosen for 90% specificity on validation, "
        f"Brier {m['brier']:.3f}, ECE {m['ece']:.3f} ({m['level']} level, {m['n_patients']} test patients). "
        "Full report: [medical/report/report.md](medical/report/report.md).", "",
        "![reliability](medical/report/reliability.png)"])


def radiographs_recipe(out: Path, small: bool, seed: int = 0) -> Path:
    """``resnet18_synthetic_radiographs``: an ImageClassifier trained on synthetic CR/DX radiographs."""
    from domains.medical import ImageClassifier, evaluate, load_study, make_study_folder, split, train

    patients, size, epochs = (40, 48, 2) if small else (160, 96, 10)
    with tempfile.TemporaryDirectory(prefix="pretrain-cxr-") as scratch:  # removed even when training fails
        work = Path(scratch)
        make_study_folder(work / "study", patients, size=size, ct_fraction=0.0, seed=seed)
        index = split(load_study(work / "study", work / "study" / "labels.csv", progress=False),
                      fractions=(0.7, 0.15, 0.15), seed=seed)
        parts = {s: index[index["split"] == s] for s in ("train", "validation", "test")}
        print(f"radiographs: {len(index)} images of {index['patient'].nunique()} patients, {epochs} epochs", flush=True)
        task = ImageClassifier("resnet18", preprocessor={"image_size": (size, size), "channels": 1})
        train(task, parts["train"], parts["validation"], run_dir=work / "run", epochs=epochs, verbose=2, seed=seed)
        report = evaluate(task, parts["test"], validation=parts["validation"], n_bootstrap=200)
        metrics = {"test_auroc": round(report.metrics["auroc"], 4), "test_auroc_ci95": report.metrics["auroc_ci"],
                   "test_images": report.metrics["n"]}
        return task.save_to_preset(out / "resnet18_synthetic_radiographs", metadata={
            "description": ImageClassifier.presets["resnet18_synthetic_radiographs"]["description"],
            "training_data": f"domains.medical.synthetic.make_study_folder({patients} patients, size {size}, CR/DX only, "
                             f"seed {seed})",
            "metrics": json.loads(json.dumps(metrics)), "license": "Apache-2.0 (weights trained on generated data)",
            "command": "python -m restoolkit pretrain" + (" --small" if small else "")})


APP = DomainApp(
    name="medical", description="DICOM studies → residual image classifiers → clinical reports",
    options=OPTIONS, run=run, demo=demo, recipes={"resnet18_synthetic_radiographs": radiographs_recipe},
    recipe_descriptions={"resnet18_synthetic_radiographs":
                         "ResNet-18 ImageClassifier (1 channel) trained on synthetic CR/DX radiographs"})
