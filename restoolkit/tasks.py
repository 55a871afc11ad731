"""End-to-end jobs of each domain, driven by a plain config dict: what ``python -m restoolkit train`` /
``evaluate`` and the demo run. Each returns a dict of results and writes its artefacts into ``run_dir``.

Config keys (all optional except where noted) are listed in each function; a JSON file holding such a
dict is what ``--config FILE`` reads.
"""

from __future__ import annotations

import json
from pathlib import Path


def _dump(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, default=str))


def run_medical(config: dict, *, evaluate_only: bool = False) -> dict:
    """DICOM folder (or a synthetic one) → patient split → ResNet classifier → clinical report.

    Keys: ``run_dir`` (required), ``folder`` and ``labels`` (a study folder and labels CSV; default a
    synthetic study of ``n_patients`` at ``size`` px written to ``run_dir/data``), ``on``
    (``patient``), ``backbone`` (``resnet18``), ``weights`` (a preset folder), ``epochs`` (8),
    ``batch_size`` (16), ``image_size`` ([size, size]), ``strategy``, ``seed``.
    """
    from domains.medical import (
        attach_labels,
        evaluate,
        leakage_report,
        make_study_folder,
        scan,
        split,
        train_classifier,
    )

    run_dir = Path(config["run_dir"])
    run_dir.mkdir(parents=True, exist_ok=True)
    size = int(config.get("size", 64))
    folder = config.get("folder")
    labels = config.get("labels")
    if folder is None:
        folder, labels = run_dir / "data", run_dir / "data" / "labels.csv"
        if not Path(labels).exists():
            make_study_folder(folder, int(config.get("n_patients", 60)), size=size, seed=int(config.get("seed", 0)))
    index = attach_labels(scan(folder), labels, on=config.get("on", "patient"))
    index = split(index, fractions=tuple(config.get("fractions", (0.6, 0.2, 0.2))), seed=int(config.get("seed", 0)))
    leaks = leakage_report(index)
    parts = {s: index[index["split"] == s] for s in ("train", "validation", "test")}
    data = {"image_size": tuple(config.get("image_size", (size, size)))}
    if evaluate_only:
        import keras

        model = keras.saving.load_model(run_dir / "checkpoints" / "last.keras", safe_mode=True)
    else:
        model = train_classifier(parts["train"], parts["validation"], run_dir=run_dir / "train", data=data,
                                 backbone=config.get("backbone", "resnet18"), weights=config.get("weights"),
                                 epochs=int(config.get("epochs", 8)), batch_size=int(config.get("batch_size", 16)),
                                 strategy=config.get("strategy"), seed=int(config.get("seed", 0)), verbose=2).model
        (run_dir / "checkpoints").mkdir(exist_ok=True)
        model.save(run_dir / "checkpoints" / "last.keras")
    report = evaluate(model, None, parts["test"], validation=parts["validation"], data=data,
                      temperature_scaling=True, level=config.get("level", "patient"))
    path = report.save(run_dir / "report")
    _dump(run_dir / "metrics.json", report.metrics)
    return {"metrics": report.metrics, "report": report, "report_path": path, "leakage": leaks, "model": model}


