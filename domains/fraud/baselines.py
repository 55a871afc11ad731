"""The baselines a fraud team would really run, fitted on the same time-ordered split as our models.

Each baseline is fitted on ``train`` and uses the *later* ``validation`` slice for what needs held-out
data (early stopping, choosing among a few settings by validation AUPRC) — never a random slice of the
training rows: with a time-ordered split, a random 10% is the past the model already saw, and
scikit-learn's automatic early stopping on such a slice stopped HistGradientBoosting after 11 iterations
on the public credit-card table (AUPRC 0.342 against 0.752 balanced with a time-ordered slice).

``fit_baseline(name, train, validation, schema, seed)`` returns a :class:`FittedBaseline`: call it on a
table for scores; ``model`` is the fitted estimator, ``n_iterations`` the boosting rounds it kept.
XGBoost and LightGBM come with the ``baselines`` extra (``pip install restoolkit[baselines]``); without
them :func:`available_baselines` leaves them out, and asking for one by name raises ``ConfigError``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

from restoolkit.errors import ConfigError

# Deterministic baselines are fitted once, whatever the number of seeds.
DETERMINISTIC = ("logistic_regression",)
NAMES = {
    "logistic_regression": "logistic regression",
    "random_forest": "random forest",
    "hist_gradient_boosting": "hist gradient boosting",
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
}
_NEEDS = {"xgboost": "xgboost", "lightgbm": "lightgbm"}


def available_baselines() -> tuple[str, ...]:
    """Every baseline whose library is installed, in table order."""
    return tuple(n for n in NAMES if n not in _NEEDS or importlib.util.find_spec(_NEEDS[n]) is not None)


def _categories(train: pd.DataFrame, schema) -> dict:
    """Each categorical column's training values: the categories every later table is coded with (a value
    first seen later becomes missing, the trees' unknown)."""
    return {c: pd.CategoricalDtype(sorted(train[c].unique())) for c in schema.categorical}


def _frame(table: pd.DataFrame, *, schema, categories: dict, codes: bool = False) -> pd.DataFrame:
    x = table[schema.features].copy()
    for column, dtype in categories.items():
        x[column] = x[column].astype(dtype)
        if codes:  # for models without native categories: the code, -1 for unknown
            x[column] = x[column].cat.codes.astype("float32")
    return x


def _best_by_validation(candidates, validation_x, y_validation):
    """The fitted candidate with the highest validation AUPRC."""
    scored = [(average_precision_score(y_validation, model.predict_proba(validation_x)[:, 1]), i, model)
              for i, model in enumerate(candidates)]
    return max(scored, key=lambda t: (t[0], -t[1]))[2]


@dataclass
class FittedBaseline:
    """A fitted baseline: ``fitted(table)`` gives fraud scores in row order."""

    name: str
    model: object
    features: Callable[[pd.DataFrame], pd.DataFrame]
    n_iterations: int | None = None  # boosting rounds kept after early stopping (GBDTs), else None

    def __call__(self, table: pd.DataFrame) -> np.ndarray:
        return self.model.predict_proba(self.features(table))[:, 1]


def fit_baseline(name: str, train: pd.DataFrame, validation: pd.DataFrame, schema, *, seed: int = 0) -> FittedBaseline:
    """Fits baseline ``name`` on validated tables (``validation`` later in time than ``train``)."""
    if name not in NAMES:
        raise ConfigError(f"unknown baseline {name!r}; known: {list(NAMES)}")
    if name not in available_baselines():
        raise ConfigError(f"baseline {name!r} needs the {_NEEDS[name]!r} package: pip install 'restoolkit[baselines]'")
    categories = _categories(train, schema)
    y, y_val = train[schema.target].to_numpy(), validation[schema.target].to_numpy()
    has_categories = bool(schema.categorical)

    if name == "logistic_regression":
        from sklearn.compose import ColumnTransformer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        model = make_pipeline(
            ColumnTransformer([("num", StandardScaler(), schema.numeric),
                               ("cat", OneHotEncoder(handle_unknown="ignore"), schema.categorical)]),
            LogisticRegression(max_iter=2000))
        model.fit(train[schema.features], y)
        return FittedBaseline(name, model, lambda t: t[schema.features])

    if name == "random_forest":
        from sklearn.ensemble import RandomForestClassifier

        model = RandomForestClassifier(n_estimators=100, min_samples_leaf=1, n_jobs=-1, random_state=seed)
        codes = partial(_frame, schema=schema, categories=categories, codes=True)
        return FittedBaseline(name, model.fit(codes(train), y), codes)

    frame = partial(_frame, schema=schema, categories=categories)
    x, x_val = frame(train), frame(validation)
    if name == "hist_gradient_boosting":
        from sklearn.ensemble import HistGradientBoostingClassifier

        # Balanced class weights; early stopping on the later validation slice (X_val), not a random 10%.
        candidates = []
        for learning_rate in (0.05, 0.1):
            model = HistGradientBoostingClassifier(
                learning_rate=learning_rate, max_iter=1000, early_stopping=True, n_iter_no_change=30,
                class_weight="balanced", categorical_features="from_dtype", random_state=seed)
            candidates.append(model.fit(x, y, X_val=x_val, y_val=y_val))
        model = _best_by_validation(candidates, x_val, y_val)
        return FittedBaseline(name, model, frame, int(model.n_iter_))

    if name == "xgboost":
        import xgboost

        candidates = []
        for depth in (4, 6):
            model = xgboost.XGBClassifier(
                n_estimators=2000, learning_rate=0.05, max_depth=depth, subsample=0.8, colsample_bytree=0.8,
                tree_method="hist", enable_categorical=has_categories, early_stopping_rounds=50,
                # Early stopping watches the last metric, the validation AUPRC; the log loss is there to check.
                eval_metric=["logloss", "aucpr"],
                n_jobs=2, random_state=seed)
            candidates.append(model.fit(x, y, eval_set=[(x_val, y_val)], verbose=False))
        model = _best_by_validation(candidates, x_val, y_val)
        return FittedBaseline(name, model, frame, int(model.best_iteration) + 1)

    import lightgbm

    candidates = []
    for leaves in (15, 63):
        # metric: only the validation AUPRC, so early stopping watches it (not also the log loss).
        model = lightgbm.LGBMClassifier(n_estimators=2000, learning_rate=0.05, num_leaves=leaves, subsample=0.8,
                                        subsample_freq=1, colsample_bytree=0.8, metric="average_precision",
                                        n_jobs=2, random_state=seed, verbose=-1)
        candidates.append(model.fit(x, y, eval_X=(x_val,), eval_y=(y_val,),
                                    callbacks=[lightgbm.early_stopping(50, verbose=False)]))
    model = _best_by_validation(candidates, x_val, y_val)
    return FittedBaseline(name, model, frame, int(model.best_iteration_))


def seed_summary(values) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value)."""
    values = np.asarray(values, float)
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0
