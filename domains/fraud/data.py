"""Transactions: a simulator, behavioural features without future information, validated loaders, and
time-ordered splits.

The simulator follows the description of the Fraud Detection Handbook's generator (Le Borgne et al.),
written here from that description: customers and terminals on a 100×100 grid, each customer using
the terminals within a radius of 5, amounts ~ N(mean, mean/2) with mean ~ U(5, 100), a Poisson(U(0, 4))
number of transactions a day at times ~ N(noon, 20000 s), and three fraud scenarios.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

SECONDS_PER_DAY = 86400
WINDOWS = (1, 7, 30)
MERCHANT_CATEGORIES = ("grocery", "fuel", "restaurant", "online", "travel", "electronics", "pharmacy", "other")


from restoolkit.errors import ConfigError, SchemaError  # noqa: E402  (re-exported)


def simulate_transactions(n_customers: int = 1000, n_terminals: int = 2000, n_days: int = 90, *, seed: int = 0,
                          start_date: str = "2026-04-01", radius: float = 5.0) -> pd.DataFrame:
    """Simulated card transactions with three fraud scenarios, fraud rate near 1% at any size.

    Scenarios: (1) any amount above 220 is fraud; (2) every day ``2 · n_terminals / 10000`` terminals
    are compromised and all their transactions in the next 28 days are fraud; (3) every day
    ``3 · n_customers / 5000`` customers are compromised and a third of their transactions in the next
    14 days have their amount ×5 and are fraud. Daily counts are scaled with the population (and drawn
    with stochastic rounding) so the fraud rate does not depend on size.

    Returns:
        One row per transaction sorted by time: ``transaction_id``, ``tx_datetime``, ``customer_id``,
        ``terminal_id``, ``tx_amount``, ``merchant_category``, ``tx_time_seconds``, ``tx_time_days``,
        ``tx_fraud`` (0/1) and ``tx_fraud_scenario`` (0–3).
    """
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(seed)
    cust_xy = rng.uniform(0, 100, (n_customers, 2))
    mean_amount = rng.uniform(5, 100, n_customers)
    std_amount = mean_amount / 2
    tx_per_day = rng.uniform(0, 4, n_customers)
    term_xy = rng.uniform(0, 100, (n_terminals, 2))
    term_category = rng.integers(0, len(MERCHANT_CATEGORIES), n_terminals)
    available = cKDTree(term_xy).query_ball_point(cust_xy, r=radius)

    parts = []
    for c in range(n_customers):
        terminals = np.asarray(available[c], dtype=int)
        if len(terminals) == 0:
            continue
        counts = rng.poisson(tx_per_day[c], n_days)
        days = np.repeat(np.arange(n_days), counts)
        times = rng.normal(SECONDS_PER_DAY / 2, 20000, len(days))
        keep = (times > 0) & (times < SECONDS_PER_DAY)
        days, times = days[keep], times[keep].astype(int)
        amounts = rng.normal(mean_amount[c], std_amount[c], len(days))
        negative = amounts < 0
        amounts[negative] = rng.uniform(0, 2 * mean_amount[c], negative.sum())
        parts.append(pd.DataFrame({
            "customer_id": c, "terminal_id": rng.choice(terminals, len(days)),
            "tx_time_seconds": days * SECONDS_PER_DAY + times, "tx_time_days": days,
            "tx_amount": np.round(amounts, 2)}))
    df = pd.concat(parts, ignore_index=True).sort_values("tx_time_seconds", kind="stable").reset_index(drop=True)
    df.insert(0, "transaction_id", np.arange(len(df)))
    df.insert(1, "tx_datetime", pd.Timestamp(start_date) + pd.to_timedelta(df["tx_time_seconds"], unit="s"))
    df["merchant_category"] = np.asarray(MERCHANT_CATEGORIES)[term_category[df["terminal_id"]]]
    df["tx_fraud"] = 0
    df["tx_fraud_scenario"] = 0

    def daily(count_per_day):  # stochastic rounding keeps the expected count exact at any size
        return int(np.floor(count_per_day)) + int(rng.random() < count_per_day - np.floor(count_per_day))

    # Scenario 1: large amounts.
    big = df["tx_amount"] > 220
    df.loc[big, ["tx_fraud", "tx_fraud_scenario"]] = [1, 1]
    day = df["tx_time_days"].to_numpy()
    for d in range(n_days):
        # Scenario 2: compromised terminals, 28 days.
        hit = rng.choice(n_terminals, daily(2 * n_terminals / 10000), replace=False)
        window = (day >= d) & (day < d + 28) & df["terminal_id"].isin(hit).to_numpy()
        df.loc[window, ["tx_fraud", "tx_fraud_scenario"]] = [1, 2]
        # Scenario 3: compromised customers, 14 days, a third of their transactions ×5.
        victims = rng.choice(n_customers, daily(3 * n_customers / 5000), replace=False)
        candidates = np.flatnonzero((day >= d) & (day < d + 14) & df["customer_id"].isin(victims).to_numpy())
        chosen = rng.choice(candidates, len(candidates) // 3, replace=False) if len(candidates) else candidates
        df.loc[chosen, "tx_amount"] = df.loc[chosen, "tx_amount"] * 5
        df.loc[chosen, ["tx_fraud", "tx_fraud_scenario"]] = [1, 3]
    return df


def add_behaviour_features(df: pd.DataFrame, *, label_delay_days: int = 7, windows=WINDOWS) -> pd.DataFrame:
    """Adds customer and terminal features computed from the past only.

    - ``tx_during_weekend``, ``tx_during_night`` (00:00–06:00).
    - ``customer_nb_tx_{w}d``, ``customer_avg_amount_{w}d``: the customer's transactions in the last
      ``w`` days up to and including this one (known at authorisation time).
    - ``terminal_nb_tx_{w}d``, ``terminal_risk_{w}d``: transactions and share of fraud at the terminal in
      the window ``[t - delay - w, t - delay)``: fraud labels arrive ``label_delay_days`` late, so the
      most recent days cannot be used (no future information).
    """
    out = df.sort_values("tx_datetime", kind="stable").copy()
    out["tx_during_weekend"] = (out["tx_datetime"].dt.weekday >= 5).astype("int8")
    out["tx_during_night"] = (out["tx_datetime"].dt.hour < 6).astype("int8")
    indexed = out.set_index("tx_datetime")
    by_customer = indexed.groupby("customer_id", sort=False)["tx_amount"]
    for w in windows:
        count = by_customer.rolling(f"{w}D").count()
        mean = by_customer.rolling(f"{w}D").mean()
        out[f"customer_nb_tx_{w}d"] = _align(out, count, "customer_id")
        out[f"customer_avg_amount_{w}d"] = _align(out, mean, "customer_id")
    by_terminal = indexed.groupby("terminal_id", sort=False)["tx_fraud"]
    delay_count = _align(out, by_terminal.rolling(f"{label_delay_days}D").count(), "terminal_id")
    delay_fraud = _align(out, by_terminal.rolling(f"{label_delay_days}D").sum(), "terminal_id")
    for w in windows:
        span = f"{label_delay_days + w}D"
        n = _align(out, by_terminal.rolling(span).count(), "terminal_id") - delay_count
        frauds = _align(out, by_terminal.rolling(span).sum(), "terminal_id") - delay_fraud
        out[f"terminal_nb_tx_{w}d"] = n
        out[f"terminal_risk_{w}d"] = np.where(n > 0, frauds / np.maximum(n, 1), 0.0)
    return out.sort_index()


def _align(frame: pd.DataFrame, rolled: pd.Series, key: str) -> np.ndarray:
    """Rolling results (grouped, in group order) back in ``frame``'s row order."""
    values = np.empty(len(frame))
    # groupby(sort=False).rolling keeps each group's rows in time order; groups in first-appearance order.
    keys = frame[key].to_numpy()
    firsts = pd.unique(keys)
    rank = {k: i for i, k in enumerate(firsts)}
    order = frame.assign(_g=[rank[k] for k in keys], _i=np.arange(len(frame))).sort_values(
        ["_g", "tx_datetime", "_i"], kind="stable")["_i"].to_numpy()
    values[order] = rolled.to_numpy()
    return values


