"""Behavioural features of a transactions table larger than memory.

A customer feature needs only that customer's rows, a terminal feature only that terminal's. So a
Parquet dataset (one file or a folder of files) is streamed in record batches and hash-partitioned by
customer into ``buckets`` files; each bucket (``1/buckets`` of the table) gets the customer features in
memory; the result is hash-partitioned again by terminal and each bucket gets the terminal features.
Peak memory is one record batch or one bucket, not the table. The values equal
:func:`~domains.fraud.data.add_behaviour_features` on the whole table (test), so a Spark or Dask job that
groups by the same keys computes the same features.

    from domains.fraud.scale import add_behaviour_features_parquet
    parts = add_behaviour_features_parquet("transactions/", "featured/", buckets=256)
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from domains.fraud.data import WINDOWS, _times, add_customer_features, add_terminal_features, as_instant
from restoolkit.errors import ConfigError, SchemaError

REQUIRED = ("tx_datetime", "customer_id", "terminal_id", "tx_amount", "tx_fraud")


def bucket_of(keys, buckets: int) -> np.ndarray:
    """The partition of each key: integers modulo ``buckets``; anything else by pandas' stable hash."""
    keys = np.asarray(keys)
    if np.issubdtype(keys.dtype, np.integer):
        return (keys.astype("int64") % buckets).astype("int64")
    return (pd.util.hash_array(keys.astype(object)) % np.uint64(buckets)).astype("int64")


def partition_parquet(source, folder, key: str, *, buckets: int, batch_rows: int = 500_000) -> list[Path]:
    """Streams the Parquet dataset ``source`` into ``buckets`` files by ``key``; rows keep their order
    within a bucket. Returns the bucket files that received rows."""
    import pyarrow as pa
    import pyarrow.dataset as pads
    import pyarrow.parquet as pq

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    dataset = pads.dataset(str(source), format="parquet")
    writers = {}
    try:
        for batch in dataset.to_batches(batch_size=batch_rows):
            bucket = bucket_of(batch.column(key).to_numpy(zero_copy_only=False), buckets)
            order = np.argsort(bucket, kind="stable")
            counts = np.bincount(bucket, minlength=buckets)
            grouped = batch.take(pa.array(order))
            start = 0
            for b in np.flatnonzero(counts):
                if b not in writers:
                    writers[b] = pq.ParquetWriter(folder / f"bucket-{b:05d}.parquet", batch.schema)
                writers[b].write_batch(grouped.slice(start, int(counts[b])))
                start += int(counts[b])
    finally:
        for writer in writers.values():
            writer.close()
    return [folder / f"bucket-{b:05d}.parquet" for b in sorted(writers)]


def add_behaviour_features_parquet(source, dest, *, buckets: int = 64, batch_rows: int = 500_000,
                                   label_delay_days: int = 7, windows=WINDOWS, progress: bool = True) -> list[Path]:
    """:func:`~domains.fraud.data.add_behaviour_features` for a Parquet dataset of any size.

    Args:
        source: a Parquet file or a folder of them with the simulator's columns (at least
            ``tx_datetime``, ``customer_id``, ``terminal_id``, ``tx_amount``, ``tx_fraud``).
        dest: the output folder: ``part-XXXXX.parquet`` files, each a terminal partition sorted by time.
        buckets: partitions; each must fit in memory (about ``rows / buckets`` rows at a time).
        batch_rows: rows per streamed record batch.
        progress: print one line per stage.

    Returns:
        The written part files.
    """
    import pyarrow.dataset as pads
    import pyarrow.parquet as pq

    if buckets < 1 or batch_rows < 1:
        raise ConfigError(f"buckets and batch_rows must be positive, got {buckets} and {batch_rows}")
    try:
        columns = pads.dataset(str(source), format="parquet").schema.names
    except (OSError, ValueError) as e:  # pyarrow's ArrowInvalid is a ValueError
        raise SchemaError(f"{source}: not a readable Parquet dataset: {e}") from None
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise SchemaError(f"{source}: missing column(s) {missing}; columns present: {columns}")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="restoolkit-features-", dir=dest))
    try:
        by_customer = partition_parquet(source, work / "by_customer", "customer_id", buckets=buckets,
                                        batch_rows=batch_rows)
        _say(progress, f"features: partitioned by customer into {len(by_customer)} buckets")
        for path in by_customer:
            frame = pq.read_table(path).to_pandas().sort_values("tx_datetime", kind="stable")
            add_customer_features(frame, windows=windows)
            (work / "customer_features").mkdir(exist_ok=True)
            frame.to_parquet(work / "customer_features" / path.name, index=False)
            path.unlink()
        _say(progress, "features: customer features done")
        by_terminal = partition_parquet(work / "customer_features", work / "by_terminal", "terminal_id",
                                        buckets=buckets, batch_rows=batch_rows)
        shutil.rmtree(work / "customer_features")
        parts = []
        for path in by_terminal:
            frame = pq.read_table(path).to_pandas().sort_values("tx_datetime", kind="stable")
            add_terminal_features(frame, label_delay_days=label_delay_days, windows=windows)
            part = dest / path.name.replace("bucket-", "part-")
            frame.to_parquet(part, index=False)
            parts.append(part)
            path.unlink()
        _say(progress, f"features: terminal features done; {len(parts)} parts in {dest}")
        return parts
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _say(progress: bool, message: str) -> None:
    if progress:
        print(message, flush=True)


