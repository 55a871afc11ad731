"""The preprocessing layer saved inside fraud models: raw columns in, one feature vector out.

Fitted statistics (quantiles, means, vocabularies) live in the layer's config, so a saved model or
SavedModel takes raw transactions and nothing outside it can drift from what training used.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import pandas as pd
from keras import ops

OOV = 0  # index of the out-of-vocabulary bucket of every categorical column
EPS = 1e-3  # quantile levels are clipped to [EPS, 1 - EPS] before the normal quantile function


@keras.saving.register_keras_serializable("restoolkit")
class TabularEncoder(keras.layers.Layer):
    """Numeric scaling, missing-value indicators, categorical embeddings and optional PLR embeddings.

    Args:
        numeric: numeric column names (inputs ``(B, 1)`` float32, NaN for missing).
        categorical: categorical column names (inputs ``(B, 1)`` strings).
        scaling: ``"quantile"`` (to a standard normal through the training quantiles: each quantile knot
            maps to the normal quantile of its level and values in between are interpolated linearly —
            scikit-learn's ``QuantileTransformer(output_distribution="normal")`` interpolates the level
            first; interpolating on the normal scale is as good and needs no ``erfinv`` at serving time)
            or ``"standard"``.
        stats: per numeric column ``{"knots": [...], "levels": [...], "normal": [...], "mean", "std",
            "median"}``.
        missing: numeric columns that get a missing-value indicator (NaN is replaced by the median).
        vocabularies: per categorical column its known values; anything else maps to the OOV bucket.
        embedding_dim: size of each categorical embedding.
        plr_frequencies: ``k > 0`` turns numeric features into periodic-linear-ReLU embeddings
            (Gorishniy et al. 2022): ``ReLU(W [sin 2πcx, cos 2πcx])`` with ``k`` trainable frequencies
            per column and ``plr_dim`` outputs.
        plr_sigma: initial scale of the frequencies.
    """

    def __init__(self, numeric, categorical=(), *, scaling="quantile", stats=None, missing=(), vocabularies=None,
                 embedding_dim=4, plr_frequencies=0, plr_dim=8, plr_sigma=1.0, **kwargs):
        super().__init__(**kwargs)
        if scaling not in ("quantile", "standard"):
            raise ValueError(f"scaling must be 'quantile' or 'standard', got {scaling!r}")
        self.numeric, self.categorical = list(numeric), list(categorical)
        self.scaling, self.stats = scaling, dict(stats or {})
        self.missing = [c for c in self.numeric if c in set(missing)]
        self.vocabularies = {k: list(v) for k, v in (vocabularies or {}).items()}
        self.embedding_dim, self.plr_frequencies = int(embedding_dim), int(plr_frequencies)
        self.plr_dim, self.plr_sigma = int(plr_dim), float(plr_sigma)
        for column in self.numeric:
            if column not in self.stats:
                raise ValueError(f"no statistics for numeric column {column!r}: build the encoder with fit_encoder")
        for column in self.categorical:
            if column not in self.vocabularies:
                raise ValueError(f"no vocabulary for categorical column {column!r}")

    @property
    def output_dim(self) -> int:
        numeric = len(self.numeric) * (self.plr_dim if self.plr_frequencies else 1)
        return numeric + len(self.missing) + len(self.categorical) * self.embedding_dim

    def build(self, input_shape=None):
        self.lookups = {c: keras.layers.StringLookup(vocabulary=self.vocabularies[c], num_oov_indices=1,
                                                     name=f"lookup_{c}") for c in self.categorical}
        self.embeddings = {c: keras.layers.Embedding(len(self.vocabularies[c]) + 1, self.embedding_dim,
                                                     name=f"embedding_{c}") for c in self.categorical}
        for c in self.categorical:
            self.embeddings[c].build((None,))
        if self.plr_frequencies:
            n, k = len(self.numeric), self.plr_frequencies
            self.frequencies = self.add_weight(name="plr_frequencies", shape=(n, k),
                                               initializer=keras.initializers.RandomNormal(stddev=self.plr_sigma))
            self.plr_kernel = self.add_weight(name="plr_kernel", shape=(n, 2 * k, self.plr_dim),
                                              initializer="glorot_uniform")
            self.plr_bias = self.add_weight(name="plr_bias", shape=(n, self.plr_dim), initializer="zeros")
        self.built = True

    def _scale(self, x, j, column):
        s = self.stats[column]
        if self.scaling == "standard":
            return (x - s["mean"]) / s["std"]
        knots = ops.convert_to_tensor(np.asarray(s["knots"], "float32"))
        normal = ops.convert_to_tensor(np.asarray(s["normal"], "float32"))
        n = len(s["knots"])
        if n == 1:
            return ops.zeros_like(x)
        idx = ops.clip(ops.searchsorted(knots, x, side="right"), 1, n - 1)
        x0, x1 = ops.take(knots, idx - 1), ops.take(knots, idx)
        z0, z1 = ops.take(normal, idx - 1), ops.take(normal, idx)
        return z0 + (ops.clip(x, s["knots"][0], s["knots"][-1]) - x0) * (z1 - z0) / (x1 - x0)

    def call(self, inputs):
        parts, indicators = [], []
        columns = []
        for j, column in enumerate(self.numeric):
            x = ops.reshape(ops.cast(inputs[column], "float32"), (-1,))
            nan = ops.isnan(x)
            if column in self.missing:
                indicators.append(ops.cast(nan, "float32"))
            x = ops.where(nan, self.stats[column]["median"], x)
            columns.append(self._scale(x, j, column))
        if columns:
            numeric = ops.stack(columns, axis=1)  # (B, F)
            if self.plr_frequencies:
                angles = 2 * math.pi * numeric[:, :, None] * self.frequencies[None]  # (B, F, k)
                periodic = ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)
                embedded = ops.relu(ops.einsum("bfk,fkd->bfd", periodic, self.plr_kernel) + self.plr_bias)
                numeric = ops.reshape(embedded, (-1, len(self.numeric) * self.plr_dim))
            parts.append(numeric)
        if indicators:
            parts.append(ops.stack(indicators, axis=1))
        for column in self.categorical:
            index = self.lookups[column](ops.reshape(inputs[column], (-1,)))
            parts.append(self.embeddings[column](index))
        return ops.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]

    def compute_output_shape(self, input_shape):
        return (None, self.output_dim)

    def get_config(self):
        return {**super().get_config(), "numeric": self.numeric, "categorical": self.categorical,
                "scaling": self.scaling, "stats": self.stats, "missing": self.missing,
                "vocabularies": self.vocabularies, "embedding_dim": self.embedding_dim,
                "plr_frequencies": self.plr_frequencies, "plr_dim": self.plr_dim, "plr_sigma": self.plr_sigma}


def _quantile_knots(values: np.ndarray, n: int) -> tuple[list, list]:
    """Distinct knots and their quantile levels (ties share the mean level: discrete columns work)."""
    levels = np.linspace(0, 1, n)
    knots = np.quantile(values, levels)
    frame = pd.DataFrame({"knot": knots, "level": levels}).groupby("knot", sort=True)["level"].mean()
    return frame.index.astype(float).tolist(), frame.to_numpy(float).tolist()


def fit_encoder(df: pd.DataFrame, schema, *, scaling: str = "quantile", n_quantiles: int = 64,
                embedding_dim: int = 4, max_categories: int = 1000, min_count: int = 1, plr_frequencies: int = 0,
                plr_dim: int = 8) -> TabularEncoder:
    """A :class:`TabularEncoder` with statistics from the training table ``df``.

    Categories seen fewer than ``min_count`` times, or beyond the ``max_categories`` most frequent, go
    to the OOV bucket (so the model learns what "rare or new" looks like).
    """
    from scipy.special import ndtri

    stats = {}
    for column in schema.numeric:
        values = df[column].to_numpy("float64")
        values = values[~np.isnan(values)]
        if len(values) == 0:
            raise ValueError(f"numeric column {column!r} holds no values to fit the scaling")
        knots, levels = _quantile_knots(values, n_quantiles)
        normal = ndtri(np.clip(levels, EPS, 1 - EPS)).tolist()
        std = float(values.std())
        stats[column] = {"knots": knots, "levels": levels, "normal": normal, "mean": float(values.mean()),
                         "std": std if std > 0 else 1.0, "median": float(np.median(values))}
    vocabularies = {}
    for column in schema.categorical:
        counts = df[column].astype(str).value_counts()
        vocabularies[column] = sorted(counts[counts >= min_count].index[:max_categories].tolist())
    missing = [c for c in schema.numeric if c in schema.nullable or df[c].isna().any()]
    return TabularEncoder(schema.numeric, schema.categorical, scaling=scaling, stats=stats, missing=missing,
                          vocabularies=vocabularies, embedding_dim=embedding_dim, plr_frequencies=plr_frequencies,
                          plr_dim=plr_dim, name="encoder")


def to_inputs(df: pd.DataFrame, schema) -> dict[str, np.ndarray]:
    """Model inputs from a (validated) table: ``(N, 1)`` float32 numeric and string categorical arrays."""
    out = {c: df[c].to_numpy("float32").reshape(-1, 1) for c in schema.numeric}
    out.update({c: df[c].astype(str).to_numpy(object).reshape(-1, 1) for c in schema.categorical})
    return out
