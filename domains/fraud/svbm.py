"""The Support Vector Boosting Machine (Lian 2024, arXiv:2410.06957), as a scikit-learn classifier.

AdaBoost (SAMME) whose weak learners are RBF support vector machines, each fitted on a *subsample*
drawn according to the current sample weights (an SVM is too stable to be boosted on the full,
reweighted set). The paper's "residual connection" on the weights: the next round's weights blend the
AdaBoost update with the previous round's weights,

    w_{t+1} ∝ β_t · w_t + (1 − β_t) · w_t · exp(α_t · 1[miss]),

and β is adapted every round from the weak learner's error: ``β_{t+1} = clip(β_t · ε_t / ε_{t-1}, β_min,
β_max)`` — a learner that got worse keeps more of the old weights (damping), one that improved follows
the new ones. That adaptation rule is our reading of the paper's description; ``adapt_beta=False``
keeps β fixed.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.svm import SVC
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data


class SVBMClassifier(ClassifierMixin, BaseEstimator):
    """Boosted RBF-SVMs on weighted subsamples with residual weight updates.

    Args:
        n_estimators: maximum boosting rounds.
        subsample: share of the training set (``float`` in (0, 1]) or number of samples (``int``) drawn,
            without replacement and with probability proportional to the weights, for each SVM.
        C, gamma: the RBF-SVM's parameters.
        learning_rate: shrinks each learner's vote ``α``.
        beta: initial share of the previous weights kept (0 is plain AdaBoost).
        adapt_beta: adapt β each round from the error ratio.
        beta_bounds: ``(β_min, β_max)``.
        random_state: seed of the subsampling.

    Attributes:
        estimators_, estimator_weights_, estimator_errors_, betas_, classes_, n_features_in_.
    """

    def __init__(self, n_estimators: int = 20, *, subsample=0.5, C: float = 1.0, gamma="scale",
                 learning_rate: float = 1.0, beta: float = 0.3, adapt_beta: bool = True, beta_bounds=(0.0, 0.9),
                 random_state=None):
        self.n_estimators = n_estimators
        self.subsample = subsample
        self.C = C
        self.gamma = gamma
        self.learning_rate = learning_rate
        self.beta = beta
        self.adapt_beta = adapt_beta
        self.beta_bounds = beta_bounds
        self.random_state = random_state

    def _subsample_size(self, n):
        if isinstance(self.subsample, (int, np.integer)) and not isinstance(self.subsample, bool):
            return int(min(max(self.subsample, 2), n))
        if not 0 < float(self.subsample) <= 1:
            raise ValueError(f"subsample must be a share in (0, 1] or a count, got {self.subsample!r}")
        return int(min(n, max(2, round(float(self.subsample) * n))))

    def fit(self, X, y, sample_weight=None):
        X, y = validate_data(self, X, y, accept_sparse=False, dtype="numeric")
        check_classification_targets(y)
        if self.n_estimators < 1:
            raise ValueError(f"n_estimators must be >= 1, got {self.n_estimators}")
        self.classes_, y_index = np.unique(y, return_inverse=True)
        k = len(self.classes_)
        if k < 2:
            raise ValueError(f"SVBMClassifier needs samples of at least 2 classes in the data, got {k} class")
        n = len(X)
        w = np.full(n, 1.0 / n) if sample_weight is None else np.asarray(sample_weight, float).copy()
        if w.shape != (n,) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError("sample_weight must be non-negative, one per sample, not all zero")
        w /= w.sum()
        rng = check_random_state(self.random_state)
        size = self._subsample_size(n)
        beta, previous_error = float(self.beta), None
        self.estimators_, self.estimator_weights_, self.estimator_errors_, self.betas_ = [], [], [], []
        for _ in range(self.n_estimators):
            support = np.flatnonzero(w > 0)
            idx = rng.choice(support, size=min(size, len(support)), replace=False, p=w[support] / w[support].sum())
            if len(np.unique(y_index[idx])) < 2:  # a one-class subsample cannot train an SVM: add one of each
                idx = np.union1d(idx, [rng.choice(np.flatnonzero(y_index == c)) for c in range(k)])
            learner = SVC(C=self.C, kernel="rbf", gamma=self.gamma).fit(X[idx], y_index[idx])
            miss = learner.predict(X) != y_index
            error = float(np.dot(w, miss))
            if error >= 1 - 1 / k:  # no better than chance: stop (keep the first so the model can predict)
                if not self.estimators_:
                    self.estimators_.append(learner)
                    self.estimator_weights_.append(1.0)
                    self.estimator_errors_.append(error)
                    self.betas_.append(beta)
                break
            error = max(error, 1e-10)
            alpha = self.learning_rate * (np.log((1 - error) / error) + np.log(k - 1))
            self.estimators_.append(learner)
            self.estimator_weights_.append(float(alpha))
            self.estimator_errors_.append(error)
            self.betas_.append(beta)
            if error <= 1e-10:
                break
            boosted = w * np.exp(alpha * miss)
            boosted /= boosted.sum()
            w = beta * w + (1 - beta) * boosted  # the residual connection on the weights
            w /= w.sum()
            if self.adapt_beta and previous_error is not None:
                beta = float(np.clip(beta * error / previous_error, *self.beta_bounds))
            previous_error = error
        self.estimator_weights_ = np.asarray(self.estimator_weights_)
        self.estimator_errors_ = np.asarray(self.estimator_errors_)
        return self

    def decision_function(self, X):
        """SAMME votes; ``(n,)`` for two classes (positive favours ``classes_[1]``), else ``(n, k)``."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, accept_sparse=False, dtype="numeric")
        k = len(self.classes_)
        votes = np.zeros((len(X), k))
        for learner, alpha in zip(self.estimators_, self.estimator_weights_, strict=True):
            votes[np.arange(len(X)), learner.predict(X)] += alpha
        votes /= self.estimator_weights_.sum()
        if k == 2:
            return votes[:, 1] - votes[:, 0]
        return votes

    def predict_proba(self, X):
        """Softmax of the normalised votes (scaled by ``k - 1``), as scikit-learn's SAMME AdaBoost."""
        scores = self.decision_function(X)
        k = len(self.classes_)
        if k == 2:
            scores = np.stack([-scores, scores], axis=1) / 2
        scores = scores * (k - 1) if k > 2 else scores
        scores = scores - scores.max(axis=1, keepdims=True)
        p = np.exp(scores)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X):
        scores = self.decision_function(X)
        index = (scores > 0).astype(int) if len(self.classes_) == 2 else scores.argmax(axis=1)
        return self.classes_[index]
