"""Does the detector learn? Our ObjectDetector (the architecture of its scenes preset, fresh weights) and keras-hub's RetinaNetObjectDetector
side by side on the same synthetic road scenes, input size, augmentation, optimiser, precision, number
of steps and backbone (the same ResNet layout, built by each library, from scratch), both scored by our
COCO evaluation (itself checked against pycocotools on the files). The defaults are the CLI's (and the
demo's): 4800 fresh scenes seen once in batches of 4 (1200 steps), bfloat16 where the CPU has it.

    python benchmarks/detection_learning.py [--train-scenes 4800] [--val-scenes 48] [--size 128x384]
        [--epochs 1] [--batch-size 4] [--lr 1e-3] [--warmup-epochs 0] [--mixed-precision auto] [--skip-keras-hub]
        [--detector JSON] [--repeat N]

keras-hub is the ``bench`` extra (``pip install -e '.[bench]'``); without it only our row is printed.
"""

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from domains.driving import ObjectDetector, coco_metrics, evaluate, load_kitti, make_scenes, train  # noqa: E402
from domains.driving.data import Frame, make_dataset  # noqa: E402
from restoolkit.training.precision import resolve_mixed_precision  # noqa: E402

# keras-hub's ResNetBackbone arguments for the same layout as our registry backbone. Its ResNetBackbone
# requires 64 channels in the first stage, so the preset's half-width resnet10_050 has no keras-hub twin:
# the side by side runs both at ResNet-18 (`--detector '{"backbone": "resnet18"}'`).
KERAS_HUB_RESNETS = {
    "resnet18": {"input_conv_filters": [64], "stackwise_num_filters": [64, 128, 256, 512],
                 "stackwise_num_blocks": [2, 2, 2, 2]},
    "resnet34": {"input_conv_filters": [64], "stackwise_num_filters": [64, 128, 256, 512],
                 "stackwise_num_blocks": [3, 4, 6, 3]},
}


PRESET = "retinanet_resnet10_050_synthetic_scenes"


class StepTimer(keras.callbacks.Callback):
    """Seconds per training step, leaving out the first 20 steps of the run (tracing, compiling)."""

    def __init__(self):
        super().__init__()
        self.steps, self._start = 0, None

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.steps == 20:
            self._start = time.perf_counter()

    def on_train_end(self, logs=None):
        self.seconds = (time.perf_counter() - self._start) / max(self.steps - 20, 1) if self._start else float("nan")


def ours(train_frames, val_frames, size, args, work):
    # The preset's architecture (small FPN and heads, anchors for small objects), fresh weights
    task = ObjectDetector.from_preset(PRESET, load_weights=False,
                                      preprocessor={"input_size": size}, **json.loads(args.detector))
    timer = StepTimer()
    train(task, train_frames * args.repeat, None, run_dir=work / "ours", epochs=args.epochs, batch_size=args.batch_size,
          learning_rate=args.lr, seed=args.seed, callbacks=[timer], verbose=0, mixed_precision=args.mixed_precision,
          warmup_epochs=args.warmup_epochs)
    metrics = evaluate(task, val_frames).metrics
    return metrics, timer.seconds, task.count_params(), task.backbone_name


