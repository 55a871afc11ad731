"""Fraud: transactions → behavioural features → :class:`FraudClassifier` (encoder inside) → fraud-team
metrics → a sub-millisecond scorer.

The four steps, as in every domain: ``data`` (:func:`load_table`, :func:`infer_schema`, :func:`split`,
:func:`time_split`, :func:`make_dataset`) → task (:class:`FraudClassifier`, ``from_table`` /
``from_preset``) → :func:`train` → :func:`evaluate` (a :class:`restoolkit.tasks.Report`).
:mod:`.features` holds the encoder layer, :mod:`.serving` exports and scores, :mod:`.svbm` is the
Support Vector Boosting Machine baseline; :mod:`.app` is the command-line job.
"""

from domains.fraud.data import (
    CREDITCARD_SCHEMA,
    SIMULATED_SCHEMA,
    Schema,
    SchemaError,
    add_behaviour_features,
    infer_schema,
    load_creditcard_csv,
    load_table,
    make_dataset,
    read_table,
    rolling_folds,
    simulate_transactions,
    split,
    time_split,
)
from domains.fraud.evaluate import (
    calibrate,
    card_precision_at_k,
    compare,
    cost_threshold,
    evaluate,
    expected_cost,
    fraud_metrics,
    reliability,
)
from domains.fraud.features import TabularEncoder, fit_encoder
from domains.fraud.fraud_classifier import FraudClassifier
from domains.fraud.model import predict_scores
from domains.fraud.serving import Scorer, ScoringError, export_scorer
from domains.fraud.svbm import SVBMClassifier
from domains.fraud.train import train

__all__ = [
    "CREDITCARD_SCHEMA", "FraudClassifier", "SIMULATED_SCHEMA", "SVBMClassifier", "Schema", "SchemaError", "Scorer",
    "ScoringError", "TabularEncoder", "add_behaviour_features", "calibrate", "card_precision_at_k", "compare",
    "cost_threshold", "evaluate", "expected_cost", "export_scorer", "fit_encoder", "fraud_metrics", "infer_schema",
    "load_creditcard_csv", "load_table", "make_dataset", "predict_scores", "read_table", "reliability", "rolling_folds",
    "simulate_transactions", "split", "time_split", "train",
]
