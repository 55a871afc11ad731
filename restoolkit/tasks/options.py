"""Declared options of a domain job, checked before any work: types, ranges, choices, unknown keys."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from restoolkit.errors import ConfigError

_TYPES = {"int": int, "float": (int, float), "str": str, "bool": bool, "path": str, "list": (list, tuple),
          "dict": dict, "size": (list, tuple)}


@dataclass(frozen=True)
class Option:
    """One config key of a domain job.

    Args:
        name: the key.
        kind: ``int``, ``float``, ``str``, ``bool``, ``path`` (must exist unless ``must_exist=False``),
            ``list``, ``dict`` or ``size`` (a list of positive ints, ``length`` of them).
        default: the value when the key is absent (``None``: not set).
        help: one line for ``--help``.
        choices: allowed values.
        minimum, maximum: inclusive bounds of numbers.
        required: the key must be given.
        length: the number of items of a ``size``.
        must_exist: for ``path``: the file or folder must exist.
    """

    name: str
    kind: str
    default: Any = None
    help: str = ""
    choices: tuple | None = None
    minimum: float | None = None
    maximum: float | None = None
    required: bool = False
    length: int | None = None
    must_exist: bool = True

    def check(self, value, where: str):
        expected = _TYPES[self.kind]
        if value is None and not self.required:
            return None
        # bool is an int in Python: "epochs": true must not pass as 1.
        if not isinstance(value, expected) or (isinstance(value, bool) and self.kind != "bool"):
            raise ConfigError(f"{where}: key {self.name!r} must be {self._expected()}, got {value!r}")
        if self.kind == "size":
            if any(not isinstance(v, int) or isinstance(v, bool) or v < 1 for v in value) or (
                    self.length and len(value) != self.length):
                raise ConfigError(f"{where}: key {self.name!r} must be {self._expected()}, got {value!r}")
            value = list(value)
        if self.choices is not None and value not in self.choices:
            raise ConfigError(f"{where}: key {self.name!r} must be one of {list(self.choices)}, got {value!r}")
        if self.minimum is not None and value < self.minimum:
            raise ConfigError(f"{where}: key {self.name!r} must be at least {self.minimum}, got {value!r}")
        if self.maximum is not None and value > self.maximum:
            raise ConfigError(f"{where}: key {self.name!r} must be at most {self.maximum}, got {value!r}")
        if self.kind == "path":
            path = Path(value).expanduser()
            if self.must_exist and not path.exists():
                raise ConfigError(f"{where}: key {self.name!r}: {path} does not exist")
            return str(path)
        return value

    def _expected(self) -> str:
        names = {"int": "a whole number", "float": "a number", "str": "a string", "bool": "true or false",
                 "path": "a path (string)", "list": "a list", "dict": "an object",
                 "size": f"a list of {self.length or 'some'} positive whole numbers"}
        return names[self.kind]

    def describe(self) -> str:
        extra = []
        if self.required:
            extra.append("required")
        else:
            extra.append(f"default {self.default!r}")
        if self.choices:
            extra.append(f"one of {list(self.choices)}")
        if self.minimum is not None or self.maximum is not None:
            extra.append(f"range [{self.minimum if self.minimum is not None else '-inf'}, "
                         f"{self.maximum if self.maximum is not None else 'inf'}]")
        return f"  {self.name:<18} {self.kind:<6} {self.help} ({'; '.join(extra)})"


def validate(options: list[Option], config: dict, *, where: str = "config") -> dict:
    """The config with defaults filled in and values checked, or a :class:`ConfigError` naming the key.

    Unknown keys are refused with the closest known names ("did you mean …").
    """
    if not isinstance(config, dict):
        raise ConfigError(f"{where}: the config must be a JSON object, got {type(config).__name__}")
    known = {o.name: o for o in options}
    for key in config:
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=3)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else f"; known keys: {sorted(known)}"
            raise ConfigError(f"{where}: unknown key {key!r}{hint}")
    out = {}
    for option in options:
        if option.name not in config:
            if option.required:
                raise ConfigError(f"{where}: key {option.name!r} is required ({option.help})")
            out[option.name] = option.default
            continue
        out[option.name] = option.check(config[option.name], where)
    return out
