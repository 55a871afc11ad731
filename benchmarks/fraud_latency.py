"""Fraud scoring latency: one transaction (p50 / p99) and batch throughput, NumPy scorer and SavedModel
against ``model.predict`` measured in the same run. Goals: p99 < 1 ms for one transaction, ≥ 1M rows/s
in batches of 4096 (on a 2-core CPU).

    python benchmarks/fraud_latency.py [--width 24] [--hidden-factor 1] [--members 6] [--repeats 2000] [--columns 30]

The network defaults to the FraudClassifier default (``DEFAULT_BACKBONE``: 6 members of width 24, blocks
as wide inside); ``--members 1 --width 32 --hidden-factor 2`` is the single network (preset
``resmlp_single_fraud``).

``--columns N``: a table in the public credit-card layout (``Time``, ``V1``…, ``Amount``: N numeric columns,
no categorical) instead of the simulator's 17 columns. N = 30 scores all of that table's columns, as the
issue measured them; ``CREDITCARD_SCHEMA`` itself feeds 29 (``Time`` only orders the rows), a little less work.
"""

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from domains.fraud import (  # noqa: E402
    SIMULATED_SCHEMA,
    FraudClassifier,
    Scorer,
    add_behaviour_features,
    export_scorer,
    predict_scores,
    simulate_transactions,
    time_split,
)
from domains.fraud import train as train_task  # noqa: E402
from domains.fraud.fraud_classifier import DEFAULT_BACKBONE  # noqa: E402


def percentiles(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return np.percentile(times, 50) * 1e6, np.percentile(times, 99) * 1e6


def throughput(fn, rows, seconds=2.0):
    fn()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        n += rows
    return n / (time.perf_counter() - start)


def creditcard_like(columns: int, rows: int = 20_000, seed: int = 0):
    """A table in the public credit-card layout with ``columns`` numeric columns; time-ordered 80/20."""
    import pandas as pd

    from domains.fraud import Schema, split

    rng = np.random.default_rng(seed)
    names = ["Time", *[f"V{i}" for i in range(1, columns - 1)], "Amount"]
    df = pd.DataFrame(rng.normal(size=(rows, columns)), columns=names)
    df["Time"] = np.sort(rng.uniform(0, 172_800, rows))
    df["Amount"] = rng.gamma(2, 40, rows)
    df["Class"] = ((df["V1"] + df["V2"] > 3.2) | (rng.random(rows) < 0.001)).astype(int)
    schema = Schema(numeric=names, target="Class", time="Time")
    train, test = split(df, schema=schema, fractions=(0.8, 0.2))
    return schema, train, test


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--width", type=int, default=DEFAULT_BACKBONE["width"])
    parser.add_argument("--depth", type=int, default=DEFAULT_BACKBONE["depth"])
    parser.add_argument("--hidden-factor", type=float, default=DEFAULT_BACKBONE.get("hidden_factor", 2.0),
                        help="each residual block's inner width, in multiples of --width")
    parser.add_argument("--members", type=int, default=DEFAULT_BACKBONE["members"],
                        help="an ensemble of this many networks (members=k; 1: one network)")
    parser.add_argument("--repeats", type=int, default=2000)
    parser.add_argument("--columns", type=int, default=None, help="numeric columns of a credit-card-like table")
    parser.add_argument("--seconds", type=float, default=2.0, help="throughput measured over this long per engine")
    args = parser.parse_args(argv)
    if args.columns:
        schema, train, test = creditcard_like(args.columns)
    else:
        schema = SIMULATED_SCHEMA
        df = add_behaviour_features(simulate_transactions(300, 600, 60, seed=0))
        train, test = time_split(df, schema, train_days=35, delay_days=7, test_days=14)
    options = {"width": args.width, "depth": args.depth, "hidden_factor": args.hidden_factor, "members": args.members}
    model = FraudClassifier.from_table(train, schema, backbone_options=options)
    scratch = tempfile.TemporaryDirectory()  # removed when main returns
    train_task(model, train, run_dir=Path(scratch.name) / "run", epochs=1, verbose=0)
    folder = export_scorer(model, Path(scratch.name) / "scorer", schema)
    fast, saved = Scorer.load(folder), Scorer.load(folder, engine="savedmodel")
    unfolded = Scorer.load(folder)
    unfolded._stem = None  # the general path: scale, concatenate, then the first dense layer
    test = schema.validate(test)
    row = test.iloc[0][schema.features].to_dict()
    one = test.head(1)
    batch = test.sample(4096, replace=True, random_state=0)
    print(f"# fraud scoring, {len(schema.features)} columns, resmlp width {args.width} depth {args.depth} "
          f"hidden factor {args.hidden_factor:g} members {args.members} "
          f"({model.count_params():,} parameters); "
          f"{platform.machine()}, {os.cpu_count()} cores")
    print("| engine | one transaction p50 µs | p99 µs | rows/s, batches of 4096 |\n|---|---|---|---|")
    results = {}
    for name, single, many in [
        ("model.predict (baseline)", lambda: predict_scores(model, one, schema),
         lambda: predict_scores(model, batch, schema)),
        ("Scorer, SavedModel engine", lambda: saved.score(row), lambda: saved.score(batch)),
        ("Scorer, NumPy engine, encoder not folded", lambda: unfolded.score(row), lambda: unfolded.score(batch)),
        ("Scorer, NumPy engine", lambda: fast.score(row), lambda: fast.score(batch)),
    ]:
        repeats = args.repeats if "predict" not in name else max(50, args.repeats // 20)
        p50, p99 = percentiles(single, repeats)
        rate = throughput(many, len(batch), args.seconds)
        results[name] = (p50, p99, rate)
        print(f"| {name} | {p50:.0f} | {p99:.0f} | {rate:,.0f} |", flush=True)
    base = results["model.predict (baseline)"]
    ours = results["Scorer, NumPy engine"]
    print(f"\nNumPy scorer vs model.predict: one transaction p99 {base[1] / ours[1]:.0f}x faster; "
          f"batches {ours[2] / base[2]:.1f}x the throughput. Goals: p99 < 1000 µs "
          f"({'met' if ours[1] < 1000 else 'NOT met'}), ≥ 1,000,000 rows/s ({'met' if ours[2] >= 1e6 else 'NOT met'}).")


if __name__ == "__main__":
    main()
