"""The simulator, behavioural features without leakage, validated loaders and time-ordered splits."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from domains.fraud.data import (
    SIMULATED_SCHEMA,
    SchemaError,
    add_behaviour_features,
    load_creditcard_csv,
    load_table,
    rolling_folds,
    simulate_transactions,
    time_split,
)


@pytest.mark.parametrize("customers, terminals", [(200, 400), (1000, 2000)])
def test_fraud_rate_stays_near_one_percent_at_any_size(customers, terminals):
    df = simulate_transactions(customers, terminals, 60, seed=1)
    assert 0.004 < df["tx_fraud"].mean() < 0.02
    assert set(df["tx_fraud_scenario"].unique()) <= {0, 1, 2, 3}
    assert (df.loc[df["tx_amount"] > 220, "tx_fraud"] == 1).all()
    assert df["tx_datetime"].is_monotonic_increasing
    assert ((df["tx_time_seconds"] % 86400) > 0).all()


def test_customers_use_terminals_within_the_radius():
    df = simulate_transactions(100, 300, 20, seed=2)
    rng = np.random.default_rng(2)  # the simulator draws customer coordinates first, terminals after
    cust = rng.uniform(0, 100, (100, 2))
    rng.uniform(5, 100, 100), rng.uniform(0, 4, 100)
    term = rng.uniform(0, 100, (300, 2))
    distances = np.linalg.norm(cust[df["customer_id"]] - term[df["terminal_id"]], axis=1)
    assert distances.max() <= 5.0 and distances.mean() > 1.0
    pd.testing.assert_frame_equal(df, simulate_transactions(100, 300, 20, seed=2))


def test_behaviour_features_equal_a_brute_force_count(transactions):
    df = transactions
    rng = np.random.default_rng(0)
    for i in rng.choice(len(df), 25, replace=False):
        row = df.iloc[i]
        t = row["tx_datetime"]
        mine = df[(df["customer_id"] == row["customer_id"]) & (df["tx_datetime"] > t - pd.Timedelta(days=7))
                  & (df["tx_datetime"] <= t)]
        assert row["customer_nb_tx_7d"] == len(mine)
        assert row["customer_avg_amount_7d"] == pytest.approx(mine["tx_amount"].mean())
        lo, hi = t - pd.Timedelta(days=7 + 30), t - pd.Timedelta(days=7)
        term = df[(df["terminal_id"] == row["terminal_id"]) & (df["tx_datetime"] > lo) & (df["tx_datetime"] <= hi)]
        assert row["terminal_nb_tx_30d"] == len(term)
        assert row["terminal_risk_30d"] == pytest.approx(term["tx_fraud"].mean() if len(term) else 0.0)


def test_terminal_risk_uses_no_label_from_the_delay_period(transactions):
    raw = transactions[["transaction_id", "tx_datetime", "customer_id", "terminal_id", "tx_amount", "tx_time_seconds",
                        "tx_time_days", "merchant_category", "tx_fraud", "tx_fraud_scenario"]]
    cut = raw["tx_datetime"].max() - pd.Timedelta(days=7)
    changed = raw.copy()
    changed.loc[changed["tx_datetime"] > cut, "tx_fraud"] = 1 - changed.loc[changed["tx_datetime"] > cut, "tx_fraud"]
    a, b = add_behaviour_features(raw), add_behaviour_features(changed)
    # Flipping every label of the last 7 days changes no terminal feature of any transaction.
    risk = [c for c in a.columns if c.startswith("terminal_")]
    pd.testing.assert_frame_equal(a[risk], b[risk])


def test_creditcard_loader_validates_the_public_schema(tmp_path):
    columns = ["Time", *[f"V{i}" for i in range(1, 29)], "Amount", "Class"]
    good = pd.DataFrame(np.random.default_rng(0).normal(size=(5, 31)), columns=columns)
    good["Class"] = [0, 1, 0, 0, 1]
    good.to_csv(tmp_path / "cc.csv", index=False)
    loaded = load_creditcard_csv(tmp_path / "cc.csv")
    assert loaded["V1"].dtype == np.float32 and loaded["Class"].tolist() == [0, 1, 0, 0, 1]
    cases = [(good.drop(columns=["V7"]), r"missing column\(s\) \['V7'\]"),
             (good.assign(Amount=["1", "2", "x", "4", "5"]), r"column 'Amount' must be numeric; row 2 holds 'x'"),
             (good.assign(V3=[1, np.nan, 1, 1, 1]), r"column 'V3' has 1 missing value"),
             (good.assign(Class=[0, 2, 0, 0, 1]), r"target column 'Class' must hold only 0 and 1"),
             (good.assign(V2=[1, np.inf, 1, 1, 1]), r"column 'V2' holds an infinite value")]
    for frame, message in cases:
        frame.to_csv(tmp_path / "bad.csv", index=False)
        with pytest.raises(SchemaError, match=message):
            load_creditcard_csv(tmp_path / "bad.csv")
    good.to_parquet(tmp_path / "cc.parquet")
    from domains.fraud.data import CREDITCARD_SCHEMA

    pd.testing.assert_frame_equal(load_table(tmp_path / "cc.parquet", CREDITCARD_SCHEMA), loaded)


def test_time_split_leaves_a_gap_and_removes_known_compromised_cards(transactions):
    train, test = time_split(transactions, train_days=35, delay_days=7, test_days=14)
    assert train["tx_datetime"].max() < test["tx_datetime"].min() - pd.Timedelta(days=7)
    known = set(train.loc[train["tx_fraud"] == 1, "customer_id"])
    assert known and not known & set(test["customer_id"])
    folds = list(rolling_folds(transactions, n_folds=3, train_days=28, delay_days=7, test_days=7))
    starts = [test["tx_datetime"].min() for _, test in folds]
    assert len(folds) == 3 and starts[0] > starts[1] > starts[2]
    with pytest.raises(ValueError, match="empty split"):
        time_split(transactions, train_days=35, delay_days=7, test_days=14, start="2030-01-01")
    assert SIMULATED_SCHEMA.validate(train)["merchant_category"].dtype == object


def _creditcard_like(n=3000, seed=0):
    """A table in the public credit-card layout: Time in seconds over two days, V1..V28, Amount, Class."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"Time": np.sort(rng.uniform(0, 172_800, n))})
    for i in range(1, 29):
        df[f"V{i}"] = rng.normal(size=n)
    df["Amount"] = rng.gamma(2, 40, n)
    df["Class"] = ((df["V1"] + 0.5 * df["V2"] > 2.6) | (rng.random(n) < 0.002)).astype(int)
    return df


