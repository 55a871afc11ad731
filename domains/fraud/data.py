"""Transactions: a simulator, behavioural features without future information, validated loaders, and
time-ordered splits.

The simulator follows the description of the Fraud Detection Handbook's generator (Le Borgne et al.),
written here from that description: customers and terminals on a 100×100 grid, each customer using
the terminals within a radius of 5, amounts ~ N(mean, mean/2) with mean ~ U(5, 100), a Poisson(U(0, 4))
number of transactions a day at times ~ N(noon, 20000 s), and three fraud scenarios.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
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
      the window ``(t - delay - w, t - delay]`` (pandas' time windows are closed on the right): fraud
      labels arrive ``label_delay_days`` late, so the most recent days cannot be used (no future
      information).
    """
    out = df.sort_values("tx_datetime", kind="stable").copy()
    add_customer_features(out, windows=windows)
    add_terminal_features(out, label_delay_days=label_delay_days, windows=windows)
    return out.sort_index()


# The two halves of add_behaviour_features: each needs only the rows of one customer (one terminal), so a
# table larger than memory can be featured one hash partition at a time (domains.fraud.scale).

def add_customer_features(out: pd.DataFrame, *, windows=WINDOWS) -> None:
    """Adds the calendar flags and the customer features, in place, to a table sorted by ``tx_datetime``."""
    out["tx_during_weekend"] = (out["tx_datetime"].dt.weekday >= 5).astype("int8")
    out["tx_during_night"] = (out["tx_datetime"].dt.hour < 6).astype("int8")
    by_customer = out.set_index("tx_datetime").groupby("customer_id", sort=False)["tx_amount"]
    for w in windows:
        count = by_customer.rolling(f"{w}D").count()
        mean = by_customer.rolling(f"{w}D").mean()
        out[f"customer_nb_tx_{w}d"] = _align(out, count, "customer_id")
        out[f"customer_avg_amount_{w}d"] = _align(out, mean, "customer_id")


def add_terminal_features(out: pd.DataFrame, *, label_delay_days: int = 7, windows=WINDOWS) -> None:
    """Adds the terminal features, in place, to a table sorted by ``tx_datetime``."""
    by_terminal = out.set_index("tx_datetime").groupby("terminal_id", sort=False)["tx_fraud"]
    delay_count = _align(out, by_terminal.rolling(f"{label_delay_days}D").count(), "terminal_id")
    delay_fraud = _align(out, by_terminal.rolling(f"{label_delay_days}D").sum(), "terminal_id")
    for w in windows:
        span = f"{label_delay_days + w}D"
        n = _align(out, by_terminal.rolling(span).count(), "terminal_id") - delay_count
        frauds = _align(out, by_terminal.rolling(span).sum(), "terminal_id") - delay_fraud
        out[f"terminal_nb_tx_{w}d"] = n
        out[f"terminal_risk_{w}d"] = np.where(n > 0, frauds / np.maximum(n, 1), 0.0)


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

TIME_UNITS = ("ns", "us", "ms", "s", "m", "h", "D")


