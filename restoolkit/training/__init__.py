"""Training on ``tf.distribute``: strategies, a resumable ``fit``, and the Keras 3 multi-worker fix."""

from restoolkit.training.callbacks import NonFiniteLossError
from restoolkit.training.fit import FitResult, balanced_class_weight, fingerprint_data, fit
from restoolkit.training.strategy import is_chief, resolve_kind, strategy

__all__ = ["FitResult", "NonFiniteLossError", "balanced_class_weight", "fingerprint_data", "fit", "is_chief", "resolve_kind", "strategy"]