def test_compare_and_time_split_run_on_the_creditcard_schema():
    """The public table's layout (numeric ``Time`` in seconds, no card column) through the API's defaults:
    time_split by days, compare by 60/20/20 in time order; the logistic-regression row equals
    scikit-learn's own pipeline fitted on the same rows."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from domains.fraud import CREDITCARD_SCHEMA, compare, infer_schema, time_split

    df = _creditcard_like().sample(frac=1.0, random_state=0)  # rows out of time order: the split orders them
    assert infer_schema(df, "Class", time="Time") == CREDITCARD_SCHEMA  # what a user reading the table gets
    train, test = time_split(df, CREDITCARD_SCHEMA, train_days=1, delay_days=0, test_days=1)
    day_one = df["Time"].min() + 86_400  # numeric time: the split starts at the first transaction
    assert train["Time"].max() < day_one <= test["Time"].min() and len(train) + len(test) == len(df)
    table = compare(df, CREDITCARD_SCHEMA, epochs=1, models=("resmlp", "logistic_regression"))
    assert list(table.index) == ["resmlp (ours)", "logistic regression"]
    import tempfile

    assert not [p for p in Path(tempfile.gettempdir()).iterdir() if p.name.startswith("restoolkit-fraud-compare")], \
        "compare left its run directory behind"
    ordered = df.sort_values("Time")
    n = len(df)
    first, last = ordered.iloc[: round(0.6 * n)], ordered.iloc[round(0.8 * n):]
    assert table.loc["logistic regression", "prevalence"] == last["Class"].mean()
    features = [f"V{i}" for i in range(1, 29)] + ["Amount"]  # Time orders the rows; as a feature it would
    # be a stamp every test row holds beyond the training range (see CREDITCARD_SCHEMA)
    oracle = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(first[features], first["Class"])
    expected = average_precision_score(last["Class"], oracle.predict_proba(last[features])[:, 1])
    assert table.loc["logistic regression", "auprc"] == pytest.approx(expected, abs=1e-4)
    assert expected > 3 * last["Class"].mean()


@settings(max_examples=40, deadline=None)
@given(seconds=st.lists(st.integers(0, 40 * 86_400), min_size=30, max_size=200),
       train_days=st.floats(0.5, 15), delay_days=st.floats(0, 5), test_days=st.floats(0.5, 15),
       unit=st.sampled_from(["s", "h", "D", "ms"]))
def test_time_split_on_numbers_and_on_datetimes_selects_the_same_rows(seconds, train_days, delay_days, test_days,
                                                                      unit):
    """The same instants as datetimes, as ISO strings (a CSV) and as numbers in any unit give the rows a
    direct comparison of seconds selects (the reference), with the card filter applied only with a card."""
    from domains.fraud import Schema, time_split
    from restoolkit.errors import ConfigError

    rng = np.random.default_rng(len(seconds))
    secs = np.asarray(seconds, "int64")
    per_unit = {"s": 1, "h": 3600, "D": 86_400, "ms": 0.001}[unit]
    df = pd.DataFrame({"when": pd.Timestamp("2026-03-01") + pd.to_timedelta(secs, unit="s"),
                       "t": secs / per_unit, "card": rng.integers(0, 5, len(secs)),
                       "y": (rng.random(len(secs)) < 0.3).astype(int), "x": rng.normal(size=len(secs))})
    df["when_text"] = df["when"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    start = secs.min()
    lo, mid = start, start + train_days * 86_400
    t0, t1 = mid + delay_days * 86_400, mid + (delay_days + test_days) * 86_400
    # A time exactly on a boundary is decided by the last bit of a float in another unit: not the question.
    assume(all(np.abs(secs - edge).min() > 1e-3 for edge in (mid, t0, t1)))
    want_train = (secs >= lo) & (secs < mid)
    want_test = (secs >= t0) & (secs < t1)
    known = set(df.loc[want_train & (df["y"] == 1).to_numpy(), "card"])
    want_test_cards = want_test & ~df["card"].isin(known).to_numpy()
    base = {"numeric": ["x"], "target": "y"}
    start_at = pd.Timestamp("2026-03-01") + pd.Timedelta(seconds=int(start))
    cases = [(Schema(**base, time="t", time_unit=unit), None, want_test),
             (Schema(**base, time="when"), start_at, want_test),
             (Schema(**base, time="when_text"), start_at, want_test),
             (Schema(**base, time="t", time_unit=unit, card="card"), None, want_test_cards)]
    for schema, start_value, expected_test in cases:
        if not want_train.any() or not expected_test.any():
            with pytest.raises(ConfigError, match="empty split"):
                time_split(df, schema, train_days=train_days, delay_days=delay_days, test_days=test_days,
                           start=start_value)
            continue
        train, test = time_split(df, schema, train_days=train_days, delay_days=delay_days, test_days=test_days,
                                 start=start_value)
        assert sorted(train.index) == list(np.flatnonzero(want_train)), schema
        assert sorted(test.index) == list(np.flatnonzero(expected_test)), schema


def test_split_by_fractions_orders_by_any_time_column():
    from domains.fraud import Schema, split

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"t": rng.permutation(1000).astype(float), "x": rng.normal(size=1000), "y": 0})
    parts = split(df, schema=Schema(numeric=["x"], target="y", time="t"), fractions=(0.6, 0.2, 0.2))
    assert [len(p) for p in parts] == [600, 200, 200]
    assert parts[0]["t"].max() < parts[1]["t"].min() and parts[1]["t"].max() < parts[2]["t"].min()
    text = df.assign(t=(pd.Timestamp("2026-01-01") + pd.to_timedelta(df["t"], unit="h")).dt.strftime("%Y-%m-%d %H:%M"))
    again = split(text, schema=Schema(numeric=["x"], target="y", time="t"), fractions=(0.6, 0.2, 0.2))
    assert [list(p.index) for p in again] == [list(p.index) for p in parts]


def test_time_errors_name_the_column_and_row():
    from domains.fraud import Schema, time_split

    df = pd.DataFrame({"t": ["2026-01-01 10:00", "2026-01-02 11:00", "yesterday"], "x": [1.0, 2.0, 3.0],
                       "y": [0, 1, 0]})
    schema = Schema(numeric=["x"], target="y", time="t")
    with pytest.raises(SchemaError, match=r"time column 't' row 2 holds 'yesterday', not an ISO-8601 date-time"):
        schema.validate(df)
    with pytest.raises(SchemaError, match=r"time column 't' row 2 holds 'yesterday'"):
        time_split(df, schema, train_days=1, delay_days=0, test_days=1)
    with pytest.raises(SchemaError, match=r"time column 't' has no time at row 1"):
        schema.validate(df.assign(t=pd.to_datetime(["2026-01-01", None, "2026-01-03"])))
    with pytest.raises(SchemaError, match=r"the schema's time column 'tx_datetime' is not in the table"):
        time_split(df, train_days=1, delay_days=0, test_days=1)  # the simulator's schema by default
    with pytest.raises(SchemaError, match=r"target column 'y' must hold only 0 and 1; row 1 holds 'yes'"):
        schema.validate(df.iloc[:2].assign(y=[0, "yes"]))
    with pytest.raises(SchemaError, match=r"time_unit must be one of"):
        Schema(numeric=["x"], time="t", time_unit="seconds")


def test_inferred_schema_prints_edits_and_round_trips(tmp_path):
    """A CSV of the simulator's table: its ISO date strings become the time column, ids stay out of the
    features; the schema prints, goes to JSON and back, and refuses unknown keys."""
    import json

    from domains.fraud import Schema, infer_schema, read_table

    raw = simulate_transactions(60, 120, 20, seed=0)
    raw.to_csv(tmp_path / "t.csv", index=False)
    table = read_table(tmp_path / "t.csv")
    assert table["tx_datetime"].dtype == object  # a CSV stores datetimes as text
    schema = infer_schema(table, "tx_fraud", card="customer_id", ids=["transaction_id", "terminal_id"])
    assert schema.time == "tx_datetime" and schema.card == "customer_id"
    assert schema.categorical == ["merchant_category"]
    assert "tx_datetime" not in schema.features and "customer_id" not in schema.features
    assert set(schema.ids) == {"transaction_id", "terminal_id", "customer_id"}
    text = str(schema)
    assert "time order: 'tx_datetime'" in text and "card: 'customer_id'" in text and "tx_amount" in text
    schema.numeric.remove("tx_fraud_scenario")  # an edit: the scenario leaks the label
    again = Schema.from_dict(json.loads(json.dumps(schema.to_dict())))
    assert again == schema
    with pytest.raises(SchemaError, match=r"unknown key\(s\) \['numerics'\]"):
        Schema.from_dict({"numerics": ["a"]})
    with pytest.raises(SchemaError, match=r"target column 'label' is not in the table"):
        infer_schema(table, "label")
    validated = again.validate(table)
    assert pd.api.types.is_datetime64_any_dtype(validated["tx_datetime"])
    assert (validated["tx_datetime"] == raw["tx_datetime"]).all()
    with pytest.raises(SchemaError, match=r"cannot read the table"):
        (tmp_path / "broken.parquet").write_bytes(b"PAR1 not parquet")
        read_table(tmp_path / "broken.parquet")


def test_schema_refuses_datetimes_as_numbers_and_float32_overflow():
    from domains.fraud import Schema, SchemaError

    schema = Schema(numeric=["t", "amount", "flag"], target="y")
    ok = pd.DataFrame({"t": [1.0, 2.0], "amount": [3.0, 4.0], "flag": [True, False], "y": [0, 1]})
    assert schema.validate(ok)["flag"].tolist() == [1.0, 0.0]  # booleans are 0 / 1 features
    with pytest.raises(SchemaError, match="column 't' holds dates or durations"):
        schema.validate(ok.assign(t=pd.to_datetime(["2026-01-01", "2026-01-02"])))
    with pytest.raises(SchemaError, match=r"column 'amount' row 1 holds 1e\+39, beyond float32's range"):
        schema.validate(ok.assign(amount=[1.0, 1e39]))
    with pytest.raises(SchemaError, match="row 0 holds 1e\\+300"):
        schema.validate(ok.assign(amount=[1e300, 1.0]))