@dataclass
class Schema:
    """Declared columns of a transactions table.

    Args:
        numeric: float columns the model reads.
        categorical: string-like columns (unseen values go to an out-of-vocabulary bucket).
        target: the 0/1 label column (``None`` for scoring tables).
        nullable: columns allowed to hold missing values (a missing-value indicator is added).
        time: the column that orders the rows in time (splits): datetimes, or numbers counting
            ``time_unit`` from any origin (the public credit-card table's ``Time``: seconds). It may also
            be a feature (listed in ``numeric``).
        ids: identifier columns kept but not used as features (card, terminal).
        card: the card (or customer) column: time splits drop cards already known to be compromised, and
            Card Precision@k groups by it. ``None``: the table has no card column (then neither applies).
        time_unit: what one unit of a numeric ``time`` column is (``"s"``, ``"D"``, ``"h"``, ``"ms"`` …).

    ``str(schema)`` shows it column by column; :meth:`to_dict` / :meth:`from_dict` (JSON-ready) let a user
    edit an inferred schema and hand it to the CLI.
    """

    numeric: list[str]
    categorical: list[str] = field(default_factory=list)
    target: str | None = None
    nullable: list[str] = field(default_factory=list)
    time: str | None = None
    ids: list[str] = field(default_factory=list)
    card: str | None = None
    time_unit: str = "s"

    def __post_init__(self):
        for name in ("numeric", "categorical", "nullable", "ids"):
            value = getattr(self, name)
            if isinstance(value, str) or not all(isinstance(c, str) for c in value):
                raise SchemaError(f"schema: {name!r} must be a list of column names, got {value!r}")
            setattr(self, name, list(value))
        both = set(self.numeric) & set(self.categorical)
        if both:
            raise SchemaError(f"schema: column(s) {sorted(both)} are both numeric and categorical")
        if self.target is not None and self.target in self.features:
            raise SchemaError(f"schema: the target {self.target!r} cannot also be a feature")
        if self.time_unit not in TIME_UNITS:
            raise SchemaError(f"schema: time_unit must be one of {TIME_UNITS}, got {self.time_unit!r}")

    @property
    def features(self) -> list[str]:
        return list(self.numeric) + list(self.categorical)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, config: dict) -> Schema:
        """A schema from :meth:`to_dict`'s output (e.g. an edited JSON file); unknown keys are an error."""
        if not isinstance(config, dict):
            raise SchemaError(f"schema: expected a mapping of schema fields, got {type(config).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(config) - known)
        if unknown:
            raise SchemaError(f"schema: unknown key(s) {unknown}; the keys are {sorted(known)}")
        if "numeric" not in config:
            raise SchemaError("schema: 'numeric' (the list of numeric feature columns) is required")
        return cls(**config)

    def __str__(self) -> str:
        lines = [f"Schema: {len(self.features)} features, target {self.target!r}"]
        time = f"{self.time!r}" + (f" (numbers in {self.time_unit!r})" if self.time else "")
        lines.append(f"  time order: {time if self.time else 'the table order (no time column)'}")
        lines.append(f"  card: {self.card!r}" + ("" if self.card else " (no known-compromised filtering)"))
        for name in ("numeric", "categorical", "nullable", "ids"):
            values = getattr(self, name)
            lines.append(f"  {name} ({len(values)}): {', '.join(values) if values else '-'}")
        return "\n".join(lines)

    def validate(self, df: pd.DataFrame, *, where: str = "table", require_target: bool = True) -> pd.DataFrame:
        """Checks columns and types; returns the table with numeric columns as float32.

        ``require_target=False`` validates a table to score: the target, time and card columns may be absent.

        Booleans in a numeric column are accepted as 0 / 1 (flags such as "during weekend" are features like
        any other). A ``time`` column that is not a feature keeps its type (datetimes; numbers as float64;
        ISO-8601 strings are parsed to datetimes).

        Raises:
            SchemaError: a missing column, a non-numeric value in a numeric column (row and value named),
            dates or durations in a numeric column, a value beyond float32's range (the model computes in
            float32), a missing value in a non-nullable column, a non-finite number, a target outside
            {0, 1}, a missing or unreadable time.
        """
        # A table to score needs only the features; one to train or evaluate on also its target, time and card.
        needed = self.features + ([c for c in (self.target, self.time, self.card) if c] if require_target else [])
        missing = [c for c in dict.fromkeys(needed) if c not in df.columns]
        if missing:
            raise SchemaError(f"{where}: missing column(s) {missing}; columns present: {list(df.columns)}")
        out = df.copy()
        for column in self.numeric:
            out[column] = _numeric(out[column], column, where, nullable=column in self.nullable)
        for column in self.categorical:
            if out[column].isna().any() and column not in self.nullable:
                row = int(np.flatnonzero(out[column].isna().to_numpy())[0])
                raise SchemaError(f"{where}: column {column!r} has missing values (first at row {row}) and is "
                                  "not declared nullable")
            out[column] = out[column].astype("string").fillna("<missing>").astype(str)
        if self.target and require_target:
            labels = pd.to_numeric(out[self.target], errors="coerce")
            bad = ~labels.isin([0, 1]).to_numpy()
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise SchemaError(f"{where}: target column {self.target!r} must hold only 0 and 1; row {row} holds "
                                  f"{df[self.target].iloc[row]!r}")
            out[self.target] = labels.astype("int8")
        if self.time and self.time not in self.numeric and self.time in out.columns:
            out[self.time] = _time_values(out[self.time], self.time, where)
        return out


def _numeric(values: pd.Series, column: str, where: str, *, nullable: bool) -> pd.Series:
    """One numeric feature column as float32, or a :class:`SchemaError` naming the row."""
    if pd.api.types.is_datetime64_any_dtype(values) or pd.api.types.is_timedelta64_dtype(values):
        raise SchemaError(f"{where}: column {column!r} holds dates or durations, not numbers (read as numbers "
                          "they would be nanoseconds); make it the schema's `time` column, or convert it to "
                          "seconds or days yourself")
    numbers = pd.to_numeric(values, errors="coerce")
    bad = (numbers.isna() & values.notna()).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise SchemaError(f"{where}: column {column!r} must be numeric; row {row} holds {values.iloc[row]!r}")
    as64 = numbers.to_numpy("float64", na_value=np.nan)
    infinite = np.isinf(as64)
    if infinite.any():
        raise SchemaError(f"{where}: column {column!r} holds an infinite value (row {int(np.flatnonzero(infinite)[0])})")
    too_big = np.abs(as64) > np.finfo("float32").max
    if too_big.any():
        row = int(np.flatnonzero(too_big)[0])
        raise SchemaError(f"{where}: column {column!r} row {row} holds {float(as64[row])!r}, beyond float32's "
                          "range (the model computes in float32: it would become inf)")
    if np.isnan(as64).any() and not nullable:
        row = int(np.flatnonzero(np.isnan(as64))[0])
        raise SchemaError(f"{where}: column {column!r} has {int(np.isnan(as64).sum())} missing value(s) (first at "
                          f"row {row}) and is not declared nullable")
    return pd.Series(as64.astype("float32"), index=values.index, name=values.name)


def _time_values(values: pd.Series, column: str, where: str) -> pd.Series:
    """A time column that is not a feature: datetimes stay, numbers become float64, strings are parsed."""
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
    elif pd.api.types.is_bool_dtype(values):
        raise SchemaError(f"{where}: time column {column!r} holds booleans, not times")
    elif pd.api.types.is_numeric_dtype(values):
        parsed = values.astype("float64")
        if not np.isfinite(parsed.to_numpy()).all():
            row = int(np.flatnonzero(~np.isfinite(parsed.to_numpy()))[0])
            raise SchemaError(f"{where}: time column {column!r} row {row} holds {values.iloc[row]!r}: every row "
                              "needs a finite time")
        return parsed
    else:
        parsed = pd.to_datetime(values, errors="coerce", format="ISO8601")
        bad = (parsed.isna() & values.notna()).to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise SchemaError(f"{where}: time column {column!r} row {row} holds {values.iloc[row]!r}, not an "
                              "ISO-8601 date-time")
    if parsed.isna().any():
        row = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        raise SchemaError(f"{where}: time column {column!r} has no time at row {row}: every row needs one")
    return parsed


# ``Time`` is seconds since the table's first transaction: the time order, not a feature. As a feature it
# is a time stamp whose test values (the latest rows in a time split) lie beyond every training value, so
# each network extrapolates it its own way: on the generated credit-card-layout table (benchmarks/
# RESULTS.md) the default model's five-seed AUPRC was 0.834 with a spread of 0.010 with it, 0.844 and
# 0.007 without. The table has no card column, so nothing is filtered as known-compromised.
CREDITCARD_SCHEMA = Schema(numeric=[*[f"V{i}" for i in range(1, 29)], "Amount"], target="Class",
                           time="Time", time_unit="s")


def read_table(path) -> pd.DataFrame:
    """A CSV or Parquet file (by its suffix: ``.parquet`` / ``.pq``, else CSV) as read, not yet validated;
    an unreadable file is a :class:`SchemaError` naming it."""
    path = Path(path).expanduser()
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path, low_memory=False)
    except (OSError, ValueError, pd.errors.ParserError) as e:
        raise SchemaError(f"{path}: cannot read the table: {e}") from None


