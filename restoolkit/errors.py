"""One error hierarchy for the whole toolkit, so a user can catch ``RestoolkitError`` around any call.

``RestoolkitError`` derives from ``ValueError`` (bad input is what almost every one of them reports), so
code written against the earlier ``ValueError``\\s keeps working. Messages name the file, line, column or
key and say what was expected.

- :class:`DataError` — input data that is not what it claims (files, tables, labels, DICOM, boxes).
  Domain subclasses: :class:`LabelError`, :class:`SchemaError`, :class:`ScoringError`; the DICOM errors in
  ``domains.medical.dicom`` derive from :class:`DataError` too.
- :class:`ConfigError` — arguments, configs and option values; :class:`ResumeError` when a run directory
  holds a different run.
- :class:`WeightsError` — pretrained weights and presets (missing, corrupt, mismatched).
- :class:`TrainingError` — training that went wrong (:class:`NonFiniteLossError`).
"""

from __future__ import annotations


class RestoolkitError(ValueError):
    """The base of every error restoolkit and its domains raise on purpose."""


class DataError(RestoolkitError):
    """Input data that cannot be read as what it is declared to be."""


class LabelError(DataError):
    """Labels or annotations (label files, label tables, COCO / KITTI / BDD100K annotations) that are wrong."""


class SchemaError(DataError):
    """A table that does not match its declared schema (column, row and what was expected)."""


class ScoringError(DataError):
    """Rows given to a scorer that it cannot score (missing column, wrong type, non-finite value)."""


class ConfigError(RestoolkitError):
    """An argument, config key or option value that is not allowed."""


class ResumeError(ConfigError):
    """A run directory that holds a different run (other model, data or fit arguments)."""


class WeightsError(RestoolkitError):
    """Pretrained weights or a preset that cannot be loaded as asked."""


class WeightsNotFoundError(WeightsError, FileNotFoundError):
    """Pretrained weights that are not on this machine (and could not be downloaded)."""


class PresetError(WeightsError):
    """A preset that fails verification (missing file, wrong checksum, file outside the folder, wrong kind)."""


class TrainingError(RestoolkitError, RuntimeError):
    """Training that cannot go on."""


class NonFiniteLossError(TrainingError):
    """Training produced a NaN or infinite loss."""


__all__ = ["ConfigError", "DataError", "LabelError", "NonFiniteLossError", "PresetError", "RestoolkitError",
           "ResumeError", "SchemaError", "ScoringError", "TrainingError", "WeightsError", "WeightsNotFoundError"]
