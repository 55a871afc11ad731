"""Training on ``tf.distribute``: strategies, a resumable ``fit``, and the Keras 3 multi-worker fix."""

from restoolkit.training.callbacks import NonFiniteLossError
from restoolkit.training.fit import FitResult, fit
from restoolkit.training.strategy import is_chief, resolve_kind, strategy

__all__ = ["FitResult", "NonFiniteLossError", "fit", "is_chief", "resolve_kind", "strategy"]
