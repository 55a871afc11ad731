"""The simulator, behavioural features without leakage, validated loaders and time-ordered splits."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

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
    from domains.fraud import CREDITCARD_SCHEMA, compare, time_split

    df = _creditcard_like()
    train, test = time_split(df, train_days=1, delay_days=0, test_days=1, time="Time", card=None, target="Class")
    assert train["Time"].max() < 86_400 <= test["Time"].min() and len(train) + len(test) == len(df)
    table = compare(df, schema=CREDITCARD_SCHEMA, fractions=(0.8, 0.2), epochs=1,
                    models=("resmlp", "logistic_regression"))
    assert list(table.index) == ["resmlp (ours)", "logistic regression"]
    import tempfile

    assert not [p for p in Path(tempfile.gettempdir()).iterdir() if not p.name.startswith("__autograph")], "compare left its run directory behind"
    test = df.iloc[int(round(0.8 * len(df))):]  # the last 20% of rows in time order
    assert table.loc["logistic regression", "prevalence"] == test["Class"].mean()
    assert table.loc["logistic regression", "auprc"] > 3 * test["Class"].mean()


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