def run_driving(config: dict, *, evaluate_only: bool = False) -> dict:
    """KITTI-format folder (or synthetic scenes) → RetinaNet → COCO and KITTI metrics, a picture.

    Keys: ``run_dir`` (required), ``train`` / ``val`` (KITTI object folders; default synthetic scenes,
    ``n_scenes`` of them), ``backbone`` (``resnet18``), ``weights`` (a preset folder for the backbone),
    ``input_size`` ([128, 384]), ``epochs`` (8), ``batch_size`` (8), ``learning_rate`` (1e-3),
    ``detector`` (extra :func:`build_detector` options), ``strategy``, ``mixed_precision``, ``seed``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from domains.driving import (
        Detector,
        coco_metrics,
        draw_detections,
        kitti_ap,
        make_scenes,
        read_kitti,
        train_detector,
    )

    run_dir = Path(config["run_dir"])
    run_dir.mkdir(parents=True, exist_ok=True)
    size = tuple(config.get("input_size", (128, 384)))
    train_dir, val_dir = config.get("train"), config.get("val")
    if train_dir is None:
        n = int(config.get("n_scenes", 48))
        train_dir, val_dir = run_dir / "data" / "train", run_dir / "data" / "val"
        if not (train_dir / "label_2").exists():
            make_scenes(train_dir, n, image_size=size, seed=1, depth_range=(5, 18))
            make_scenes(val_dir, max(8, n // 3), image_size=size, seed=2, depth_range=(5, 18))
    train, val = read_kitti(train_dir), read_kitti(val_dir)
    if evaluate_only:
        detector = Detector.load(run_dir / "detector")
    else:
        options = {"fpn_width": 64, "head_width": 64, "head_depth": 2, "freeze_at": 0, "frozen_bn": False,
                   **config.get("detector", {})}
        if config.get("weights"):
            options["weights"] = config["weights"]
        detector, _ = train_detector(train, None, run_dir=run_dir / "train", backbone=config.get("backbone", "resnet18"),
                                     input_size=size, epochs=int(config.get("epochs", 8)),
                                     batch_size=int(config.get("batch_size", 8)),
                                     learning_rate=float(config.get("learning_rate", 1e-3)), detector_kwargs=options,
                                     strategy=config.get("strategy"), mixed_precision=config.get("mixed_precision"),
                                     seed=int(config.get("seed", 0)), verbose=2)
        detector.save(run_dir / "detector")
    detections = detector.detect([f.image_path for f in val])
    coco = coco_metrics(val, detections, class_names=detector.class_names)
    kitti = kitti_ap(val, detections)
    ax = draw_detections(val[0].image_path, detections[0], min_score=0.3, title="detections (score ≥ 0.3)")
    ax.figure.savefig(run_dir / "detections.png", dpi=100, bbox_inches="tight")
    plt.close(ax.figure)
    _dump(run_dir / "metrics.json", {"coco": coco, "kitti": kitti})
    return {"coco": coco, "kitti": kitti, "detector": detector, "picture": run_dir / "detections.png"}


def run_fraud(config: dict, *, evaluate_only: bool = False) -> dict:
    """Transactions (a CSV with the simulated schema, or simulated) → time split → ours vs baselines
    table → the real-time scorer.

    Keys: ``run_dir`` (required), ``csv`` (default: simulate ``customers``, ``terminals``, ``days``),
    ``train_days`` (49), ``delay_days`` (7), ``test_days`` (28), ``epochs`` (15), ``seed``.
    """
    import pandas as pd

    from domains.fraud import (
        SIMULATED_SCHEMA,
        Scorer,
        add_behaviour_features,
        compare,
        export_scorer,
        fraud_metrics,
        simulate_transactions,
        time_split,
        train_fraud_model,
    )

    run_dir = Path(config["run_dir"])
    run_dir.mkdir(parents=True, exist_ok=True)
    if config.get("csv"):
        df = pd.read_csv(config["csv"], parse_dates=["tx_datetime"])
        if "customer_nb_tx_1d" not in df:
            df = add_behaviour_features(df)
    else:
        df = add_behaviour_features(simulate_transactions(int(config.get("customers", 500)),
                                                          int(config.get("terminals", 1000)),
                                                          int(config.get("days", 90)), seed=int(config.get("seed", 0))))
    split_args = {k: int(config.get(k, d)) for k, d in (("train_days", 49), ("delay_days", 7), ("test_days", 28))}
    if evaluate_only:
        _, test = time_split(df, **split_args)
        scores = Scorer.load(run_dir / "scorer").score(SIMULATED_SCHEMA.validate(test))
        metrics = fraud_metrics(test["tx_fraud"], scores)
        _dump(run_dir / "metrics.json", metrics)
        return {"metrics": metrics}
    table = compare(df, **split_args, run_dir=run_dir / "compare", epochs=int(config.get("epochs", 15)))
    train, _ = time_split(df, **split_args)
    model, _ = train_fraud_model(train, "tx_fraud", run_dir=run_dir / "train", epochs=int(config.get("epochs", 15)),
                                 verbose=0, seed=int(config.get("seed", 0)))
    export_scorer(model, run_dir / "scorer", SIMULATED_SCHEMA)
    table.to_csv(run_dir / "comparison.csv")
    return {"comparison": table, "scorer": run_dir / "scorer", "rows": len(df), "fraud_rate": float(df["tx_fraud"].mean())}


TASKS = {"medical": run_medical, "driving": run_driving, "fraud": run_fraud}