def load_table(path, schema: Schema) -> pd.DataFrame:
    """A CSV or Parquet file validated against ``schema`` (errors name the file and column)."""
    return schema.validate(read_table(path), where=str(Path(path).expanduser()))


def load_creditcard_csv(path) -> pd.DataFrame:
    """The public ULB "Credit Card Fraud Detection" table (``Time``, ``V1``..``V28``, ``Amount``, ``Class``)."""
    return load_table(path, CREDITCARD_SCHEMA)


SIMULATED_SCHEMA = Schema(
    numeric=["tx_amount", "tx_during_weekend", "tx_during_night",
             *[f"customer_{k}_{w}d" for w in WINDOWS for k in ("nb_tx", "avg_amount")],
             *[f"terminal_{k}_{w}d" for w in WINDOWS for k in ("nb_tx", "risk")]],
    categorical=["merchant_category"], target="tx_fraud", time="tx_datetime", ids=["customer_id", "terminal_id"],
    card="customer_id")


# --- time-ordered splits --------------------------------------------------------------------------------

def _times(df: pd.DataFrame, schema: Schema) -> pd.Series:
    """The schema's time column as timestamps: datetimes (or ISO-8601 strings) as they are, numbers as
    ``schema.time_unit`` since an arbitrary origin (only differences matter for a split)."""
    time = schema.time
    if time is None:
        raise SchemaError("a time split needs the schema's `time` column (or split by fractions of rows: split())")
    if time not in df.columns:
        raise SchemaError(f"the schema's time column {time!r} is not in the table; columns: {list(df.columns)} "
                          "(pass schema=…, e.g. infer_schema(df, target, time=…))")
    values = _time_values(df[time], time, "table")
    if pd.api.types.is_datetime64_any_dtype(values):
        return values
    try:
        return pd.Timestamp(0) + pd.to_timedelta(values, unit=schema.time_unit)
    except (OverflowError, pd.errors.OutOfBoundsTimedelta) as e:
        raise SchemaError(f"time column {time!r}: values up to {values.abs().max()!r} {schema.time_unit!r} are out "
                          f"of range ({e}); is schema.time_unit right?") from None


