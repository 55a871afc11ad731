"""Command line: ``python -m restoolkit {demo,info,models}``."""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _info(_args) -> int:
    import keras
    import tensorflow as tf

    import restoolkit

    print(f"restoolkit {restoolkit.__version__}")
    print(f"keras {keras.__version__} (backend {keras.backend.backend()}), tensorflow {tf.__version__}")
    print(f"devices: {[d.name for d in tf.config.list_logical_devices()]}")
    return 0


def _models(args) -> int:
    from restoolkit.models import available

    print("\n".join(available(args.pattern)))
    return 0


def _demo(args) -> int:
    from restoolkit.demo import residual_vs_plain

    residual_vs_plain(args.depth, epochs=args.epochs, n_train=args.n_train, report_dir=args.out)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="restoolkit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train a CIFAR-style ResNet and its plain twin on generated data")
    demo.add_argument("--depth", type=int, default=56, choices=[20, 32, 44, 56, 110])
    demo.add_argument("--epochs", type=int, default=4)
    demo.add_argument("--n-train", type=int, default=2048)
    demo.add_argument("--out", default="runs/demo")
    demo.set_defaults(func=_demo)
    info = sub.add_parser("info", help="versions and devices")
    info.set_defaults(func=_info)
    models = sub.add_parser("models", help="list registered model names")
    models.add_argument("pattern", nargs="?", default=None)
    models.set_defaults(func=_models)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
