"""Builds the preset recipes from the embedded data sets: ``python -m restoolkit.pretrain [--small]``.

- ``resnet18_synthetic_radiographs``: a 1-channel ResNet-18 classifier trained on synthetic CR/DX
  radiographs, with its test AUROC in the metadata.
- ``resnet18_synthetic_scenes``: the ResNet-18 backbone of a RetinaNet trained on synthetic road scenes,
  with the detector's held-out COCO AP50 in the metadata.

Presets are written to ``$RESTOOLKIT_HOME/presets`` (default ``~/.restoolkit/presets``) or ``--out``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

SIZES = {  # (patients, image size, epochs) and (scenes, image size, epochs)
    "full": {"radiographs": (160, 96, 10), "scenes": (96, (128, 384), 10)},
    "small": {"radiographs": (40, 48, 2), "scenes": (12, (64, 192), 1)},
}


def radiographs(out: Path, *, patients: int, size: int, epochs: int, seed: int = 0) -> Path:
    from domains.medical import attach_labels, evaluate, make_study_folder, scan, split, train_classifier
    from restoolkit.presets import save_preset

    work = Path(tempfile.mkdtemp(prefix="pretrain-cxr-"))
    make_study_folder(work / "study", patients, size=size, ct_fraction=0.0, seed=seed)
    index = attach_labels(scan(work / "study", progress=False), work / "study" / "labels.csv", on="patient")
    index = split(index, fractions=(0.7, 0.15, 0.15), seed=seed)
    parts = {s: index[index["split"] == s] for s in ("train", "validation", "test")}
    data = {"image_size": (size, size)}
    print(f"radiographs: {len(index)} images of {index['patient'].nunique()} patients, {epochs} epochs", flush=True)
    result = train_classifier(parts["train"], parts["validation"], run_dir=work / "run", data=data, epochs=epochs,
                              batch_size=16, verbose=2, seed=seed)
    report = evaluate(result.model, None, parts["test"], validation=parts["validation"], data=data, n_bootstrap=200)
    metrics = {"test_auroc": round(report.metrics["auroc"], 4), "test_auroc_ci95": report.metrics["auroc_ci"],
               "test_images": report.metrics["n"]}
    return save_preset(result.model, out / "resnet18_synthetic_radiographs",
                       metadata={"description": "ResNet-18 classifier, 1 channel, synthetic CR/DX radiographs",
                                 "training_data": f"domains.medical.synthetic.make_study_folder({patients} patients, "
                                                  f"size {size}, CR/DX only, seed {seed})",
                                 "metrics": metrics, "license": "Apache-2.0 (weights trained on generated data)",
                                 "command": "python -m restoolkit.pretrain"},
                       preprocessing={"input_size": [size, size], "channels": 1, "range": [0, 1],
                                      "window": "file VOI LUT / min-max, MONOCHROME1 inverted"},
                       arch={"name": "resnet18", "include_top": False, "pooling": "avg"})


def scenes(out: Path, *, n: int, size, epochs: int, seed: int = 0) -> Path:
    from domains.driving import coco_metrics, make_scenes, read_kitti, train_detector
    from restoolkit.presets import save_preset

    work = Path(tempfile.mkdtemp(prefix="pretrain-scenes-"))
    make_scenes(work / "train", n, image_size=size, seed=seed + 1, depth_range=(5, 18))
    make_scenes(work / "val", max(4, n // 4), image_size=size, seed=seed + 2, depth_range=(5, 18))
    train, val = read_kitti(work / "train"), read_kitti(work / "val")
    print(f"scenes: {len(train)} training scenes at {size}, {epochs} epochs", flush=True)
    detector, _ = train_detector(train, None, run_dir=work / "run", backbone="resnet18", input_size=size,
                                 epochs=epochs, batch_size=8, learning_rate=1e-3, verbose=2, seed=seed,
                                 detector_kwargs={"fpn_width": 64, "head_width": 64, "head_depth": 2, "freeze_at": 0,
                                                  "frozen_bn": False})
    ap = coco_metrics(val, detector.detect([f.image_path for f in val]), class_names=detector.class_names)
    body = detector.model.get_layer("resnet18_fpn").get_layer("resnet18_backbone")
    return save_preset(body, out / "resnet18_synthetic_scenes",
                       metadata={"description": "ResNet-18 backbone (C2-C5) of a RetinaNet, synthetic road scenes",
                                 "training_data": f"domains.driving.synthetic.make_scenes({n}, {size}, seed {seed + 1})",
                                 "metrics": {"detector_val_AP50": round(ap["AP50"], 4), "val_scenes": len(val)},
                                 "license": "Apache-2.0 (weights trained on generated data)",
                                 "command": "python -m restoolkit.pretrain"},
                       preprocessing={"input_size": list(size), "channels": 3, "range": [0, 255],
                                      "mean": [123.675, 116.28, 103.53], "std": [58.395, 57.12, 57.375],
                                      "channel_order": "RGB"},
                       arch={"name": "resnet18", "features": True})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=None, help="folder of presets (default $RESTOOLKIT_HOME/presets)")
    parser.add_argument("--only", choices=("radiographs", "scenes"), default=None)
    parser.add_argument("--small", action="store_true", help="tiny settings (tests, smoke runs)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from restoolkit.presets import home

    out = Path(args.out) if args.out else home() / "presets"
    sizes = SIZES["small" if args.small else "full"]
    written = []
    start = time.perf_counter()
    if args.only in (None, "radiographs"):
        p, s, e = sizes["radiographs"]
        written.append(radiographs(out, patients=p, size=s, epochs=e))
    if args.only in (None, "scenes"):
        n, s, e = sizes["scenes"]
        written.append(scenes(out, n=n, size=s, epochs=e))
    for folder in written:
        print(f"preset written: {folder}")
    print(f"pretrain done in {time.perf_counter() - start:.0f} s")
    return written


if __name__ == "__main__":
    main()