def as_instant(value, schema: Schema) -> pd.Timestamp:
    """A split boundary on the scale :func:`_times` puts the schema's time column on: a timestamp (or
    date string) as it is, a number as ``schema.time_unit`` since the numeric origin."""
    if isinstance(value, (str, pd.Timestamp, np.datetime64)) or hasattr(value, "year"):
        return pd.Timestamp(value)
    return pd.Timestamp(0) + pd.to_timedelta(float(value), unit=schema.time_unit)


def time_split(df: pd.DataFrame, schema: Schema | None = None, *, train_days: float, delay_days: float,
               test_days: float, start=None):
    """Train on ``train_days``, skip ``delay_days`` (labels not yet known), test on ``test_days``.

    The time, card and target columns come from ``schema`` (default: the simulator's
    :data:`SIMULATED_SCHEMA`): a datetime column, or numbers in ``schema.time_unit`` (the public
    credit-card table: seconds). ``start`` (default: midnight of the first day; for numbers, the first
    time) is a timestamp, or a number in the time column's unit. Days may be fractions.

    When the schema has a ``card`` column, cards known to be compromised by the end of the training
    period (a fraud among their training transactions) are removed from the test set: a fraud team would
    have blocked them already. Without one, nothing is removed.

    Returns:
        ``(train, test)`` DataFrames (rows of ``df``, unvalidated).
    """
    schema = schema or SIMULATED_SCHEMA
    times = _times(df, schema)
    numeric_time = pd.api.types.is_numeric_dtype(df[schema.time])
    if start is None:
        start = times.min() if numeric_time else times.min().normalize()
    else:
        start = as_instant(start, schema)
    train_end = start + pd.Timedelta(days=train_days)
    test_start = train_end + pd.Timedelta(days=delay_days)
    test_end = test_start + pd.Timedelta(days=test_days)
    train = df[((times >= start) & (times < train_end)).to_numpy()]
    test = df[((times >= test_start) & (times < test_end)).to_numpy()]
    if schema.card is not None and schema.target is not None:
        known = set(train.loc[train[schema.target] == 1, schema.card])
        test = test[~test[schema.card].isin(known)]
    if len(train) == 0 or len(test) == 0:
        raise ConfigError(f"empty split: train {len(train)} rows from {start}, test {len(test)} rows from "
                          f"{test_start} (the data spans {times.min()} – {times.max()})")
    return train.copy(), test.copy()


