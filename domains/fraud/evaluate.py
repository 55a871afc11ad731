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
        k: for precision@k and, when the schema has a ``card`` column and the table ``tx_time_days``,
            Card Precision@k.
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
    if schema.card is not None and "tx_time_days" in table.columns:
        metrics[f"card_precision@{k}"] = card_precision_at_k(table, s, k=k, card=schema.card, target=schema.target)
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


# Our rows in compare(): the registry entry → the row's name.
OURS = {"resmlp": "resmlp (ours)", "resmlp_single": "resmlp, one network (ours)",
        "ft_transformer": "ft-transformer (ours)"}
PRESET_OF = {"resmlp": "resmlp_fraud", "resmlp_single": "resmlp_single_fraud",
             "ft_transformer": "ft_transformer_fraud"}  # our rows are the FraudClassifier presets


def compare(df: pd.DataFrame, schema=None, *, fractions=(0.6, 0.2, 0.2), train_days: float | None = None,
            delay_days: float = 7, test_days: float | None = None, validation_share: float = 0.2, run_dir=None,
            epochs: int | None = None, k: int = 100, seeds=(0,), models=None, **train_kwargs) -> pd.DataFrame:
    """Our models and the baselines a fraud team would run, on one time-ordered split, in one table.

    The split: by default ``fractions`` of the rows in the schema's time order (train / validation /
    test, 60/20/20); with ``train_days`` and ``test_days``, :func:`~domains.fraud.data.time_split` (a
    ``delay_days`` gap, known-compromised cards removed when the schema has a card column), the last
    ``validation_share`` of the training period in time order validating. Every model sees the same three
    parts: it trains on the first, may use the validation part (our checkpoint selection, the GBDTs'
    early stopping and choice of settings), and is scored on the test part.

    Models (``models``; default: ``"resmlp"`` and every installed baseline): ours,
    :class:`~domains.fraud.FraudClassifier` as its presets build it — ``"resmlp"`` (``resmlp_fraud``, the
    default: an ensemble of six, the seed-stable one), ``"resmlp_single"`` (``resmlp_single_fraud``: one
    network) and
    ``"ft_transformer"`` (the FT-Transformer trains about 20× slower on CPU, so it is a row when asked
    for) —, and
    :mod:`domains.fraud.baselines`: logistic regression,
    random forest, HistGradientBoosting (balanced, early stopping on the validation part), XGBoost and
    LightGBM (``baselines`` extra; early stopping, depth / leaves chosen on validation AUPRC).

    Stochastic models are trained once per seed in ``seeds``; each metric is their mean, with
    ``auprc_sd`` (sample standard deviation over seeds), ``auprc_spread`` (largest minus smallest) and
    ``seeds``.

    ``run_dir`` is where our model trains (one sub-folder per seed); by default a new temporary folder,
    so no call ever reports a model trained by an earlier one.

    Returns:
        One row per model: AUPRC (mean), ``auprc_sd``, ROC-AUC, recall at FPR 0.1% / 1%, precision@k,
        Card Precision@k (schemas with a card and ``tx_time_days``), training seconds (mean per seed).
    """
    import tempfile
    from pathlib import Path

    from domains.fraud.baselines import DETERMINISTIC, NAMES, available_baselines, fit_baseline, seed_summary
    from domains.fraud.data import SIMULATED_SCHEMA, split, time_split
    from domains.fraud.fraud_classifier import FraudClassifier
    from domains.fraud.train import train as train_task

    schema = schema or SIMULATED_SCHEMA
    if schema.target is None:
        raise ConfigError("compare needs a schema with a target column")
    seeds = [int(s) for s in np.atleast_1d(seeds)]
    if not seeds:
        raise ConfigError("seeds must name at least one seed")
    wanted = list(models) if models is not None else ["resmlp", *available_baselines()]
    unknown = [m for m in wanted if m not in OURS and m not in NAMES]
    if unknown:
        raise ConfigError(f"unknown model(s) {unknown}; known: {[*OURS, *NAMES]}")
    if (train_days is None) != (test_days is None):
        raise ConfigError("give both train_days and test_days (a split by days), or neither (by fractions)")
    if train_days is not None:
        train, test = time_split(df, schema, train_days=train_days, delay_days=delay_days, test_days=test_days)
        train, validation = split(train, schema=schema, fractions=(1 - validation_share, validation_share))
    else:
        if len(fractions) != 3:
            raise ConfigError(f"fractions must be three shares (train, validation, test), got {fractions}")
        train, validation, test = split(df, schema=schema, fractions=tuple(fractions))
    train, validation, test = (schema.validate(t, where=w) for t, w in
                               ((train, "train"), (validation, "validation"), (test, "test")))
    for part, name in ((train, "train"), (validation, "validation")):
        if part[schema.target].nunique() < 2:
            raise ConfigError(f"the {name} part has only one class ({len(part)} rows): use a longer period or "
                              "other fractions")
    known = set(train.loc[train[schema.target] == 1, schema.card]) if schema.card else set()
    has_cards = schema.card is not None and "tx_time_days" in test.columns

    def metrics(scores):
        row = fraud_metrics(test[schema.target], scores, k=k)
        if has_cards:
            row[f"card_precision@{k}"] = card_precision_at_k(test, scores, k=k, card=schema.card,
                                                             target=schema.target, known_compromised=known)
        return row

    scratch = tempfile.TemporaryDirectory(prefix="restoolkit-fraud-compare-") if run_dir is None else None
    root = Path(scratch.name if scratch else run_dir)
    rows = []
    try:
        for model in wanted:
            runs = []
            for seed in ([seeds[0]] if model in DETERMINISTIC else seeds):
                start = time.perf_counter()
                if model in OURS:
                    task = FraudClassifier._from_preset_config(FraudClassifier.presets[PRESET_OF[model]]["config"],
                                                               data=train, schema=schema)
                    options = {"seed": seed, "verbose": 0, **train_kwargs}
                    if epochs is not None:
                        options["epochs"] = epochs
                    train_task(task, train, validation, run_dir=root / f"{model}-seed{seed}", **options)
                    scores = task.predict(test)
                else:
                    scores = fit_baseline(model, train, validation, schema, seed=seed)(test)
                runs.append({**metrics(scores), "train_seconds": time.perf_counter() - start})
            row = {"model": OURS.get(model) or NAMES[model]}
            for key in runs[0]:
                row[key] = float(np.mean([r[key] for r in runs]))
            row["auprc_sd"] = seed_summary([r["auprc"] for r in runs])[1]
            row["auprc_spread"] = max(r["auprc"] for r in runs) - min(r["auprc"] for r in runs)
            row["seeds"] = len(runs)
            rows.append(row)
    finally:
        if scratch is not None:
            scratch.cleanup()
    return pd.DataFrame(rows).set_index("model")