# --- loading ------------------------------------------------------------------------------------------

@dataclass
class Schema:
    """Declared columns of a transactions table.

    Args:
        numeric: float columns the model reads.
        categorical: string-like columns (unseen values go to an out-of-vocabulary bucket).
        target: the 0/1 label column (``None`` for scoring tables).
        nullable: columns allowed to hold missing values (a missing-value indicator is added).
        time: a datetime column used for time-ordered splits.
        ids: identifier columns kept but not used as features (card, terminal).
    """

    numeric: list[str]
    categorical: list[str] = field(default_factory=list)
    target: str | None = None
    nullable: list[str] = field(default_factory=list)
    time: str | None = None
    ids: list[str] = field(default_factory=list)

    @property
    def features(self) -> list[str]:
        return list(self.numeric) + list(self.categorical)

    def validate(self, df: pd.DataFrame, *, where: str = "table", require_target: bool = True) -> pd.DataFrame:
        """Checks columns and types; returns the table with numeric columns as float32.

        Raises:
            SchemaError: a missing column, a non-numeric value in a numeric column, a missing value in
            a non-nullable column, a non-finite number, or a target outside {0, 1}.
        """
        needed = self.features + ([self.target] if self.target and require_target else []) + \
            ([self.time] if self.time else [])
        missing = [c for c in needed if c not in df.columns]
        if missing:
            raise SchemaError(f"{where}: missing column(s) {missing}; columns present: {list(df.columns)}")
        out = df.copy()
        for column in self.numeric:
            if pd.api.types.is_datetime64_any_dtype(out[column]) or pd.api.types.is_timedelta64_dtype(out[column]):
                raise SchemaError(f"{where}: column {column!r} holds dates or durations, not numbers (read as numbers "
                                  "they would be nanoseconds); make it the schema's `time` column, or convert it to "
                                  "seconds or days yourself")
            # Booleans are accepted as 0 / 1 (flags such as "during weekend" are features like any other).
            values = pd.to_numeric(out[column], errors="coerce")
            bad = values.isna() & out[column].notna()
            if bad.any():
                raise SchemaError(f"{where}: column {column!r} must be numeric; row {int(np.flatnonzero(bad)[0])} "
                                  f"holds {out[column][bad].iloc[0]!r}")
            if np.isinf(values).any():
                raise SchemaError(f"{where}: column {column!r} holds an infinite value (row "
                                  f"{int(np.flatnonzero(np.isinf(values))[0])})")
            too_big = np.abs(values.to_numpy("float64")) > np.finfo("float32").max
            if too_big.any():
                row = int(np.flatnonzero(too_big)[0])
                raise SchemaError(f"{where}: column {column!r} row {row} holds {float(values.iloc[row])!r}, beyond float32's "
                                  "range (the model computes in float32: it would become inf)")
            if values.isna().any() and column not in self.nullable:
                raise SchemaError(f"{where}: column {column!r} has {int(values.isna().sum())} missing value(s) and "
                                  "is not declared nullable")
            out[column] = values.astype("float32")
        for column in self.categorical:
            if out[column].isna().any() and column not in self.nullable:
                raise SchemaError(f"{where}: column {column!r} has missing values and is not declared nullable")
            out[column] = out[column].astype("string").fillna("<missing>").astype(str)
        if self.target and require_target:
            labels = pd.to_numeric(out[self.target], errors="coerce")
            if not labels.isin([0, 1]).all():
                raise SchemaError(f"{where}: target column {self.target!r} must hold only 0 and 1")
            out[self.target] = labels.astype("int8")
        if self.time:
            out[self.time] = pd.to_datetime(out[self.time], errors="raise")
        return out