def rolling_folds(df: pd.DataFrame, schema: Schema | None = None, *, n_folds: int, train_days: float,
                  delay_days: float, test_days: float = 7):
    """``n_folds`` time splits whose test periods move back one ``test_days`` step each, latest first."""
    schema = schema or SIMULATED_SCHEMA
    times = _times(df, schema)
    last = times.max().normalize() + pd.Timedelta(days=1) if pd.api.types.is_datetime64_any_dtype(df[schema.time]) \
        else times.max() + pd.Timedelta(1)
    for k in range(n_folds):
        test_start = last - pd.Timedelta(days=test_days * (k + 1))
        start = test_start - pd.Timedelta(days=train_days + delay_days)
        yield time_split(df, schema, train_days=train_days, delay_days=delay_days, test_days=test_days,
                         start=start)


# --- the data step's shared names -------------------------------------------------------------------------

def infer_schema(df: pd.DataFrame, target: str, *, time: str | None = None, time_unit: str = "s",
                 card: str | None = None, ids=()) -> Schema:
    """A :class:`Schema` read off a table. Print it, edit it (or its :meth:`Schema.to_dict`), pass it on.

    - numeric and boolean (as 0/1) columns → ``numeric``; string / category columns → ``categorical``;
    - datetime columns, and string columns whose every value is an ISO-8601 date-time (a CSV's dates) →
      the first is ``time`` unless ``time`` is given, the others go to ``ids`` (kept, not features);
    - ``time`` (a datetime, or a numeric column counting ``time_unit``), ``card`` and ``ids`` are kept out
      of the features (a time stamp as a feature extrapolates in a time split: its test values lie beyond
      the training ones; derive what recurs, such as the hour of day, as a feature of its own);
    - columns with missing values → ``nullable``.
    """
    for name, column in (("target", target), ("time", time), ("card", card), *(("ids", c) for c in ids)):
        if column is not None and column not in df.columns:
            raise SchemaError(f"{name} column {column!r} is not in the table; columns: {list(df.columns)}")
    kept_out = {target, time, card, *ids}
    numeric, categorical, other_times = [], [], []
    for column in df.columns:
        if column in kept_out:
            continue
        values = df[column]
        if pd.api.types.is_datetime64_any_dtype(values) or _iso_datetimes(values):
            if time is None:
                time = column
            else:
                other_times.append(column)
        elif pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
            numeric.append(column)
        else:
            categorical.append(column)
    nullable = [c for c in numeric + categorical if df[c].isna().any()]
    id_columns = [*ids, *other_times] + ([card] if card is not None and card not in ids else [])
    return Schema(numeric=numeric, categorical=categorical, target=target, nullable=nullable, time=time,
                  ids=id_columns, card=card, time_unit=time_unit)


def _iso_datetimes(values: pd.Series) -> bool:
    """Whether a string column holds only ISO-8601 date-times (as a CSV stores datetimes)."""
    if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
        return False
    present = values.dropna()
    if len(present) == 0 or not present.map(lambda v: isinstance(v, str)).all():
        return False
    sample = present.iloc[:1000]
    if not sample.str.match(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?").all():
        return False
    return not pd.to_datetime(present, errors="coerce", format="ISO8601").isna().any()


def split(df: pd.DataFrame, *, schema: Schema | None = None, fractions=(0.6, 0.2, 0.2)):
    """Time-ordered parts by fraction of rows: the first 60% of the table in time order trains, the next
    20% validates, the last 20% tests (``schema.time`` orders the rows; without it, the table's order).

    Returns:
        One DataFrame per fraction.
    """
    if not fractions or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-9:
        raise ConfigError(f"fractions must be non-negative shares summing to 1, got {fractions}")
    if schema is not None and schema.time is not None:
        times = _times(df, schema)  # checks the column; strings are ordered as the times they are
        ordered = df.iloc[np.argsort(times.to_numpy(), kind="stable")]
    else:
        ordered = df
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
