"""Does the detector learn? Our ObjectDetector (the architecture of its scenes preset, fresh weights) and keras-hub's RetinaNetObjectDetector
side by side on the same synthetic road scenes, input size, augmentation, optimiser, number of steps
and backbone depth (ResNet-18 layout, from scratch), both scored by our COCO evaluation (itself checked
against pycocotools on the files).

    python benchmarks/detection_learning.py [--train-scenes 96] [--val-scenes 48] [--size 128x384]
        [--epochs 12] [--batch-size 8] [--lr 1e-3] [--skip-keras-hub] [--detector JSON] [--repeat N]

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


class EpochTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def step_seconds(timer, steps_per_epoch):
    """Median epoch time after the first (which traces and compiles), per step."""
    later = timer.seconds[1:] or timer.seconds
    return float(np.median(later)) / steps_per_epoch


def ours(train_frames, val_frames, size, args, work):
    # The preset's architecture (small FPN and heads, anchors for small objects), fresh weights
    task = ObjectDetector.from_preset("retinanet_resnet18_synthetic_scenes", load_weights=False,
                                      preprocessor={"input_size": size}, **json.loads(args.detector))
    timer = EpochTimer()
    train(task, train_frames * args.repeat, None, run_dir=work / "ours", epochs=args.epochs, batch_size=args.batch_size,
          learning_rate=args.lr, seed=args.seed, callbacks=[timer], verbose=0)
    metrics = evaluate(task, val_frames).metrics
    return metrics, step_seconds(timer, int(np.ceil(args.repeat * len(train_frames) / args.batch_size))), task.count_params()


def keras_hub_retinanet(train_frames, val_frames, size, args, work):
    import keras_hub
    import tensorflow as tf
    from keras_hub.layers import NonMaxSuppression
    from keras_hub.models import ResNetBackbone, RetinaNetBackbone, RetinaNetObjectDetector

    classes = ["Car", "Pedestrian", "Cyclist"]
    keras.utils.set_random_seed(args.seed)
    resnet = ResNetBackbone(input_conv_filters=[64], input_conv_kernel_sizes=[7],
                            stackwise_num_filters=[64, 128, 256, 512], stackwise_num_blocks=[2, 2, 2, 2],
                            stackwise_num_strides=[1, 2, 2, 2], block_type="basic_block",
                            image_shape=(*size, 3))
    backbone = RetinaNetBackbone(image_encoder=resnet, min_level=3, max_level=7, use_p5=False,
                                 image_shape=(*size, 3))
    model = RetinaNetObjectDetector(
        backbone=backbone, num_classes=len(classes), bounding_box_format="xyxy",
        prediction_decoder=NonMaxSuppression(bounding_box_format="xyxy", from_logits=True, iou_threshold=0.5,
                                             confidence_threshold=0.05, max_detections=100))
    steps = int(np.ceil(len(train_frames) / args.batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(args.lr, decay_steps=steps * args.epochs)
    model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=1e-4, clipnorm=10.0))

    def to_keras_hub(image, target):  # its inputs: normalised pixels; labels -1 for padding
        labels = tf.where(target["classes"] >= 0, target["classes"], -1)
        return (image / 255.0 - 0.45) / 0.25, {"boxes": target["boxes"], "labels": tf.cast(labels, tf.float32)}

    ds = make_dataset(train_frames, classes, input_size=size, batch_size=args.batch_size, augment=True,
                      shuffle=True, seed=args.seed, targets=False).map(to_keras_hub)
    timer = EpochTimer()
    model.fit(ds, epochs=args.epochs, callbacks=[timer], verbose=0)
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
    return metrics, step_seconds(timer, steps), model.count_params(), keras_hub.__version__


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-scenes", type=int, default=96)
    parser.add_argument("--val-scenes", type=int, default=48)
    parser.add_argument("--size", default="128x384")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-keras-hub", action="store_true")
    parser.add_argument("--detector", default="{}", help="JSON: ObjectDetector options over the preset's")
    parser.add_argument("--repeat", type=int, default=1, help="our detector: each epoch is the scenes N times over")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    scratch = tempfile.TemporaryDirectory()  # removed when main returns
    work = Path(scratch.name)
    make_scenes(work / "train", args.train_scenes, image_size=size, seed=1, depth_range=(5, 18))
    make_scenes(work / "val", args.val_scenes, image_size=size, seed=2, depth_range=(5, 18))
    train_frames, val_frames = load_kitti(work / "train"), load_kitti(work / "val")
    steps = int(np.ceil(len(train_frames) / args.batch_size)) * args.epochs
    print(f"# detection learning: {len(train_frames)} training / {len(val_frames)} held-out synthetic scenes at "
          f"{args.size}, {args.epochs} epochs = {steps} steps of {args.batch_size}, AdamW {args.lr:g} cosine; "
          f"{platform.machine()}, {os.cpu_count()} cores")
    print("| detector | parameters | COCO AP | AP50 | APs | s / step |\n|---|---|---|---|---|---|")
    start = time.perf_counter()
    m, step, params = ours(train_frames, val_frames, size, args, work)
    print(f"| restoolkit ObjectDetector (preset architecture, from scratch) | {params:,} | {m['AP']:.3f} | {m['AP50']:.3f} | {m['APs']:.3f} | "
          f"{step:.2f} |  ({time.perf_counter() - start:.0f} s in all)", flush=True)
    if args.skip_keras_hub:
        return
    try:
        import keras_hub  # noqa: F401
    except ImportError:
        print("keras-hub is not installed (the `bench` extra): its row is left out")
        return
    start = time.perf_counter()
    k, kstep, kparams, version = keras_hub_retinanet(train_frames, val_frames, size, args, work)
    print(f"| keras-hub {version} RetinaNetObjectDetector (ResNet-18 layout) | {kparams:,} | {k['AP']:.3f} | "
          f"{k['AP50']:.3f} | {k['APs']:.3f} | {kstep:.2f} |  ({time.perf_counter() - start:.0f} s in all)")
    ratio = m["AP"] / k["AP"] if k["AP"] > 0 else float("inf")
    print(f"ours / keras-hub: AP {ratio:.2f}x, step time {step / kstep:.2f}x")


if __name__ == "__main__":
    main()
