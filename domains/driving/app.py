"""The driving application: the job behind ``restoolkit train driving``, its demo section and preset
recipe. It uses only the public four steps: data → task → train → evaluate."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

from restoolkit.tasks import DomainApp, Option

SCENES_PRESET = "retinanet_resnet10_050_synthetic_scenes"  # what the CLI, the demo and `make pretrain` train

OPTIONS = [
    Option("run_dir", "path", required=True, must_exist=False, help="where the run, model and report go"),
    Option("train", "path", help="a KITTI object folder to train on (default: synthetic scenes)"),
    Option("val", "path", help="a KITTI object folder to evaluate on"),
    # Fresh scenes beat repeated ones (benchmarks/RESULTS.md); generating them takes about a second per 500.
    # 4800 scenes, batches of 4, one epoch: 1200 steps, about three minutes on 2 CPU cores.
    Option("n_scenes", "int", 4800, "synthetic training scenes", minimum=2),
    Option("backbone", "str", "resnet10_050", "registry backbone (the scenes preset's: a half-width ResNet-10)"),
    Option("preset", "str", None, "start from this preset (name or folder) instead of `backbone`"),
    Option("input_size", "size", [128, 384], "network input (H, W)", length=2),
    Option("epochs", "int", 1, "training epochs", minimum=1),
    Option("batch_size", "int", 4, "global batch size (4: twice the steps of 8 in the same time, and more AP)",
           minimum=1),
    Option("learning_rate", "float", 1e-3, "peak learning rate (cosine decay)", minimum=0.0),
    Option("detector", "dict", {}, "further ObjectDetector arguments (fpn_width, head_depth, nms…)"),
    Option("strategy", "str", None, "tf.distribute strategy", choices=(None, "auto", "default", "mirrored", "multiworker")),
    Option("mixed_precision", "str", "auto", "mixed precision policy (auto: bfloat16 where the hardware has it)",
           choices=(None, "float32", "auto", "mixed_float16", "mixed_bfloat16")),
    Option("seed", "int", 0, "data and training seed", minimum=0),
    Option("overwrite", "bool", False, "replace a different run found in run_dir"),
]
def preset_architecture() -> dict:
    """The scenes preset's architecture (small FPN and heads, anchors for small objects): what the CLI
    trains by default, and what the preset recipe trains."""
    from domains.driving.object_detector import ObjectDetector

    config = ObjectDetector.presets[SCENES_PRESET]["config"]
    return {k: v for k, v in config.items() if k not in ("backbone", "class_names", "preprocessor")}


def run(config: dict, *, evaluate_only: bool = False) -> dict:
    """KITTI-format folders (or synthetic scenes) → :class:`ObjectDetector` → COCO and KITTI metrics, a picture."""
    import keras

    from domains.driving import ObjectDetector, evaluate, load_kitti, make_scenes, train

    config = APP.validate(config)
    run_dir = Path(config["run_dir"])
    run_dir.mkdir(parents=True, exist_ok=True)
    size = tuple(config["input_size"])
    train_dir, val_dir = config["train"], config["val"]
    if train_dir is None:
        n = config["n_scenes"]
        train_dir, val_dir = run_dir / "data" / "train", run_dir / "data" / "val"
        if len(list((train_dir / "label_2").glob("*.txt"))) != n:  # scenes of another n_scenes: made afresh
            shutil.rmtree(run_dir / "data", ignore_errors=True)
            make_scenes(train_dir, n, image_size=size, seed=1, depth_range=(5, 18))
            make_scenes(val_dir, max(8, min(n // 3, 96)), image_size=size, seed=2, depth_range=(5, 18))
    train_frames, val_frames = load_kitti(train_dir), load_kitti(val_dir or train_dir)
    model_file = run_dir / "model.keras"
    if evaluate_only:
        task = keras.saving.load_model(model_file, safe_mode=True)
    else:
        options = {**preset_architecture(), **config["detector"], "preprocessor": {"input_size": size}}
        if config["preset"]:
            task = ObjectDetector.from_preset(config["preset"], **options)
        else:
            task = ObjectDetector(config["backbone"], **options)
        start = time.perf_counter()
        train(task, train_frames, None, run_dir=run_dir / "train", epochs=config["epochs"],
              batch_size=config["batch_size"], learning_rate=config["learning_rate"], strategy=config["strategy"],
              mixed_precision=config["mixed_precision"], seed=config["seed"], overwrite=config["overwrite"], verbose=2)
        seconds = time.perf_counter() - start
        task.save(model_file)
    report = evaluate(task, val_frames)
    path = report.save(run_dir / "report")
    result = {"metrics": report.metrics, "report": report, "report_path": path, "task": task,
              "picture": run_dir / "report" / "detections.png", "val_frames": len(val_frames)}
    if not evaluate_only:
        per_epoch = len(train_frames) // config["batch_size"] or 1  # training drops the last, smaller batch
        result.update(train_seconds=seconds, steps=per_epoch * config["epochs"], train_frames=len(train_frames))
    return result


def demo(out: Path, quick: bool) -> str:
    # The CLI's defaults (a detector that trains: about three minutes on 2 CPU cores); quick: a smoke run
    quick_options = {"n_scenes": 8, "input_size": [64, 192], "mixed_precision": None}
    result = run({"run_dir": str(out / "driving"), **(quick_options if quick else {})})
    m = result["metrics"]
    kitti_rows = [f"| {cls} | {d} | {v['R11']:.1f} | {v['R40']:.1f} |" for cls, per in m["kitti"].items()
                  for d, v in per.items()]
    lines = [
        "## Driving: synthetic road scenes → ObjectDetector (RetinaNet, half-width ResNet-10 + FPN) → COCO and KITTI metrics", "",
        f"{result['train_frames']} synthetic scenes, {result['steps']} steps in {result['train_seconds']:.0f} s "
        f"(CLI defaults); {result['val_frames']} held-out scenes:", "",
        "| COCO AP | AP50 | AP75 | APs | APm |", "|---|---|---|---|---|",
        f"| {m['AP']:.3f} | {m['AP50']:.3f} | {m['AP75']:.3f} | {m['APs']:.3f} | {m['APm']:.3f} |", "",
        "| KITTI class | difficulty | AP R11 | AP R40 |", "|---|---|---|---|", *kitti_rows, "",
        "Held-out scenes, detections (score ≥ 0.3) over the ground truth (dashed):", "",
        "![detections](driving/report/detections.png)"]
    kitti = Path.cwd().parent / "shared" / "data" / "kitti"
    if not quick and (kitti / "label_2").is_dir():
        lines += ["", *memorise_kitti(kitti, out / "driving" / "kitti")]
    return "\n".join(lines)


def memorise_kitti(folder: Path, out: Path) -> list[str]:
    """Trains a small detector on real KITTI frames and shows it on them: a detector that cannot
    memorise three images has a bug (the test suite holds the same floor)."""
    from domains.driving import ObjectDetector, coco_metrics, evaluate, load_kitti, train

    frames = load_kitti(folder)
    task = ObjectDetector("resnet18", preprocessor={"input_size": (160, 512)}, fpn_width=32, head_width=32,
                          head_depth=1, anchor_config={"size_multiplier": 2.0})
    train(task, frames * 10, None, run_dir=out / "run", epochs=10, batch_size=3, learning_rate=2e-3, augment=False,
          verbose=0)
    report = evaluate(task, frames)
    report.save(out / "report")
    car = coco_metrics(frames, report.detections, class_names=["Car"])
    return [f"### The {len(frames)} real KITTI frames of `{folder}`, memorised (100 steps at 160×512)", "",
            f"Car AP50 on the frames it trained on: {car['AP50']:.3f}", "",
            "![kitti](driving/kitti/report/detections.png)"]


def scenes_recipe(out: Path, small: bool, seed: int = 0) -> Path:
    """``retinanet_resnet10_050_synthetic_scenes``: an ObjectDetector trained on synthetic road scenes."""
    from domains.driving import ObjectDetector, evaluate, load_kitti, make_scenes, train

    n, size = (12, (64, 192)) if small else (4800, (128, 384))
    with tempfile.TemporaryDirectory(prefix="pretrain-scenes-") as scratch:  # removed even when training fails
        work = Path(scratch)
        make_scenes(work / "train", n, image_size=size, seed=seed + 1, depth_range=(5, 18))
        make_scenes(work / "val", max(4, min(n // 4, 96)), image_size=size, seed=seed + 2, depth_range=(5, 18))
        train_frames, val_frames = load_kitti(work / "train"), load_kitti(work / "val")
        print(f"scenes: {len(train_frames)} training scenes at {size}, one epoch", flush=True)
        backbone = ObjectDetector.presets[SCENES_PRESET]["config"]["backbone"]
        task = ObjectDetector(backbone, preprocessor={"input_size": size}, **preset_architecture())
        train(task, train_frames, None, run_dir=work / "run", epochs=1, batch_size=4, verbose=2, seed=seed,
              mixed_precision=None if small else "auto")
        ap = evaluate(task, val_frames).metrics
        return task.save_to_preset(out / SCENES_PRESET, metadata={
            "description": ObjectDetector.presets[SCENES_PRESET]["description"],
            "training_data": f"domains.driving.synthetic.make_scenes({n}, {size}, seed {seed + 1})",
            "metrics": json.loads(json.dumps({"val_AP50": round(ap["AP50"], 4), "val_scenes": len(val_frames)})),
            "license": "Apache-2.0 (weights trained on generated data)",
            "command": "python -m restoolkit pretrain" + (" --small" if small else "")})


APP = DomainApp(
    name="driving", description="road scenes → RetinaNet object detectors → COCO and KITTI metrics",
    options=OPTIONS, run=run, demo=demo, recipes={SCENES_PRESET: scenes_recipe},
    recipe_descriptions={SCENES_PRESET:
                         "RetinaNet ObjectDetector (half-width ResNet-10) trained on synthetic road scenes"})