def keras_hub_retinanet(train_frames, val_frames, size, args, work, backbone_name):
    import keras_hub
    import tensorflow as tf
    from keras_hub.layers import NonMaxSuppression
    from keras_hub.models import ResNetBackbone, RetinaNetBackbone, RetinaNetObjectDetector

    classes = ["Car", "Pedestrian", "Cyclist"]
    keras.utils.set_random_seed(args.seed)
    previous = keras.config.dtype_policy()

    def build():
        resnet = ResNetBackbone(input_conv_kernel_sizes=[7], stackwise_num_strides=[1, 2, 2, 2],
                                block_type="basic_block", image_shape=(*size, 3), **KERAS_HUB_RESNETS[backbone_name])
        backbone = RetinaNetBackbone(image_encoder=resnet, min_level=3, max_level=7, use_p5=False,
                                     image_shape=(*size, 3))
        return RetinaNetObjectDetector(
            backbone=backbone, num_classes=len(classes), bounding_box_format="xyxy",
            prediction_decoder=NonMaxSuppression(bounding_box_format="xyxy", from_logits=True, iou_threshold=0.5,
                                                 confidence_threshold=0.05, max_detections=100))

    if args.mixed_precision:
        keras.config.set_dtype_policy(args.mixed_precision)
    model = build()
    steps = len(train_frames) // args.batch_size
    schedule = keras.optimizers.schedules.CosineDecay(args.lr, decay_steps=steps * args.epochs)
    model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=1e-4, clipnorm=10.0))

    def to_keras_hub(image, target):  # its inputs: normalised pixels; labels -1 for padding
        labels = tf.where(target["classes"] >= 0, target["classes"], -1)
        return (image / 255.0 - 0.45) / 0.25, {"boxes": target["boxes"], "labels": tf.cast(labels, tf.float32)}

    ds = make_dataset(train_frames, classes, input_size=size, batch_size=args.batch_size, augment=True,
                      shuffle=True, seed=args.seed, targets=False).map(to_keras_hub)
    timer = StepTimer()
    model.fit(ds, epochs=args.epochs, callbacks=[timer], verbose=0)
    keras.config.set_dtype_policy(previous)
    if args.mixed_precision:
        # keras-hub 0.32's box decoding fails on bfloat16 outputs (float32 anchors times bfloat16
        # deltas): predict with a float32 copy holding the trained weights (variables are float32 anyway)
        trained, model = model, build()
        model.set_weights(trained.get_weights())
    detections = []
    for frame in val_frames:
        image = make_dataset([frame], classes, input_size=size, batch_size=1, targets=False).map(to_keras_hub)
        (x, _), = list(image)
        out = model.predict(x, verbose=0)
        n = int(out["num_detections"][0])
        scale = min(size[0] / frame.height, size[1] / frame.width)  # the letterbox scale
        detections.append(Frame(frame.image_path, frame.width, frame.height,
                                np.asarray(out["boxes"][0][:n], "float64") / scale,
                                [classes[int(c)] for c in out["labels"][0][:n]],
                                scores=np.asarray(out["confidence"][0][:n], "float64")))
    metrics = coco_metrics(val_frames, detections, class_names=classes)
    return metrics, timer.seconds, model.count_params(), keras_hub.__version__


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-scenes", type=int, default=4800)
    parser.add_argument("--val-scenes", type=int, default=48)
    parser.add_argument("--size", default="128x384")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--mixed-precision", default="auto", help="auto, mixed_bfloat16, float32…")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--warmup-epochs", type=float, default=0.0, help="our detector: linear warm-up")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-keras-hub", action="store_true")
    parser.add_argument("--skip-ours", action="store_true", help="only keras-hub's row")
    parser.add_argument("--detector", default="{}", help="JSON: ObjectDetector options over the preset's")
    parser.add_argument("--repeat", type=int, default=1, help="our detector: each epoch is the scenes N times over")
    args = parser.parse_args()
    args.mixed_precision = resolve_mixed_precision(None if args.mixed_precision == "float32" else args.mixed_precision)
    size = tuple(int(v) for v in args.size.split("x"))
    scratch = tempfile.TemporaryDirectory()  # removed when main returns
    work = Path(scratch.name)
    make_scenes(work / "train", args.train_scenes, image_size=size, seed=1, depth_range=(5, 18))
    make_scenes(work / "val", args.val_scenes, image_size=size, seed=2, depth_range=(5, 18))
    train_frames, val_frames = load_kitti(work / "train"), load_kitti(work / "val")
    steps = (args.repeat * len(train_frames) // args.batch_size) * args.epochs  # the last, smaller batch is dropped
    print(f"# detection learning: {len(train_frames)} training / {len(val_frames)} held-out synthetic scenes at "
          f"{args.size}, {args.epochs} epochs = {steps} steps of {args.batch_size}, AdamW {args.lr:g} cosine, "
          f"{args.mixed_precision or 'float32'}; "
          f"{platform.machine()}, {os.cpu_count()} cores")
    print("| detector | parameters | COCO AP | AP50 | APs | s / step |\n|---|---|---|---|---|---|")
    start = time.perf_counter()
    if args.skip_ours:
        backbone_name = {**ObjectDetector.presets[PRESET]["config"], **json.loads(args.detector)}["backbone"]
    else:
        m, step, params, backbone_name = ours(train_frames, val_frames, size, args, work)
        print(f"| restoolkit ObjectDetector ({backbone_name}, preset architecture, from scratch) | {params:,} | {m['AP']:.3f} | {m['AP50']:.3f} | {m['APs']:.3f} | "
              f"{step:.2f} |  ({time.perf_counter() - start:.0f} s in all)", flush=True)
    if args.skip_keras_hub:
        return
    if backbone_name not in KERAS_HUB_RESNETS:
        print(f"keras-hub has no {backbone_name} layout; run with --detector '{{\"backbone\": \"resnet18\"}}' "
              "for the side by side")
        return
    try:
        import keras_hub  # noqa: F401
    except ImportError:
        print("keras-hub is not installed (the `bench` extra): its row is left out")
        return
    start = time.perf_counter()
    k, kstep, kparams, version = keras_hub_retinanet(train_frames, val_frames, size, args, work, backbone_name)
    print(f"| keras-hub {version} RetinaNetObjectDetector ({backbone_name} layout) | {kparams:,} | {k['AP']:.3f} | "
          f"{k['AP50']:.3f} | {k['APs']:.3f} | {kstep:.2f} |  ({time.perf_counter() - start:.0f} s in all)")
    if not args.skip_ours:
        ratio = m["AP"] / k["AP"] if k["AP"] > 0 else float("inf")
        print(f"ours / keras-hub: AP {ratio:.2f}x, step time {step / kstep:.2f}x")


if __name__ == "__main__":
    main()
