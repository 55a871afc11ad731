"""Can the detector memorise the three real KITTI frames of ``../shared/data/kitti``? Trains on them and
evaluates on the same frames: COCO Car AP50 (pycocotools) and KITTI Car AP next to a perfect detector's
(the devkit samples at most one recall point per counted object, so on 2 + 5 counted cars a perfect
detector scores easy R11 9.09 and moderate R11 18.2).

    python benchmarks/kitti_memorisation.py --size 160x512 --steps 60 --lr 2e-3 --anchor-multiplier 2
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from domains.driving import ObjectDetector, coco_metrics, evaluate, kitti_ap, load_kitti, train  # noqa: E402

KITTI = Path(__file__).resolve().parents[2] / "shared" / "data" / "kitti"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="160x512")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--anchor-multiplier", type=float, default=2.0, help="AnchorConfig.size_multiplier (4 = default)")
    parser.add_argument("--fpn-width", type=int, default=32)
    parser.add_argument("--head-width", type=int, default=32)
    parser.add_argument("--head-depth", type=int, default=1)
    parser.add_argument("--augment", action="store_true")
    args = parser.parse_args()
    if not KITTI.is_dir():
        raise SystemExit(f"{KITTI} is not here")
    frames = load_kitti(KITTI)
    size = tuple(int(v) for v in args.size.split("x"))
    task = ObjectDetector("resnet18", preprocessor={"input_size": size}, fpn_width=args.fpn_width,
                          head_width=args.head_width, head_depth=args.head_depth, freeze_at=0, frozen_bn=False,
                          anchor_config={"size_multiplier": args.anchor_multiplier})
    scratch = tempfile.TemporaryDirectory()  # removed when main returns
    start = time.perf_counter()
    train(task, frames, None, run_dir=scratch.name, epochs=args.steps, batch_size=3, learning_rate=args.lr,
          augment=args.augment, verbose=0)
    seconds = time.perf_counter() - start
    report = evaluate(task, frames)
    perfect = [f.select([n != "DontCare" for n in f.labels]) for f in frames]
    for p in perfect:
        p.scores = np.ones(len(p))
    best = kitti_ap(frames, perfect)["Car"]
    car = coco_metrics(frames, report.detections, class_names=["Car"])
    ours = report.metrics["kitti"].get("Car", {})
    print(f"| {args.size} | {args.steps} | {args.lr:g} | {args.anchor_multiplier:g} | {car['AP50']:.3f} | "
          f"{ours.get('easy', {}).get('R11', 0):.2f} / {best['easy']['R11']:.2f} | "
          f"{ours.get('moderate', {}).get('R11', 0):.2f} / {best['moderate']['R11']:.2f} | {seconds:.0f} |")


if __name__ == "__main__":
    main()