# --- training streamed from Parquet shards ------------------------------------------------------------------

def worker_shard(environ=None) -> tuple[int, int]:
    """``(index, count)`` of this process among the ``tf.distribute`` workers named in ``TF_CONFIG`` (chief
    first, then workers); ``(0, 1)`` without one."""
    import json
    import os

    environ = os.environ if environ is None else environ
    if not environ.get("TF_CONFIG"):
        return 0, 1
    config = json.loads(environ["TF_CONFIG"])
    cluster, task = config.get("cluster", {}), config.get("task", {})
    members = [("chief", i) for i in range(len(cluster.get("chief", [])))] + \
        [("worker", i) for i in range(len(cluster.get("worker", [])))]
    me = (task.get("type"), int(task.get("index", 0)))
    if me not in members:
        raise ConfigError(f"TF_CONFIG: task {me} is not a chief or worker of the cluster {sorted(cluster)}")
    return members.index(me), len(members)


def _my_files(files, shard) -> list[Path]:
    index, count = shard or worker_shard()
    files = sorted(Path(f) for f in files)
    if len(files) < count:
        raise ConfigError(f"{len(files)} Parquet file(s) for {count} workers: each worker needs at least one")
    return files[index::count]


def parquet_batches(files, schema, *, start=None, end=None, batch_rows: int = 65_536, shard=None, seed=None):
    """Validated DataFrames of the rows with ``start ≤ time < end`` (timestamps, or numbers in the schema's
    ``time_unit`` for a numeric time column) from this worker's share of ``files``
    (``files[index::count]`` for ``shard=(index, count)``, default :func:`worker_shard`), one Parquet record
    batch at a time. ``seed``: the file order and the rows within each batch are shuffled with it."""
    import pyarrow.parquet as pq

    mine = _my_files(files, shard)
    rng = np.random.default_rng(seed) if seed is not None else None
    if rng is not None:
        mine = [mine[i] for i in rng.permutation(len(mine))]
    low = as_instant(start, schema) if start is not None else None
    high = as_instant(end, schema) if end is not None else None
    for path in mine:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
            frame = batch.to_pandas()
            if schema.time is not None and (low is not None or high is not None):
                times = _times(frame, schema)  # numbers in schema.time_unit, as every split reads them
                keep = np.ones(len(frame), bool)
                if low is not None:
                    keep &= (times >= low).to_numpy()
                if high is not None:
                    keep &= (times < high).to_numpy()
                frame = frame[keep]
            if len(frame) == 0:
                continue
            if rng is not None:
                frame = frame.iloc[rng.permutation(len(frame))]
            yield schema.validate(frame, where=str(path))


def make_parquet_dataset(files, schema, *, batch_size: int, start=None, end=None, shuffle: bool = False,
                         seed: int = 0, batch_rows: int = 65_536, shard=None):
    """``(inputs, label)`` batches as ``tf.data``, streamed from Parquet shards: memory holds one record
    batch, not the table. Each ``tf.distribute`` worker reads its own files (see :func:`worker_shard`), so
    the dataset's auto-sharding is off. ``shuffle``: a new file order and row order every epoch."""
    import tensorflow as tf

    from domains.fraud.features import to_inputs

    shard = shard or worker_shard()
    _my_files(files, shard)  # refuse a bad sharding here, not inside tf.data
    signature = ({c: tf.TensorSpec((None, 1), tf.float32, name=c) for c in schema.numeric}
                 | {c: tf.TensorSpec((None, 1), tf.string, name=c) for c in schema.categorical},
                 tf.TensorSpec((None,), tf.float32))
    epoch = [0]

    def chunks():
        epoch[0] += 1
        for frame in parquet_batches(files, schema, start=start, end=end, batch_rows=batch_rows, shard=shard,
                                     seed=seed * 100_003 + epoch[0] if shuffle else None):
            yield to_inputs(frame, schema), frame[schema.target].to_numpy("float32")

    ds = tf.data.Dataset.from_generator(chunks, output_signature=signature).rebatch(batch_size)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return ds.with_options(options).prefetch(2)
