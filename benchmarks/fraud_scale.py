"""A transactions table larger than the memory it is processed in: features and training end to end, peak
RSS measured. Goal (issue 15): 20M rows on 2 cores with peak RSS under 4 GB.

The table: one simulated bank (``--customers`` × 90 days) written ``--copies`` times to Parquet with
shifted customer, terminal and transaction ids — independent banks side by side (features never mix
them), so the full table is never in memory, not even to generate it. Then:

1. behaviour features with :func:`domains.fraud.scale.add_behaviour_features_parquet` (baseline in the
   same run: :func:`domains.fraud.add_behaviour_features` in memory on one copy);
2. one epoch of training streamed from the featured shards (:func:`make_parquet_dataset`) over the
   first 49 days, the encoder fitted on a sample of one shard.

    python benchmarks/fraud_scale.py [--customers 5000] [--copies 24] [--buckets 64] [--work /tmp/...]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # Linux: kilobytes


def main(argv=None):
    import pandas as pd
    import pyarrow.parquet as pq

    from domains.fraud import SIMULATED_SCHEMA, FraudClassifier, add_behaviour_features, simulate_transactions
    from domains.fraud.scale import add_behaviour_features_parquet, make_parquet_dataset
    from restoolkit.tasks import train_task

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--copies", type=int, default=24)
    parser.add_argument("--buckets", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--work", default=None, help="folder for the Parquet data (default: a temporary one)")
    args = parser.parse_args(argv)
    work = Path(args.work or tempfile.mkdtemp(prefix="restoolkit-fraud-scale-"))
    raw_dir = work / "raw"
    raw_dir.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    bank = simulate_transactions(args.customers, 2 * args.customers, 90, seed=0)
    per_copy = len(bank)
    for k in range(args.copies):
        shifted = bank.assign(customer_id=bank["customer_id"] + k * args.customers,
                              terminal_id=bank["terminal_id"] + k * 2 * args.customers,
                              transaction_id=bank["transaction_id"] + k * per_copy)
        shifted.to_parquet(raw_dir / f"bank-{k:03d}.parquet", index=False)
        del shifted
    rows = per_copy * args.copies
    simulate_s = time.perf_counter() - start
    print(f"# fraud at scale: {rows:,} rows ({args.copies} banks of {per_copy:,}), {args.buckets} buckets; "
          f"{platform.machine()}, {os.cpu_count()} cores", flush=True)
    print(f"simulated and written in {simulate_s:.0f} s; peak RSS so far {peak_rss_gb():.2f} GB", flush=True)

    del bank  # the baseline below simulates it again: its memory must not count in the out-of-core peak

    start = time.perf_counter()
    parts = add_behaviour_features_parquet(raw_dir, work / "featured", buckets=args.buckets)
    feature_s = time.perf_counter() - start
    feature_rate = rows / feature_s
    shutil.rmtree(raw_dir)
    print(f"features: {feature_rate:,.0f} rows/s out of core ({feature_s:.0f} s); peak RSS {peak_rss_gb():.2f} GB",
          flush=True)

    first = pd.Timestamp("2026-04-01")
    end = first + pd.Timedelta(days=49)
    sample = pq.read_table(parts[0]).to_pandas()
    sample = sample[sample["tx_datetime"] < end]
    sample = SIMULATED_SCHEMA.validate(sample.sample(min(50_000, len(sample)), random_state=0))
    task = FraudClassifier.from_table(sample, SIMULATED_SCHEMA)
    del sample
    ds = make_parquet_dataset(parts, SIMULATED_SCHEMA, batch_size=args.batch_size, start=first, end=end,
                              shuffle=True, shard=(0, 1))
    start = time.perf_counter()
    result = train_task(task, ds, None, run_dir=work / "run", epochs=1, verbose=0,
                        data_fingerprint=f"fraud_scale {args.customers} x {args.copies}")
    train_s = time.perf_counter() - start
    train_rows = sum(pq.ParquetFile(p).metadata.num_rows for p in parts) * 49 / 90  # about: days 0-48 of 90
    print(f"training: one epoch over about {train_rows:,.0f} rows streamed in {train_s:.0f} s "
          f"(about {train_rows / train_s:,.0f} rows/s), loss {result.history['loss'][-1]:.4f}; "
          f"peak RSS {peak_rss_gb():.2f} GB", flush=True)
    peak = peak_rss_gb()
    # Baseline, last (the peak RSS only grows): the in-memory features on one bank.
    bank = simulate_transactions(args.customers, 2 * args.customers, 90, seed=0)
    start = time.perf_counter()
    add_behaviour_features(bank)
    baseline_rate = per_copy / (time.perf_counter() - start)
    print(f"baseline: add_behaviour_features in memory on one bank ({per_copy:,} rows): {baseline_rate:,.0f} rows/s; "
          f"out of core {feature_rate / baseline_rate:.2f}x that rate on {args.copies}x the rows; "
          f"peak RSS with it {peak_rss_gb():.2f} GB")
    print(f"\nGoal: peak RSS < 4 GB for {rows:,} rows end to end (before the baseline): {peak:.2f} GB "
          f"({'met' if peak < 4 else 'NOT met'})")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return {"rows": rows, "peak_rss_gb": peak, "feature_rows_per_s": feature_rate, "train_seconds": train_s}


if __name__ == "__main__":
    main()
