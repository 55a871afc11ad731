"""Command line: ``python -m restoolkit {demo,train,evaluate,pretrain,benchmark,info,models}``.

``train`` / ``evaluate`` / ``pretrain`` and the domain sections of ``demo`` come from the installed domain
applications (entry-point group ``restoolkit.domains``): the core names none of them.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _info(_args) -> int:
    import keras
    import tensorflow as tf

    import restoolkit
    from restoolkit.tasks import installed_apps
    from restoolkit.training import resolve_kind

    print(f"restoolkit {restoolkit.__version__}")
    print(f"keras {keras.__version__} (backend {keras.backend.backend()}), tensorflow {tf.__version__}")
    print(f"devices: {[d.name for d in tf.config.list_logical_devices()]}")
    print(f"strategy 'auto' would pick: {resolve_kind('auto')}")
    print(f"domains: {', '.join(installed_apps()) or 'none installed'}")
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

    from restoolkit.errors import ConfigError

    path = Path(path).expanduser()
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None


def _task(args, apps, *, evaluate_only: bool) -> int:
    app = apps[args.domain]
    config = app.validate(_load_config(args.config), where=args.config)  # before any work
    result = app.run(config, evaluate_only=evaluate_only)
    print(f"results written to {config['run_dir']}: " + ", ".join(k for k in result if not k.startswith("_")))
    return 0


def _pretrain(args, apps) -> int:
    import time
    from pathlib import Path

    from restoolkit.presets import home

    out = Path(args.out).expanduser() if args.out else home() / "presets"
    recipes = {name: build for app in apps.values() for name, build in app.recipes.items()}
    chosen = [args.only] if args.only else sorted(recipes)
    start = time.perf_counter()
    for name in chosen:
        if name not in recipes:
            from restoolkit.errors import ConfigError

            raise ConfigError(f"unknown preset recipe {name!r}; recipes: {sorted(recipes)}")
        print(f"preset written: {recipes[name](out, args.small)}", flush=True)
    print(f"pretrain done in {time.perf_counter() - start:.0f} s")
    return 0


def benchmark_scripts() -> dict:
    """Benchmark scripts by name, from the installed ``benchmarks`` package (a checkout or a wheel)."""
    from importlib.util import find_spec
    from pathlib import Path

    spec = find_spec("benchmarks")
    if spec is None or not spec.submodule_search_locations:
        return {}
    folder = Path(list(spec.submodule_search_locations)[0])
    return {p.stem: p for p in sorted(folder.glob("*.py")) if not p.stem.startswith("_")}


def _benchmark(args) -> int:
    import runpy

    from restoolkit.errors import ConfigError

    scripts = benchmark_scripts()
    if args.name == "list":
        print("\n".join(scripts))
        return 0
    if args.name not in scripts:
        raise ConfigError(f"unknown benchmark {args.name!r}; benchmarks: {sorted(scripts)}")
    sys.argv = [str(scripts[args.name]), *args.rest]
    runpy.run_path(str(scripts[args.name]), run_name="__main__")
    return 0


def build_parser(apps) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="restoolkit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="the main job on generated data: core experiment and every installed domain")
    demo.add_argument("--quick", action="store_true", help="tiny settings (a smoke run)")
    demo.add_argument("--only-core", action="store_true", help="only the ResNet vs plain-twin experiment")
    demo.add_argument("--depth", type=int, default=56, choices=[20, 32, 44, 56, 110])
    demo.add_argument("--epochs", type=int, default=4)
    demo.add_argument("--n-train", type=int, default=2048)
    demo.add_argument("--out", default="runs/demo")
    demo.set_defaults(func=_demo)
    for name, evaluate_only in (("train", False), ("evaluate", True)):
        p = sub.add_parser(name, help=f"{name} a domain job from a JSON config")
        domains = p.add_subparsers(dest="domain", required=True, metavar="DOMAIN")
        for app in apps.values():
            d = domains.add_parser(app.name, help=app.description, epilog=app.help(),
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
            d.add_argument("--config", required=True, help="a JSON file holding an object of the keys below")
            d.set_defaults(func=lambda a, e=evaluate_only: _task(a, apps, evaluate_only=e))
    pre = sub.add_parser("pretrain", help="build the preset recipes of the installed domains")
    pre.add_argument("--out", default=None, help="folder of presets (default $RESTOOLKIT_HOME/presets)")
    pre.add_argument("--only", default=None, help="one recipe by name")
    pre.add_argument("--small", action="store_true", help="tiny settings (tests, smoke runs)")
    pre.set_defaults(func=lambda a: _pretrain(a, apps))
    bench = sub.add_parser("benchmark", help="run a script of the benchmarks package by name ('list' lists them)")
    bench.add_argument("name")
    bench.add_argument("rest", nargs=argparse.REMAINDER)
    bench.set_defaults(func=_benchmark)
    info = sub.add_parser("info", help="versions, devices, domains and the strategy 'auto' would pick")
    info.set_defaults(func=_info)
    models = sub.add_parser("models", help="list registered model names")
    models.add_argument("pattern", nargs="?", default=None)
    models.set_defaults(func=_models)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the command; bad input (any :class:`~restoolkit.errors.RestoolkitError`) prints one line and
    exits with status 2."""
    from restoolkit.errors import RestoolkitError
    from restoolkit.tasks import installed_apps

    apps = installed_apps()
    args = build_parser(apps).parse_args(argv)
    try:
        return args.func(args)
    except RestoolkitError as e:
        print(f"restoolkit: error: {e}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    sys.exit(main())
