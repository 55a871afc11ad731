"""Detection cost per backbone at KITTI size: GMACs, parameters and CPU latency, backbone, FPN and heads
apart, and keras-hub's RetinaNet (ResNet-50 FPN) built in the same run when keras-hub is installed.

    python benchmarks/detection.py [--size 384 1248] [--backbones resnet18 resnet34 resnet50] [--repeats 5]
"""

import argparse
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from domains.driving import ObjectDetector  # noqa: E402
from domains.driving.model import postprocess  # noqa: E402
from restoolkit.models import count_macs, count_params  # noqa: E402


def latency_ms(fn, x, repeats):
    fn(x)  # trace / warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn(x)
        tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else t, out)
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, nargs=2, default=[384, 1248])
    parser.add_argument("--backbones", nargs="+", default=["resnet18", "resnet34", "resnet50"])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    h, w = args.size
    x = tf.constant(np.random.default_rng(0).uniform(0, 255, (1, h, w, 3)).astype("float32"))
    print(f"# detection cost at {h}x{w}, batch 1, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, TF {tf.__version__}")
    print("| model | part | GMACs | params (M) | latency ms (median) |\n|---|---|---|---|---|")
    rows_raw = []
    for name in args.backbones:
        detector = ObjectDetector(name, preprocessor={"input_size": (h, w)})
        fpn = detector.get_layer(f"{name}_fpn")
        body = fpn.get_layer(f"{name}_backbone")
        parts = {"backbone": body, "backbone+FPN": fpn, "detector (all)": detector}
        macs = {k: count_macs(m) for k, m in parts.items()}
        params = {k: count_params(m)["total"] for k, m in parts.items()}
        times = {k: latency_ms(tf.function(lambda t, m=m: m(t, training=False), jit_compile=False), x, args.repeats)
                 for k, m in parts.items()}
        raw = detector(x)
        nms_ms = latency_ms(tf.function(lambda r, d=detector: postprocess(r, d.anchors, (h, w), d.nms)), raw, args.repeats)
        heads = {"GMACs": (macs["detector (all)"] - macs["backbone+FPN"]) / 1e9,
                 "params": (params["detector (all)"] - params["backbone+FPN"]) / 1e6,
                 "ms": times["detector (all)"] - times["backbone+FPN"]}
        for part in ("backbone", "backbone+FPN"):
            print(f"| {name} | {part} | {macs[part] / 1e9:.2f} | {params[part] / 1e6:.2f} | {times[part]:.1f} |")
        print(f"| {name} | heads (all - backbone+FPN) | {heads['GMACs']:.2f} | {heads['params']:.2f} | {heads['ms']:.1f} |")
        print(f"| {name} | decode + per-class NMS | - | - | {nms_ms:.1f} |")
        print(f"| {name} | **total** | {macs['detector (all)'] / 1e9:.2f} | {params['detector (all)'] / 1e6:.2f} | "
              f"{times['detector (all)'] + nms_ms:.1f} |", flush=True)
        rows_raw.append((name, times["detector (all)"]))
    try:
        import keras_hub
    except ImportError:
        print("\nkeras-hub is not installed: its RetinaNet was not measured (pip install keras-hub to compare).")
        return
    backbone = keras_hub.models.ResNetBackbone(
            input_conv_filters=[64], input_conv_kernel_sizes=[7], stackwise_num_filters=[64, 128, 256, 512],
            stackwise_num_blocks=[3, 4, 6, 3], stackwise_num_strides=[1, 2, 2, 2], block_type="bottleneck_block",
            image_shape=(h, w, 3))
    model = keras_hub.models.RetinaNetObjectDetector(
        backbone=keras_hub.models.RetinaNetBackbone(image_encoder=backbone, min_level=3, max_level=7,
                                                    use_p5=False),
        anchor_generator=keras_hub.layers.AnchorGenerator(bounding_box_format="yxyx", min_level=3, max_level=7,
                                                          num_scales=3, aspect_ratios=[0.5, 1.0, 2.0], anchor_size=4),
        num_classes=3)
    ms = latency_ms(tf.function(lambda t: model(t, training=False)), x, args.repeats)
    try:
        gmacs = f"{count_macs(model) / 1e9:.2f} GMACs"
    except TypeError:
        gmacs = "GMACs n/a (built with dynamic spatial shapes)"
    ours = dict(rows_raw).get("resnet50")
    print(f"\nkeras-hub {keras_hub.__version__} RetinaNet ResNet-50 FPN: {gmacs}, {ms:.1f} ms forward (no NMS)"
          + (f"; ours resnet50 forward / keras-hub forward: {ours / ms:.2f}x" if ours else ""))


if __name__ == "__main__":
    main()