# ``Time`` is seconds since the first transaction: a feature and the time order (time_split reads numbers
# as seconds by default).
CREDITCARD_SCHEMA = Schema(numeric=["Time", *[f"V{i}" for i in range(1, 29)], "Amount"], target="Class")


def load_table(path, schema: Schema) -> pd.DataFrame:
    """A CSV or Parquet file validated against ``schema`` (errors name the file and column)."""
    path = Path(path).expanduser()
    if path.suffix.lower() in (".parquet", ".pq"):
        df = pd.read_parquet(path)
    else:
        df = pd.read_csv(path)
    return schema.validate(df, where=str(path))


def load_creditcard_csv(path) -> pd.DataFrame:
    """The public ULB "Credit Card Fraud Detection" table (``Time``, ``V1``..``V28``, ``Amount``, ``Class``)."""
    return load_table(path, CREDITCARD_SCHEMA)


SIMULATED_SCHEMA = Schema(
    numeric=["tx_amount", "tx_during_weekend", "tx_during_night",
             *[f"customer_{k}_{w}d" for w in WINDOWS for k in ("nb_tx", "avg_amount")],
             *[f"terminal_{k}_{w}d" for w in WINDOWS for k in ("nb_tx", "risk")]],
    categorical=["merchant_category"], target="tx_fraud", time="tx_datetime", ids=["customer_id", "terminal_id"])


# --- time-ordered splits --------------------------------------------------------------------------------

def _times(df: pd.DataFrame, time: str, unit: str) -> pd.Series:
    """The time column as timestamps: datetimes as they are, numbers as ``unit`` since an origin."""
    column = df[time]
    if pd.api.types.is_datetime64_any_dtype(column):
        return column
    if pd.api.types.is_numeric_dtype(column):
        return pd.Timestamp(0) + pd.to_timedelta(column.astype("float64"), unit=unit)
    raise SchemaError(f"time column {time!r} must hold datetimes or numbers ({unit}), got {column.dtype}")


