"""Layer factories: how blocks receive their norm, activation and attention layers.

Blocks take *layer specs* instead of boolean flags (the timm way). A spec is one of

- a short name: ``"batch_norm"``, ``"group_norm"``, ``"layer_norm"``, ``"frozen_batch_norm"``,
  ``"none"`` for norms; any Keras activation name (``"relu"``, ``"gelu"``, ``"swish"``) or ``"none"``
  for activations; ``"se"`` or ``"none"`` for attention;
- a dict ``{"name": <short name>, **kwargs}`` such as ``{"name": "batch_norm", "epsilon": 1.001e-5}``;
- a registered Keras layer class (``keras.layers.BatchNormalization`` or a class registered with
  ``keras.saving.register_keras_serializable``).

Specs are plain JSON once normalised by :func:`normalize_spec`, so every block's ``get_config`` keeps
them exactly and ``safe_mode=True`` loading never needs a lambda.
"""

from __future__ import annotations

import copy
from typing import Any

import keras

# Rank-indexed Keras classes: one implementation of every block serves 1-, 2- and 3-D inputs.
_CONV = {1: keras.layers.Conv1D, 2: keras.layers.Conv2D, 3: keras.layers.Conv3D}
_ZERO_PAD = {1: keras.layers.ZeroPadding1D, 2: keras.layers.ZeroPadding2D, 3: keras.layers.ZeroPadding3D}
_AVG_POOL = {1: keras.layers.AveragePooling1D, 2: keras.layers.AveragePooling2D, 3: keras.layers.AveragePooling3D}
_MAX_POOL = {1: keras.layers.MaxPooling1D, 2: keras.layers.MaxPooling2D, 3: keras.layers.MaxPooling3D}
_GAP = {
    1: keras.layers.GlobalAveragePooling1D,
    2: keras.layers.GlobalAveragePooling2D,
    3: keras.layers.GlobalAveragePooling3D,
}


def _check_rank(rank: int) -> int:
    if rank not in _CONV:
        raise ValueError(f"spatial rank must be 1, 2 or 3, got {rank}")
    return rank


def conv_class(rank: int):
    return _CONV[_check_rank(rank)]


def zero_pad_class(rank: int):
    return _ZERO_PAD[_check_rank(rank)]


def avg_pool_class(rank: int):
    return _AVG_POOL[_check_rank(rank)]


def max_pool_class(rank: int):
    return _MAX_POOL[_check_rank(rank)]


def global_avg_pool_class(rank: int):
    return _GAP[_check_rank(rank)]


@keras.saving.register_keras_serializable(package="restoolkit")
class FrozenBatchNormalization(keras.layers.BatchNormalization):
    """Batch norm that always normalises with its moving statistics and never updates them.

    Detection and fine-tuning with small per-replica batches use it (torchvision's
    ``FrozenBatchNorm2d``): batch statistics of 2 images are noise. Gamma and beta stay trainable
    unless ``trainable=False`` is passed as well.
    """

    def call(self, inputs, training=None, mask=None):
        return super().call(inputs, training=False, mask=mask)


NORMS: dict[str, tuple[type, dict]] = {
    "batch_norm": (keras.layers.BatchNormalization, {"epsilon": 1e-5, "momentum": 0.9}),
    "frozen_batch_norm": (FrozenBatchNormalization, {"epsilon": 1e-5, "momentum": 0.9}),
    "group_norm": (keras.layers.GroupNormalization, {"groups": 32, "epsilon": 1e-5}),
    "layer_norm": (keras.layers.LayerNormalization, {"epsilon": 1e-6}),
}
NONE_NAMES = (None, "none", "identity")


def normalize_spec(spec: Any) -> Any:
    """Turns a layer spec into its JSON form (``None``, a name, or a dict with ``name``)."""
    if spec in NONE_NAMES:
        return None
    if isinstance(spec, str):
        return spec
    if isinstance(spec, dict):
        if "name" not in spec and "class_name" not in spec:
            raise ValueError(f"a layer spec dict needs a 'name' key, got {spec!r}")
        return copy.deepcopy(spec)
    if isinstance(spec, type) and issubclass(spec, keras.layers.Layer):
        registered = keras.saving.get_registered_name(spec)
        if spec.__module__.startswith("keras"):
            registered = spec.__name__
        return {"class_name": registered}
    raise TypeError(
        f"a layer spec must be None, a name, a dict or a keras Layer class, got {type(spec).__name__}: {spec!r}"
    )


def _layer_class(class_name: str) -> type:
    cls = keras.saving.get_registered_object(class_name)
    if cls is None:
        cls = getattr(keras.layers, class_name, None)
    if cls is None:
        raise ValueError(f"unknown layer class {class_name!r}: register it with keras.saving.register_keras_serializable")
    return cls


def _split(spec: Any) -> tuple[str | None, dict]:
    spec = normalize_spec(spec)
    if spec is None:
        return None, {}
    if isinstance(spec, str):
        return spec, {}
    spec = dict(spec)
    name = spec.pop("name", None)
    if name is None:
        return "class:" + spec.pop("class_name"), spec
    return name, spec


def make_norm(spec: Any, *, name: str, dtype=None, gamma_zero: bool = False, axis: int = -1):
    """Builds the norm layer a spec describes, or ``None`` for no norm."""
    kind, kwargs = _split(spec)
    if kind is None:
        return None
    if kind.startswith("class:"):
        cls, defaults = _layer_class(kind[6:]), {}
    elif kind in NORMS:
        cls, defaults = NORMS[kind]
    else:
        raise ValueError(f"unknown norm {kind!r}; expected one of {sorted(NORMS)} or 'none'")
    kwargs = {**defaults, **kwargs}
    if gamma_zero:
        kwargs["gamma_initializer"] = "zeros"
    if cls is not keras.layers.LayerNormalization:
        kwargs.setdefault("axis", axis)
    return cls(name=name, dtype=dtype, **kwargs)


def make_act(spec: Any, *, name: str, dtype=None):
    """Builds the activation layer a spec describes, or ``None`` for no activation."""
    kind, kwargs = _split(spec)
    if kind is None:
        return None
    if kind.startswith("class:"):
        return _layer_class(kind[6:])(name=name, dtype=dtype, **kwargs)
    keras.activations.get(kind)  # fails early with Keras' own message on an unknown name
    return keras.layers.Activation(kind, name=name, dtype=dtype)


def make_attn(spec: Any, *, name: str, dtype=None):
    """Builds the channel-attention layer a spec describes (``"se"``), or ``None``."""
    kind, kwargs = _split(spec)
    if kind is None:
        return None
    if kind.startswith("class:"):
        return _layer_class(kind[6:])(name=name, dtype=dtype, **kwargs)
    if kind in ("se", "squeeze_excite"):
        from restoolkit.layers.squeeze_excite import SqueezeExcite

        return SqueezeExcite(name=name, dtype=dtype, **kwargs)
    raise ValueError(f"unknown attention layer {kind!r}; expected 'se' or 'none'")


def build_sublayers(layer, input_shape) -> None:
    """Builds the sublayers a composite layer created in ``build`` by tracing its ``call`` once.

    Keras builds sublayers lazily on first call; doing it inside ``build`` means a built block
    always reports its full weights (``count_params``, weight loading before any call).
    """
    layer.compute_output_spec(keras.KerasTensor(tuple(input_shape), dtype=layer.compute_dtype))
