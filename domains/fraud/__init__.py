"""Fraud: transactions → behavioural features → residual MLPs with preprocessing inside → fraud-team
metrics → a sub-millisecond scorer.

One path, a module each: :mod:`.data` (simulator, features, loaders, time splits) → :mod:`.features`
(the encoder layer) → :mod:`.model` → :mod:`.train` → :mod:`.evaluate`; :mod:`.serving` exports and
scores; :mod:`.svbm` is the Support Vector Boosting Machine baseline.
"""

from domains.fraud.data import (
    SIMULATED_SCHEMA,
    Schema,
    SchemaError,
    add_behaviour_features,
    load_creditcard_csv,
    load_table,
    rolling_folds,
    simulate_transactions,
    time_split,
)
from domains.fraud.evaluate import (
    calibrate,
    card_precision_at_k,
    compare,
    cost_threshold,
    expected_cost,
    fraud_metrics,
    reliability,
)
from domains.fraud.features import TabularEncoder, fit_encoder
from domains.fraud.model import build_fraud_model, predict_scores
from domains.fraud.serving import Scorer, ScoringError, export_scorer
from domains.fraud.svbm import SVBMClassifier
from domains.fraud.train import train_fraud_model

__all__ = [
    "SIMULATED_SCHEMA", "SVBMClassifier", "Schema", "SchemaError", "Scorer", "ScoringError", "TabularEncoder",
    "add_behaviour_features", "build_fraud_model", "calibrate", "card_precision_at_k", "compare", "cost_threshold",
    "expected_cost", "export_scorer", "fit_encoder", "fraud_metrics", "load_creditcard_csv", "load_table",
    "predict_scores", "reliability", "rolling_folds", "simulate_transactions", "time_split", "train_fraud_model",
]
