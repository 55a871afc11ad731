"""The model registry: every architecture is a named entry (timm's ``create_model`` contract)."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Entry:
    """One named architecture: a builder and the arguments that make it this variant."""

    name: str
    builder: Callable[..., Any]
    defaults: dict = field(default_factory=dict)
    tags: tuple[str, ...] = ()


_REGISTRY: dict[str, Entry] = {}


def register(name: str, builder: Callable[..., Any], *, tags: tuple[str, ...] = (), **defaults) -> None:
    """Adds ``name`` to the registry. ``defaults`` are the builder arguments of this variant."""
    if name in _REGISTRY:
        raise ValueError(f"model {name!r} is already registered")
    _REGISTRY[name] = Entry(name, builder, dict(defaults), tuple(tags))


def available(pattern: str | None = None, *, tag: str | None = None) -> list[str]:
    """Sorted names of the registered models, optionally filtered by a glob pattern or a tag.

    Example:
        >>> available("resnet*_v2")
        ['resnet101_v2', 'resnet152_v2', 'resnet50_v2']
    """
    names = sorted(_REGISTRY)
    if pattern:
        names = fnmatch.filter(names, pattern)
    if tag:
        names = [n for n in names if tag in _REGISTRY[n].tags]
    return names


def entry(name: str) -> Entry:
    """The registry entry of ``name``; a ``KeyError`` lists close names when it is unknown."""
    try:
        return _REGISTRY[name]
    except KeyError:
        close = [n for n in _REGISTRY if n.split("_")[0] == name.split("_")[0]][:8]
        raise KeyError(f"unknown model {name!r}; close names: {close or available()[:8]} (see available())") from None


def create(name: str, /, **kwargs):
    """Builds the registered model ``name``.

    Args:
        name: a name from :func:`available`.
        **kwargs: ``num_classes``, ``input_shape``, ``include_top`` and any architecture override the
            builder accepts (shortcut kind, ``drop_path_rate``, ``residual_scaling``, ``attn_layer``,
            ``norm_layer``…). An argument the builder does not know raises ``TypeError``.

    Returns:
        A ``keras.Model``.

    Example:
        >>> model = create("resnet18", num_classes=10, input_shape=(64, 64, 3), drop_path_rate=0.1)
    """
    e = entry(name)
    return e.builder(**{**e.defaults, **kwargs, "name": kwargs.get("name", name)})
