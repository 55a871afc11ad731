"""Features of a table larger than memory, computed partition by partition, equal the in-memory ones."""

import numpy as np
import pandas as pd
import pytest

from domains.fraud import SchemaError, add_behaviour_features, simulate_transactions
from domains.fraud.scale import add_behaviour_features_parquet, bucket_of


def test_parquet_features_equal_the_in_memory_features(tmp_path, capsys):
    raw = simulate_transactions(150, 300, 45, seed=3)
    source = tmp_path / "source"
    source.mkdir()
    for i, start in enumerate(range(0, len(raw), len(raw) // 3 + 1)):  # several files, in arrival order
        part = raw.iloc[start:start + len(raw) // 3 + 1]
        part.to_parquet(source / f"day-chunk-{i}.parquet", index=False)
    parts = add_behaviour_features_parquet(source, tmp_path / "featured", buckets=5, batch_rows=3000)
    assert "terminal features done" in capsys.readouterr().out
    assert 1 < len(parts) <= 5 and not list((tmp_path / "featured").glob("restoolkit-features-*"))
    got = pd.concat([pd.read_parquet(p) for p in parts]).sort_values("transaction_id").reset_index(drop=True)
    want = add_behaviour_features(raw).sort_values("transaction_id").reset_index(drop=True)
    assert len(got) == len(raw)
    pd.testing.assert_frame_equal(got[want.columns], want, check_dtype=False)
    for p in parts:  # each part: whole terminals, in time order
        frame = pd.read_parquet(p)
        assert frame["tx_datetime"].is_monotonic_increasing
        assert set(bucket_of(frame["terminal_id"].to_numpy(), 5)) == {int(p.stem.split("-")[1])}


def test_bad_sources_are_typed_errors(tmp_path):
    raw = simulate_transactions(20, 40, 20, seed=0)
    raw.drop(columns=["terminal_id"]).to_parquet(tmp_path / "t.parquet")
    with pytest.raises(SchemaError, match=r"missing column\(s\) \['terminal_id'\]"):
        add_behaviour_features_parquet(tmp_path / "t.parquet", tmp_path / "out", progress=False)
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(SchemaError, match="not a readable Parquet dataset"):
        add_behaviour_features_parquet(tmp_path / "bad.parquet", tmp_path / "out2", progress=False)


def test_string_keys_partition_stably():
    keys = np.array(["card-1", "card-2", "card-1", "x"], dtype=object)
    b = bucket_of(keys, 7)
    assert b[0] == b[2] and ((b >= 0) & (b < 7)).all()
    assert (bucket_of(np.array([-3, 4, 11]), 7) == [4, 4, 4]).all()


def test_training_streams_from_parquet_shards_each_worker_its_own(tmp_path):
    """The streamed training window holds exactly the in-memory table's rows of that window, split between
    two workers without overlap; a FraudClassifier trains from the stream."""
    from domains.fraud import SIMULATED_SCHEMA, FraudClassifier
    from domains.fraud.scale import make_parquet_dataset, worker_shard
    from restoolkit.errors import ConfigError
    from restoolkit.tasks import train_task

    raw = simulate_transactions(80, 160, 40, seed=4)
    raw.to_parquet(tmp_path / "raw.parquet", index=False)
    parts = add_behaviour_features_parquet(tmp_path / "raw.parquet", tmp_path / "featured", buckets=4,
                                           progress=False)
    start, end = pd.Timestamp("2026-04-08"), pd.Timestamp("2026-04-29")
    table = add_behaviour_features(raw)
    window = table[(table["tx_datetime"] >= start) & (table["tx_datetime"] < end)]
    seen = []
    for shard in ((0, 2), (1, 2)):
        ds = make_parquet_dataset(parts, SIMULATED_SCHEMA, batch_size=256, start=start, end=end, shuffle=True,
                                  shard=shard)
        amounts = [np.round(x["tx_amount"].numpy()[:, 0], 2) for x, _ in ds]
        labels = [y.numpy() for _, y in ds]
        assert max(len(a) for a in amounts) == 256
        seen.append((np.concatenate(amounts), np.concatenate(labels)))
    amounts = np.concatenate([a for a, _ in seen])
    assert len(amounts) == len(window)
    np.testing.assert_allclose(np.sort(amounts), np.sort(window["tx_amount"].to_numpy("float32")), rtol=1e-6)
    assert sum(y.sum() for _, y in seen) == window["tx_fraud"].sum()
    assert worker_shard({"TF_CONFIG": '{"cluster": {"chief": ["a:1"], "worker": ["b:1", "c:1"]}, '
                                      '"task": {"type": "worker", "index": 1}}'}) == (2, 3)
    assert worker_shard({}) == (0, 1)
    with pytest.raises(ConfigError, match="each worker needs at least one"):
        make_parquet_dataset(parts[:1], SIMULATED_SCHEMA, batch_size=8, shard=(0, 2))
    # Training from the stream: the encoder fitted on a sample, the network on every streamed row.
    sample = SIMULATED_SCHEMA.validate(window.sample(2000, random_state=0))
    task = FraudClassifier.from_table(sample, SIMULATED_SCHEMA)
    ds = make_parquet_dataset(parts, SIMULATED_SCHEMA, batch_size=512, start=start, end=end, shuffle=True,
                              shard=(0, 1))
    result = train_task(task, ds, None, run_dir=tmp_path / "run", epochs=2, verbose=0,
                        data_fingerprint=f"parquet {sorted(p.name for p in parts)} {start} {end}")
    assert len(result.history["loss"]) == 2 and np.isfinite(result.history["loss"]).all()
    assert np.isfinite(task.predict(window.head(50))).all()


def test_streamed_windows_read_numeric_times_in_the_schemas_unit(tmp_path):
    """A numeric time column (the credit-card layout, here in days) is filtered in its unit: the same rows
    time_split's training period holds. Parsing the numbers as datetimes would read whole nanoseconds."""
    from dataclasses import replace

    from domains.fraud import CREDITCARD_SCHEMA, time_split
    from domains.fraud.scale import parquet_batches

    rng = np.random.default_rng(0)
    n = 2000
    df = pd.DataFrame(rng.normal(size=(n, 28)), columns=[f"V{i}" for i in range(1, 29)])
    df.insert(0, "Time", np.sort(rng.uniform(10.3, 12.3, n)))  # days since some origin
    df["Amount"] = rng.gamma(2, 40, n)
    df["Class"] = (rng.random(n) < 0.05).astype(int)
    df.iloc[: n // 2].to_parquet(tmp_path / "a.parquet", index=False)
    df.iloc[n // 2:].to_parquet(tmp_path / "b.parquet", index=False)
    schema = replace(CREDITCARD_SCHEMA, time_unit="D")
    first = float(df["Time"].min())
    got = pd.concat(parquet_batches([tmp_path / "a.parquet", tmp_path / "b.parquet"], schema,
                                    start=first, end=first + 1, batch_rows=300, shard=(0, 1)))
    want, _ = time_split(df, schema, train_days=1, delay_days=0, test_days=1)
    assert 0.3 * n < len(got) == len(want) < 0.7 * n
    np.testing.assert_array_equal(np.sort(got["Time"].to_numpy()), np.sort(want["Time"].to_numpy()))
