"""Our fraud models against the baselines a fraud team would run, on one time-ordered split, over seeds.

Simulated bank by default (the README's setting: 1,000 customers × 90 days, train 49 d / delay 7 d /
test 28 d); or any CSV / Parquet table (``--table``, ``--target``; 60/20/20 in time order). Every
stochastic model is trained once per seed; the table gives AUPRC mean ± sd and spread (largest minus
smallest). Goals (issue 15): the default model's spread ≤ 0.01 over 5 seeds; both our models ≥ the best
GBDT's mean AUPRC.

    python benchmarks/fraud_compare.py [--seeds 5] [--models resmlp,resmlp_single,ft_transformer,...] [--customers 1000]
    python benchmarks/fraud_compare.py --table creditcard.csv --target Class --time Time
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# OpenMP threads that spin while waiting slow the GBDTs many times over next to TensorFlow's threads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def main(argv=None):
    from domains.fraud import (
        SIMULATED_SCHEMA,
        add_behaviour_features,
        compare,
        infer_schema,
        read_table,
        simulate_transactions,
    )
    from domains.fraud.baselines import available_baselines

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--models", default=None, help="comma-separated; default: resmlp (the default ensemble), "
                        "resmlp_single, ft_transformer and every installed baseline")
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--table", default=None, help="a CSV / Parquet table instead of the simulator")
    parser.add_argument("--target", default=None)
    parser.add_argument("--time", default=None)
    args = parser.parse_args(argv)
    models = args.models.split(",") if args.models else ["resmlp", "resmlp_single", "ft_transformer",
                                                         *available_baselines()]
    start = time.perf_counter()
    if args.table:
        df = read_table(args.table)
        schema = infer_schema(df, args.target, time=args.time)
        split = {}
        what = f"{args.table}: {len(df):,} rows, 60/20/20 in time order"
    else:
        df = add_behaviour_features(simulate_transactions(args.customers, 2 * args.customers, args.days, seed=0))
        schema = SIMULATED_SCHEMA
        split = {"train_days": 49, "delay_days": 7, "test_days": 28}
        what = (f"simulated bank, {args.customers:,} customers × {args.days} days ({len(df):,} transactions), "
                "train 49 d (last 20% validating) / delay 7 d / test 28 d")
    table = compare(df, schema, **split, models=models, seeds=range(args.seeds))
    print(f"# fraud comparison: {what}; {args.seeds} seeds; {platform.machine()}, {os.cpu_count()} cores")
    print("| model | AUPRC mean ± sd | spread | ROC-AUC | recall@FPR 1% | train s / seed |\n|---|---|---|---|---|---|")
    for name, row in table.iterrows():
        print(f"| {name} | {row['auprc']:.3f} ± {row['auprc_sd']:.3f} | {row['auprc_spread']:.3f} | "
              f"{row['roc_auc']:.3f} | {row['recall@fpr0.01']:.3f} | {row['train_seconds']:.0f} |")
    gbdts = [n for n in ("hist gradient boosting", "xgboost", "lightgbm") if n in table.index]
    if gbdts:
        best = table.loc[gbdts, "auprc"].max()
        for ours in [n for n in table.index if "(ours)" in n]:
            verdict = "met" if table.loc[ours, "auprc"] >= best else "NOT met"
            print(f"\n{ours}: mean AUPRC {table.loc[ours, 'auprc']:.3f} vs best GBDT {best:.3f} ({verdict}); "
                  f"seed spread {table.loc[ours, 'auprc_spread']:.3f} "
                  f"({'met' if table.loc[ours, 'auprc_spread'] <= 0.01 else 'NOT met'}: ≤ 0.01)")
    print(f"\n{time.perf_counter() - start:.0f} s in all")
    return table


if __name__ == "__main__":
    main()
