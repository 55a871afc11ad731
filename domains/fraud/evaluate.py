"""How fraud teams evaluate: precision-recall, per-card alert quality, costs, calibration; and one table
comparing our residual MLP with the baselines on the same time split.

Metrics with a scikit-learn implementation come from scikit-learn (``average_precision_score``,
``roc_auc_score``, ``roc_curve``, ``calibration_curve``, ``IsotonicRegression``).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from restoolkit.errors import ConfigError
from restoolkit.tasks import Report


def recall_at_fpr(y_true, scores, fpr: float) -> float:
    """The highest recall (TPR) reachable with a false-positive rate at most ``fpr``."""
    fprs, tprs, _ = roc_curve(y_true, scores, drop_intermediate=False)
    return float(tprs[fprs <= fpr + 1e-12].max())


def precision_at_k(y_true, scores, k: int) -> float:
    """Share of frauds among the ``k`` highest scores (ties broken by order, as a queue would)."""
    order = np.argsort(-np.asarray(scores), kind="stable")[:k]
    return float(np.asarray(y_true)[order].mean())


def card_precision_at_k(df: pd.DataFrame, scores, *, k: int = 100, day: str = "tx_time_days",
                        card: str = "customer_id", target: str = "tx_fraud", known_compromised=()) -> float:
    """Card Precision@k (Fraud Detection Handbook): mean over days of the share of compromised cards
    among the ``k`` cards with the highest score that day (a card's score is its maximum).

    Cards already known to be compromised (``known_compromised``, plus those found in earlier days'
    top ``k``) are left out: investigators would not be shown them again.
    """
    frame = pd.DataFrame({"day": df[day].to_numpy(), "card": df[card].to_numpy(), "label": df[target].to_numpy(),
                          "score": np.asarray(scores)})
    known = set(known_compromised)
    precisions = []
    for _, today in frame.groupby("day", sort=True):
        per_card = today.groupby("card").agg(score=("score", "max"), label=("label", "max"))
        per_card = per_card[~per_card.index.isin(known)]
        top = per_card.sort_values("score", ascending=False, kind="stable").head(k)
        precisions.append(top["label"].sum() / k)
        known |= set(top.index[top["label"] == 1])
    return float(np.mean(precisions)) if precisions else float("nan")


def fraud_metrics(y_true, scores, *, fprs=(0.001, 0.01), k: int = 100) -> dict:
    """AUPRC (average precision), ROC-AUC, recall at fixed FPRs and precision@k."""
    y, s = np.asarray(y_true).astype(int), np.asarray(scores, float)
    out = {"auprc": float(average_precision_score(y, s)), "roc_auc": float(roc_auc_score(y, s)),
           "prevalence": float(y.mean())}
    for f in fprs:
        out[f"recall@fpr{f:g}"] = recall_at_fpr(y, s, f)
    out[f"precision@{k}"] = precision_at_k(y, s, k)
    return out


def calibrate(y_true, scores):
    """An isotonic map fitted on validation scores; returns ``f(scores) → calibrated probabilities``."""
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(np.asarray(scores, float),
                                                                            np.asarray(y_true, float))
    return lambda s: iso.predict(np.asarray(s, float))


def cost_threshold(cost_missed_fraud: float, cost_review: float) -> float:
    """The Bayes threshold on *calibrated* probabilities: flag when ``p · cost_missed > cost_review``."""
    if cost_missed_fraud <= 0 or cost_review < 0:
        raise ValueError("costs must be positive (missed fraud) and non-negative (review)")
    return float(cost_review / cost_missed_fraud)


def expected_cost(y_true, probs, threshold: float, *, cost_missed_fraud: float, cost_review: float) -> float:
    """Total cost of a threshold: every flagged transaction is reviewed, every missed fraud is lost."""
    y, p = np.asarray(y_true).astype(bool), np.asarray(probs)
    flagged = p >= threshold
    return float(flagged.sum() * cost_review + (y & ~flagged).sum() * cost_missed_fraud)


def reliability(y_true, probs, *, bins: int = 10) -> pd.DataFrame:
    """Observed fraud rate against mean predicted probability per quantile bin (reliability curve)."""
    observed, predicted = calibration_curve(np.asarray(y_true), np.asarray(probs), n_bins=bins, strategy="quantile")
    return pd.DataFrame({"predicted": predicted, "observed": observed})


def evaluate(task, data: pd.DataFrame, *, k: int = 100, bins: int = 10, scores=None) -> Report:
    """Fraud-team metrics of a :class:`~domains.fraud.FraudClassifier` on a (later) table.

    Args:
        task: the classifier (its schema validates ``data``); ``None`` with ``scores`` for any model.
        data: the evaluated table, with the target column.
        k: for precision@k and, when the table has ``tx_time_days`` and ``customer_id``, Card Precision@k.
        scores: precomputed scores in row order instead of running ``task``.

    Returns:
        A :class:`restoolkit.tasks.Report`: ``metrics`` from :func:`fraud_metrics` (scikit-learn), the
        ``reliability`` table and figure, and the ``precision_recall`` figure.
    """
    from sklearn.metrics import precision_recall_curve

    schema = task.schema
    table = schema.validate(data, where="evaluated table")
    s = task.predict(table) if scores is None else np.asarray(scores, float)
    y = table[schema.target].to_numpy().astype(int)
    metrics = fraud_metrics(y, s, k=k)
    if {"tx_time_days", "customer_id"} <= set(table.columns):
        metrics[f"card_precision@{k}"] = card_precision_at_k(table, s, k=k, target=schema.target)
    curve = reliability(y, s, bins=bins)
    precision, recall, _ = precision_recall_curve(y, s)

    def draw_pr(ax):
        ax.plot(recall, precision)
        ax.set(xlabel="recall", ylabel="precision", title=f"AUPRC {metrics['auprc']:.3f}", xlim=(0, 1), ylim=(0, 1))

    def draw_reliability(ax):
        ax.plot([0, 1], [0, 1], "--", color="grey")
        ax.plot(curve["predicted"], curve["observed"], "o-")
        ax.set(xlabel="mean predicted probability", ylabel="observed fraud rate")

    report = Report(title="Fraud evaluation", metrics=metrics, tables={"reliability": curve},
                    figures={"precision_recall": draw_pr, "reliability": draw_reliability})
    report.scores = s
    return report


def compare(df: pd.DataFrame, *, schema=None, train_days: int = 42, delay_days: int = 7, test_days: int = 21,
            run_dir=None, epochs: int = 15, k: int = 100, seed: int = 0, models=None, fractions=None,
            **train_kwargs) -> pd.DataFrame:
    """Our residual MLP and the baselines on one time split, in one table.

    Baselines: logistic regression (standardised numeric columns, one-hot categories) and
    ``HistGradientBoostingClassifier`` (native categorical support), both from scikit-learn.

    The split is by days (``train_days``, ``delay_days``, ``test_days``; a numeric time column counts
    seconds), or, with ``fractions`` such as ``(0.8, 0.2)``, by shares of rows in time order (first part
    trains, last part tests): the public credit-card table spans only two days.

    ``run_dir`` is where our model trains; by default a new temporary folder, so no call ever reports
    a model trained by an earlier one.

    Returns:
        One row per model: AUPRC, ROC-AUC, recall at FPR 0.1% / 1%, precision@k, Card Precision@k,
        training seconds.
    """
    import tempfile

    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from domains.fraud.data import SIMULATED_SCHEMA, time_split
    from domains.fraud.fraud_classifier import FraudClassifier
    from domains.fraud.train import train as train_task

    schema = schema or SIMULATED_SCHEMA
    scratch = None
    if run_dir is None:  # a fresh run directory each call, removed afterwards: a compare never reuses a model
        scratch = tempfile.TemporaryDirectory(prefix="restoolkit-fraud-compare-")
        run_dir = scratch.name
    card = schema.ids[0] if schema.ids else None
    time_column = schema.time or ("Time" if "Time" in df else None)  # the public credit-card table: seconds
    if time_column is None:
        raise ConfigError("compare needs a time order: the schema's `time` column")
    if fractions is not None:
        from domains.fraud.data import split

        parts = split(df.sort_values(time_column, kind="stable"), fractions=tuple(fractions))
        train, test = parts[0], parts[-1]
    else:
        train, test = time_split(df, train_days=train_days, delay_days=delay_days, test_days=test_days,
                                 time=time_column, card=card, target=schema.target)
    train, test = schema.validate(train, where="train"), schema.validate(test, where="test")
    known = set(train.loc[train[schema.target] == 1, "customer_id"]) if "customer_id" in train else set()
    x_cols = schema.numeric + schema.categorical
    y_train = train[schema.target].to_numpy()
    rows = []

    def record(name, scores, seconds):
        row = {"model": name, **fraud_metrics(test[schema.target], scores, k=k), "train_seconds": seconds}
        if {"tx_time_days", "customer_id"} <= set(test.columns):
            row[f"card_precision@{k}"] = card_precision_at_k(test, scores, k=k, target=schema.target,
                                                             known_compromised=known)
        rows.append(row)

    wanted = models or ("resmlp", "logistic_regression", "hist_gradient_boosting")
    if "resmlp" in wanted:
        start = time.perf_counter()
        task = FraudClassifier.from_table(train, schema)
        train_task(task, train, run_dir=run_dir, epochs=epochs, seed=seed, verbose=0, **train_kwargs)
        seconds = time.perf_counter() - start
        record("resmlp (ours)", task.predict(test), seconds)
    if "logistic_regression" in wanted:
        start = time.perf_counter()
        logistic = make_pipeline(ColumnTransformer([("num", StandardScaler(), schema.numeric),
                                                    ("cat", OneHotEncoder(handle_unknown="ignore"), schema.categorical)]),
                                 LogisticRegression(max_iter=1000))
        logistic.fit(train[x_cols], y_train)
        record("logistic regression", logistic.predict_proba(test[x_cols])[:, 1], time.perf_counter() - start)
    if "hist_gradient_boosting" in wanted:
        start = time.perf_counter()
        categorical = [c in schema.categorical for c in x_cols]
        hgb = HistGradientBoostingClassifier(categorical_features=categorical if any(categorical) else None,
                                             random_state=seed)
        to_cat = {c: "category" for c in schema.categorical}
        hgb.fit(train[x_cols].astype(to_cat), y_train)
        record("hist gradient boosting", hgb.predict_proba(test[x_cols].astype(to_cat))[:, 1],
               time.perf_counter() - start)
    if scratch is not None:
        scratch.cleanup()
    return pd.DataFrame(rows).set_index("model")
