"""Fraud metrics against scikit-learn and by hand; costs; calibration; the comparison table; SVBM."""

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_moons
from sklearn.ensemble import AdaBoostClassifier
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.utils.estimator_checks import check_estimator

from domains.fraud import (
    SVBMClassifier,
    calibrate,
    card_precision_at_k,
    compare,
    cost_threshold,
    expected_cost,
    fraud_metrics,
    reliability,
)
from domains.fraud.evaluate import precision_at_k, recall_at_fpr


def test_metrics_equal_scikit_learn_and_hand_counts():
    rng = np.random.default_rng(0)
    y = (rng.random(2000) < 0.02).astype(int)
    s = rng.random(2000) + y * 0.5
    m = fraud_metrics(y, s, k=50)
    assert m["auprc"] == average_precision_score(y, s) and m["roc_auc"] == roc_auc_score(y, s)
    assert m["precision@50"] == y[np.argsort(-s)[:50]].mean()
    # recall at FPR by hand: the best threshold that lets through at most 1% of negatives.
    negatives = np.sort(s[y == 0])[::-1]
    allowed = int(np.floor(0.01 * len(negatives)))
    threshold = negatives[allowed]  # strictly above it: at most `allowed` negatives
    assert recall_at_fpr(y, s, 0.01) == pytest.approx((s[y == 1] > threshold).mean())
    assert precision_at_k([0, 1, 1, 0], [0.1, 0.9, 0.8, 0.85], 2) == 0.5


def test_card_precision_at_k_by_hand():
    df = pd.DataFrame({"tx_time_days": [0, 0, 0, 0, 1, 1, 1],
                       "customer_id": [1, 1, 2, 3, 1, 2, 3],
                       "tx_fraud": [0, 1, 0, 0, 1, 0, 1]})
    scores = [0.2, 0.9, 0.8, 0.1, 0.95, 0.1, 0.5]
    # Day 0: cards by max score 1 (0.9, fraud), 2 (0.8) → 1/2. Card 1 is now known.
    # Day 1: card 1 excluded; cards 3 (0.5, fraud), 2 (0.1) → 1/2.
    assert card_precision_at_k(df, scores, k=2) == 0.5
    assert card_precision_at_k(df, scores, k=2, known_compromised={3}) == pytest.approx((0.5 + 0.0) / 2)


def test_cost_threshold_minimises_expected_cost_on_calibrated_scores():
    rng = np.random.default_rng(1)
    p = rng.beta(0.3, 8, 200000)
    y = rng.random(len(p)) < p
    t = cost_threshold(cost_missed_fraud=200.0, cost_review=5.0)
    assert t == 0.025
    costs = {u: expected_cost(y, p, u, cost_missed_fraud=200, cost_review=5) for u in (0.005, 0.0125, t, 0.05, 0.1)}
    assert min(costs, key=costs.get) == t
    calibrated = calibrate(y[:100000], (p ** 0.5)[:100000])  # miscalibrated scores, monotone in p
    table = reliability(y[100000:], calibrated((p ** 0.5)[100000:]), bins=5)
    assert np.abs(table["predicted"] - table["observed"]).max() < 0.02


def test_compare_trains_ours_and_the_baselines_on_one_split(transactions, tmp_path):
    table = compare(transactions, train_days=35, delay_days=7, test_days=14, run_dir=tmp_path, epochs=3,
                    model_kwargs={"width": 32, "depth": 2})
    assert list(table.index) == ["resmlp (ours)", "logistic regression", "hist gradient boosting"]
    assert {"auprc", "roc_auc", "recall@fpr0.01", "precision@100", "card_precision@100", "train_seconds"} <= set(table)
    prevalence = table["prevalence"].iloc[0]
    assert (table["auprc"] > 5 * prevalence).all() and (table["train_seconds"] > 0).all()


def test_svbm_passes_scikit_learn_checks():
    results = check_estimator(SVBMClassifier(n_estimators=4, random_state=0), on_fail=None,
                              expected_failed_checks={"check_sample_weight_equivalence_on_dense_data":
                                                      "weights drive a random subsample, not the loss"})
    failed = [r["check_name"] for r in results if r["status"] == "failed"]
    assert failed == []


def test_svbm_against_adaboost_and_its_weight_rule():
    X, y = make_moons(600, noise=0.3, random_state=0)
    train, test = slice(0, 400), slice(400, 600)
    svbm = SVBMClassifier(n_estimators=10, subsample=0.3, random_state=0).fit(X[train], y[train])
    ada = AdaBoostClassifier(n_estimators=10, random_state=0).fit(X[train], y[train])
    assert svbm.score(X[test], y[test]) >= ada.score(X[test], y[test]) - 0.02
    assert len(svbm.estimators_) == len(svbm.betas_) and np.all(svbm.estimator_weights_ > 0)
    fixed = SVBMClassifier(n_estimators=5, beta=0.5, adapt_beta=False, random_state=0).fit(X[train], y[train])
    assert set(fixed.betas_) == {0.5}
    proba = svbm.predict_proba(X[test])
    np.testing.assert_allclose(proba.sum(1), 1)
    assert (svbm.classes_[proba.argmax(1)] == svbm.predict(X[test])).all()
