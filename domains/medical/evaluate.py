"""Clinical evaluation of a binary classifier: discrimination with patient-bootstrap CIs, operating points
chosen on validation data, calibration, patient-level aggregation and subgroups.

Every metric with a scikit-learn implementation comes from scikit-learn (``roc_auc_score``,
``roc_curve``, ``confusion_matrix``, ``brier_score_loss``, ``calibration_curve``); ECE (which scikit-learn
lacks) is written here, in ten lines, next to its definition.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss, confusion_matrix, roc_auc_score, roc_curve

from restoolkit.errors import ConfigError, LabelError
from restoolkit.tasks import Report

AGE_BANDS = (0, 40, 60, 75, 200)


def choose_threshold(y_true, scores, *, specificity: float = 0.9) -> float:
    """The lowest threshold whose specificity is at least ``specificity`` (the most sensitive such point)."""
    fpr, _, thresholds = roc_curve(y_true, scores, drop_intermediate=False)
    allowed = np.flatnonzero(fpr <= 1 - specificity + 1e-12)
    return float(min(thresholds[allowed[-1]], 1.0))


def operating_point(y_true, scores, threshold: float) -> dict:
    """Sensitivity, specificity, PPV and NPV of ``scores >= threshold`` (NaN where undefined)."""
    tn, fp, fn, tp = confusion_matrix(np.asarray(y_true).astype(int), np.asarray(scores) >= threshold,
                                      labels=[0, 1]).ravel()

    def ratio(a, b):
        return float(a / b) if b else float("nan")

    return {"sensitivity": ratio(tp, tp + fn), "specificity": ratio(tn, tn + fp),
            "ppv": ratio(tp, tp + fp), "npv": ratio(tn, tn + fn), "tp": int(tp), "fp": int(fp),
            "tn": int(tn), "fn": int(fn)}


def expected_calibration_error(y_true, probs, *, bins: int = 10) -> float:
    """ECE with equal-width bins: Σ_b (n_b / n) · |mean(y)_b − mean(p)_b|."""
    y, p = np.asarray(y_true, float), np.asarray(probs, float)
    which = np.minimum((p * bins).astype(int), bins - 1)
    ece = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            ece += inside.mean() * abs(y[inside].mean() - p[inside].mean())
    return float(ece)


def _logit(p):
    p = np.clip(np.asarray(p, "float64"), 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


def fit_temperature(y_true, probs) -> float:
    """The temperature ``T`` minimising the log loss of ``sigmoid(logit(p) / T)`` (Guo et al. 2017)."""
    from scipy.optimize import minimize_scalar

    z, y = _logit(probs), np.asarray(y_true, float)

    def nll(log_t):
        q = np.clip(1 / (1 + np.exp(-z / np.exp(log_t))), 1e-12, 1 - 1e-12)
        return -np.mean(y * np.log(q) + (1 - y) * np.log(1 - q))

    return float(np.exp(minimize_scalar(nll, bounds=(-4, 4), method="bounded").x))


def apply_temperature(probs, temperature: float):
    return 1 / (1 + np.exp(-_logit(probs) / temperature))


def bootstrap_auroc(y_true, scores, groups, *, n: int = 1000, seed: int = 0, level: float = 0.95):
    """Percentile CI of AUROC, resampling *groups* (patients) with replacement, not images.

    Images of one patient are correlated; resampling them independently gives intervals that are too
    narrow. Resamples holding one class only are redrawn.
    """
    y, s, g = np.asarray(y_true), np.asarray(scores), np.asarray(groups)
    ids, inverse = np.unique(g, return_inverse=True)
    members = [np.flatnonzero(inverse == i) for i in range(len(ids))]
    rng = np.random.default_rng(seed)
    values = []
    while len(values) < n:
        picked = np.concatenate([members[i] for i in rng.integers(0, len(ids), len(ids))])
        if len(np.unique(y[picked])) == 2:
            values.append(roc_auc_score(y[picked], s[picked]))
    alpha = (1 - level) / 2
    return float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha))


def aggregate(predictions: pd.DataFrame, *, by: str = "patient", how: str = "mean") -> pd.DataFrame:
    """One row per ``by`` group: its label (max) and score (``mean`` or ``max`` of its images)."""
    if how not in ("mean", "max"):
        raise ConfigError(f"how must be 'mean' or 'max', got {how!r}")
    grouped = predictions.groupby(by, sort=True)
    out = grouped.agg(label=("label", "max"), score=("score", how), images=("score", "size"))
    firsts = grouped.first()
    for column in ("manufacturer", "sex", "age_years"):
        if column in firsts:
            out[column] = firsts[column]
    return out.reset_index()


def _age_band(age) -> str | None:
    if age is None or pd.isna(age):
        return None
    for lo, hi in zip(AGE_BANDS, AGE_BANDS[1:], strict=False):
        if lo <= age < hi:
            return f"{lo}-{hi - 1}" if hi < 200 else f"{lo}+"
    return None


class ClinicalReport(Report):
    """What :func:`evaluate` returns: a :class:`restoolkit.tasks.Report` (``metrics``, ``tables``,
    ``to_markdown()``, ``save()``) with the per-row ``predictions`` (hashed patient ids only)."""

    def __init__(self, metrics: dict, predictions: pd.DataFrame, reliability: pd.DataFrame,
                 subgroups: pd.DataFrame, notes=()):
        super().__init__(title="Clinical evaluation", metrics=metrics,
                         tables={"subgroups": subgroups, "reliability": reliability},
                         figures={"reliability": self.plot_reliability}, notes=list(notes))
        self.predictions = predictions

    @property
    def reliability(self) -> pd.DataFrame:
        return self.tables["reliability"]

    @property
    def subgroups(self) -> pd.DataFrame:
        return self.tables["subgroups"]

    def to_markdown(self) -> str:
        m = self.metrics
        lo, hi = m["auroc_ci"]
        lines = [
            f"# Evaluation ({m['level']} level, {m['n']} {m['level']}s, {m['n_patients']} patients, prevalence {m['prevalence']:.3f})",
            "",
            "| metric | value |", "|---|---|",
            f"| AUROC (95% CI, patient bootstrap ×{m['n_bootstrap']}) | {m['auroc']:.3f} ({lo:.3f}–{hi:.3f}) |",
            f"| threshold ({m['threshold_source']}) | {m['threshold']:.4f} |",
        ]
        for key in ("sensitivity", "specificity", "ppv", "npv", "brier", "ece"):
            lines.append(f"| {key.upper() if len(key) == 3 else key} | {m[key]:.3f} |")
        if m.get("temperature") is not None:
            lines.append(f"| temperature (fitted on validation) | {m['temperature']:.3f} |")
        lines += ["", "## Subgroups", "", self.subgroups.to_markdown(index=False, floatfmt=".3f")]
        lines += ["", *[f"- {n}" for n in self.notes]]
        return "\n".join(lines) + "\n"

    def plot_reliability(self, ax=None):
        """Reliability diagram: observed positive rate against mean predicted probability per bin."""
        import matplotlib.pyplot as plt

        ax = ax or plt.subplots(figsize=(4, 4))[1]
        ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
        ax.plot(self.reliability["predicted"], self.reliability["observed"], "o-",
                label=f"model (ECE {self.metrics['ece']:.3f})")
        ax.set(xlabel="mean predicted probability", ylabel="observed positive rate", xlim=(0, 1), ylim=(0, 1))
        ax.legend(loc="upper left")
        return ax

    def save(self, folder) -> Path:
        """Writes ``report.md``, ``metrics.json``, the tables, ``reliability.png`` and ``predictions.csv``."""
        path = super().save(folder)
        path.write_text(self.to_markdown() + "\n![reliability](reliability.png)\n")
        self.predictions.to_csv(path.parent / "predictions.csv", index=False)
        return path


def predict(task, index: pd.DataFrame, dataset=None) -> pd.DataFrame:
    """The index's non-identifying columns with the task's ``score`` (probability of class 1) per row.

    ``dataset`` must yield the index's rows in order (``make_dataset(index)`` without shuffling); without
    it the task's preprocessor reads the files.
    """
    if dataset is None:
        probs = np.asarray(task.predict(index), "float64")
    else:
        probs = np.asarray(task.predict(dataset.map(lambda x, *rest: x), verbose=0), "float64")
    if len(probs) != len(index):
        raise ConfigError(f"the dataset gave {len(probs)} predictions for {len(index)} index rows; it must "
                         "yield the index rows in order (no shuffling, no dropped remainder)")
    scores = probs[:, -1] if probs.ndim == 2 else probs
    keep = [c for c in ("patient", "study", "series", "modality", "manufacturer", "sex", "age_years", "label")
            if c in index]
    out = index[keep].reset_index(drop=True).copy()
    out["score"] = scores
    return out


def evaluate(
    task,
    data,
    *,
    validation=None,
    specificity: float = 0.9,
    threshold: float | None = None,
    temperature_scaling: bool = False,
    level: str = "image",
    how: str = "mean",
    n_bootstrap: int = 1000,
    bins: int = 10,
    subgroups=("manufacturer", "sex", "age_band"),
    seed: int = 0,
) -> ClinicalReport:
    """A clinical report for a binary classifier on the rows of an index.

    Args:
        task: an :class:`~domains.medical.ImageClassifier` (its preprocessor reads the files), or any
            model whose last output column is the probability of the finding, given with datasets.
        data: the evaluated index (with ``label`` and ``patient``), or ``(dataset, index)`` where the
            dataset yields the index's rows in order.
        validation: the validation index (or ``(dataset, index)``) on which the threshold and the
            temperature are chosen. Without it the threshold is 0.5 and no temperature is fitted.
        specificity: the target specificity for the threshold chosen on validation.
        threshold: a fixed threshold instead.
        temperature_scaling: fit a temperature on validation and report calibrated probabilities.
        level: ``image`` or ``patient`` (scores aggregated per patient with ``how``).
        n_bootstrap: patient-bootstrap resamples for the AUROC interval.
        bins: calibration bins (ECE and reliability diagram).
        subgroups: index columns (``age_band`` is derived from ``age_years``).

    Returns:
        :class:`ClinicalReport`.
    """
    if level not in ("image", "patient"):
        raise ConfigError(f"level must be 'image' or 'patient', got {level!r}")
    dataset, index = data if isinstance(data, tuple) else (None, data)
    if "label" not in index:
        raise LabelError("index has no 'label' column: call attach_labels first")
    notes = []
    preds = predict(task, index, dataset)
    val_preds = None
    if validation is not None:
        val_ds, val_index = validation if isinstance(validation, tuple) else (None, validation)
        val_preds = predict(task, val_index, val_ds)
    if level == "patient":
        preds = aggregate(preds, how=how)
        val_preds = aggregate(val_preds, how=how) if val_preds is not None else None
        notes.append(f"patient score = {how} of the patient's image scores; label = any positive image")

    temperature = None
    if temperature_scaling:
        if val_preds is None:
            raise ConfigError("temperature_scaling needs validation data")
        temperature = fit_temperature(val_preds["label"], val_preds["score"])
        preds["score"] = apply_temperature(preds["score"], temperature)
        val_preds["score"] = apply_temperature(val_preds["score"], temperature)
    if threshold is not None:
        source = "given"
    elif val_preds is not None:
        threshold = choose_threshold(val_preds["label"], val_preds["score"], specificity=specificity)
        source = f"{specificity:.0%} specificity on validation"
    else:
        threshold, source = 0.5, "0.5, no validation data"

    y, s = preds["label"].to_numpy().astype(int), preds["score"].to_numpy()
    if len(np.unique(y)) < 2:
        raise LabelError("the evaluated rows hold one class only; AUROC is undefined")
    auroc = roc_auc_score(y, s)
    ci = bootstrap_auroc(y, s, preds["patient"], n=n_bootstrap, seed=seed)
    observed, predicted = calibration_curve(y, s, n_bins=bins, strategy="uniform")
    metrics = {
        "level": level, "n": len(preds), "n_patients": int(preds["patient"].nunique()),
        "prevalence": float(y.mean()), "auroc": float(auroc), "auroc_ci": ci, "n_bootstrap": n_bootstrap,
        "threshold": float(threshold), "threshold_source": source,
        **operating_point(y, s, threshold),
        "brier": float(brier_score_loss(y, s)), "ece": expected_calibration_error(y, s, bins=bins),
        "temperature": temperature,
    }
    reliability = pd.DataFrame({"predicted": predicted, "observed": observed})
    return ClinicalReport(metrics, preds, reliability, _subgroup_table(preds, subgroups, threshold), notes)


def _subgroup_table(preds: pd.DataFrame, columns, threshold: float) -> pd.DataFrame:
    preds = preds.copy()
    if "age_years" in preds:
        preds["age_band"] = preds["age_years"].map(_age_band)
    rows = []
    for column in columns:
        if column not in preds:
            continue
        for value, part in preds.groupby(column, sort=True):
            y, s = part["label"].to_numpy().astype(int), part["score"].to_numpy()
            point = operating_point(y, s, threshold)
            rows.append({"subgroup": column, "value": value, "n": len(part), "positives": int(y.sum()),
                         "auroc": roc_auc_score(y, s) if len(np.unique(y)) == 2 else float("nan"),
                         "sensitivity": point["sensitivity"], "specificity": point["specificity"]})
    return pd.DataFrame(rows, columns=["subgroup", "value", "n", "positives", "auroc", "sensitivity", "specificity"])
