"""Command line: ``python -m restoolkit {demo,train,evaluate,pretrain,benchmark,info,models}``."""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _info(_args) -> int:
    import keras
    import tensorflow as tf

    import restoolkit
    from restoolkit.training import resolve_kind

    print(f"restoolkit {restoolkit.__version__}")
    print(f"keras {keras.__version__} (backend {keras.backend.backend()}), tensorflow {tf.__version__}")
    print(f"devices: {[d.name for d in tf.config.list_logical_devices()]}")
    print(f"strategy 'auto' would pick: {resolve_kind('auto')}")
    return 0


def _models(args) -> int:
    from restoolkit.models import available

    print("\n".join(available(args.pattern)))
    return 0


def _demo(args) -> int:
    from restoolkit.demo import residual_vs_plain, run_all

    if args.only_core:
        residual_vs_plain(args.depth, epochs=args.epochs, n_train=args.n_train, report_dir=args.out)
    else:
        run_all(args.out, quick=args.quick)
    return 0


def _load_config(path) -> dict:
    import json
    from pathlib import Path

    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise SystemExit(f"config file not found: {path}") from None
    except json.JSONDecodeError as e:
        raise SystemExit(f"{path}: not valid JSON ({e})") from None


def _task(args, *, evaluate_only: bool) -> int:
    from restoolkit.tasks import TASKS

    config = _load_config(args.config)
    if "run_dir" not in config:
        raise SystemExit(f"{args.config}: the config needs a 'run_dir'")
    result = TASKS[args.domain](config, evaluate_only=evaluate_only)
    print(f"results written to {config['run_dir']}: " + ", ".join(k for k in result if not k.startswith("_")))
    return 0


def _pretrain(args) -> int:
    from restoolkit.pretrain import main as pretrain

    pretrain(args.rest)
    return 0


def _benchmark(args) -> int:
    import runpy
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "benchmarks"
    scripts = sorted(p.stem for p in folder.glob("*.py"))
    if args.name not in scripts:
        raise SystemExit(f"unknown benchmark {args.name!r}; benchmarks: {scripts} (in {folder})")
    sys.argv = [str(folder / f"{args.name}.py"), *args.rest]
    runpy.run_path(str(folder / f"{args.name}.py"), run_name="__main__")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="restoolkit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="the main job on generated data: core experiment and all three domains")
    demo.add_argument("--quick", action="store_true", help="tiny settings (a smoke run)")
    demo.add_argument("--only-core", action="store_true", help="only the ResNet vs plain-twin experiment")
    demo.add_argument("--depth", type=int, default=56, choices=[20, 32, 44, 56, 110])
    demo.add_argument("--epochs", type=int, default=4)
    demo.add_argument("--n-train", type=int, default=2048)
    demo.add_argument("--out", default="runs/demo")
    demo.set_defaults(func=_demo)
    for name, evaluate_only in (("train", False), ("evaluate", True)):
        p = sub.add_parser(name, help=f"{name} a domain job from a JSON config (see restoolkit.tasks)")
        p.add_argument("domain", choices=["medical", "driving", "fraud"])
        p.add_argument("--config", required=True, help="JSON file; keys in restoolkit/tasks.py")
        p.set_defaults(func=lambda a, e=evaluate_only: _task(a, evaluate_only=e))
    pre = sub.add_parser("pretrain", help="build the presets (python -m restoolkit.pretrain)")
    pre.add_argument("rest", nargs=argparse.REMAINDER)
    pre.set_defaults(func=_pretrain)
    bench = sub.add_parser("benchmark", help="run a script of benchmarks/ by name")
    bench.add_argument("name")
    bench.add_argument("rest", nargs=argparse.REMAINDER)
    bench.set_defaults(func=_benchmark)
    info = sub.add_parser("info", help="versions, devices and the strategy 'auto' would pick")
    info.set_defaults(func=_info)
    models = sub.add_parser("models", help="list registered model names")
    models.add_argument("pattern", nargs="?", default=None)
    models.set_defaults(func=_models)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
