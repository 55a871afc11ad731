"""The degradation problem (He et al. 2016, fig. 1) on generated data: plain vs residual nets by depth.

Prints the table whatever it shows, and writes runs/bench/degradation.{csv,png}.

    python benchmarks/degradation.py [--depths 8 20 56] [--epochs 10]
"""

import argparse
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

from restoolkit.diagnostics import degradation_experiment, plot_degradation  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--depths", type=int, nargs="+", default=[8, 20, 56])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--n-train", type=int, default=2048)
    parser.add_argument("--out", default="runs/bench")
    args = parser.parse_args()
    start = time.perf_counter()
    df = degradation_experiment(args.depths, epochs=args.epochs, n_train=args.n_train)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    df.to_csv(out / "degradation.csv", index=False)
    ax = plot_degradation(df)
    ax.figure.savefig(out / "degradation.png", dpi=120, bbox_inches="tight")
    print(f"\n{time.strftime('%Y-%m-%d')}, {platform.machine()} {os.cpu_count()} cores, "
          f"{args.epochs} epochs, {args.n_train} training images, {time.perf_counter() - start:.0f} s")
    print(df.to_markdown(index=False, floatfmt=".3f") if _has_tabulate() else df.to_string(index=False))
    # What the benchmark exists for: how much worse the plain twin trains at each depth (a ratio is
    # undefined when the residual net reaches zero error, so the difference is printed too).
    for depth, part in df.groupby("depth"):
        plain = part[part.kind == "plain"].train_error.iloc[0]
        res = part[part.kind == "residual"].train_error.iloc[0]
        ratio = f"{plain / res:.2f}" if res > 0 else ("1.00 (both 0)" if plain == 0 else "inf (residual 0)")
        print(f"depth {depth}: training error plain - residual = {plain - res:+.3f}; plain / residual = {ratio}")


def _has_tabulate():
    try:
        import tabulate  # noqa: F401

        return True
    except ImportError:
        return False


if __name__ == "__main__":
    main()