def time_split(df: pd.DataFrame, *, train_days: int, delay_days: int, test_days: int, start=None,
               time: str = "tx_datetime", card: str | None = "customer_id", target: str = "tx_fraud",
               time_unit: str = "s"):
    """Train on ``train_days``, skip ``delay_days`` (labels not yet known), test on ``test_days``.

    Cards known to be compromised by the end of the training period (a fraud among their training
    transactions) are removed from the test set: a fraud team would have blocked them already.

    Returns:
        ``(train, test)`` DataFrames.
    """
    if time not in df:
        raise SchemaError(f"time column {time!r} is not in the table; columns: {list(df.columns)}")
    times = _times(df, time, time_unit)
    start = pd.Timestamp(start) if start is not None else times.min().normalize()
    train_end = start + pd.Timedelta(days=train_days)
    test_start = train_end + pd.Timedelta(days=delay_days)
    test_end = test_start + pd.Timedelta(days=test_days)
    train = df[(times >= start) & (times < train_end)]
    test = df[(times >= test_start) & (times < test_end)]
    if card is not None:  # only a table with a card column can drop the cards already known compromised
        known = set(train.loc[train[target] == 1, card])
        test = test[~test[card].isin(known)]
    if len(train) == 0 or len(test) == 0:
        raise ConfigError(f"empty split: train {len(train)} rows from {start}, test {len(test)} rows from "
                          f"{test_start} (the data spans {times.min()} – {times.max()})")
    return train.copy(), test.copy()


def rolling_folds(df: pd.DataFrame, *, n_folds: int, train_days: int, delay_days: int, test_days: int = 7, **kwargs):
    """``n_folds`` time splits whose test weeks move back one ``test_days`` step each, latest first."""
    time = kwargs.get("time", "tx_datetime")
    last = df[time].max().normalize() + pd.Timedelta(days=1)
    for k in range(n_folds):
        test_start = last - pd.Timedelta(days=test_days * (k + 1))
        start = test_start - pd.Timedelta(days=train_days + delay_days)
        yield time_split(df, train_days=train_days, delay_days=delay_days, test_days=test_days, start=start, **kwargs)


# --- the data step's shared names -------------------------------------------------------------------------

def infer_schema(df: pd.DataFrame, target: str, *, time: str | None = None, ids=()) -> Schema:
    """A :class:`Schema` read off a table: numeric (and boolean, as 0/1) columns → ``numeric``, string /
    category columns → ``categorical``, the first datetime column (or ``time``) → ``time``; ``ids`` are kept
    out of the features. Print it, edit it, pass it on.
    """
    if target not in df.columns:
        raise SchemaError(f"target column {target!r} is not in the table; columns: {list(df.columns)}")
    numeric, categorical = [], []
    for column in df.columns:
        if column == target or column in ids or column == time:
            continue
        dtype = df[column].dtype
        if pd.api.types.is_datetime64_any_dtype(dtype):
            time = time or column
        elif pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
            numeric.append(column)
        else:
            categorical.append(column)
    nullable = [c for c in numeric + categorical if df[c].isna().any()]
    return Schema(numeric=numeric, categorical=categorical, target=target, nullable=nullable, time=time,
                  ids=list(ids))


def split(df: pd.DataFrame, *, schema: Schema | None = None, fractions=(0.6, 0.2, 0.2)):
    """Time-ordered parts by fraction of rows: the first 60% of the table in time order trains, the next
    20% validates, the last 20% tests (``schema.time`` orders the rows; without it, the table's order).

    Returns:
        One DataFrame per fraction.
    """
    if not fractions or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-9:
        raise ConfigError(f"fractions must be non-negative shares summing to 1, got {fractions}")
    time = schema.time if schema is not None else None
    ordered = df.sort_values(time, kind="stable") if time else df
    cuts = np.round(np.cumsum(fractions)[:-1] * len(ordered)).astype(int)
    bounds = [0, *cuts.tolist(), len(ordered)]
    return [ordered.iloc[a:b].copy() for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def make_dataset(df: pd.DataFrame, schema: Schema, *, batch_size: int, shuffle: bool = False, seed: int = 0):
    """``(inputs dict, label)`` batches as ``tf.data`` (global batch ``batch_size``) from a validated table."""
    import tensorflow as tf

    from domains.fraud.features import to_inputs

    inputs = to_inputs(df, schema)
    labels = df[schema.target].to_numpy("float32")
    ds = tf.data.Dataset.from_tensor_slices((inputs, labels))
    if shuffle:
        ds = ds.shuffle(len(df), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
