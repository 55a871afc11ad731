"""Medical imaging: DICOM folders → patient-level datasets → residual classifiers → clinical evaluation.

The package follows one path, a module each: :mod:`.dicom` (reading), :mod:`.data` (index, labels,
split, ``tf.data``), :mod:`.model`, :mod:`.train`, :mod:`.evaluate`, :mod:`.explain`; and
:mod:`.synthetic` writes realistic studies for demos and tests.

Names are imported on first use (PEP 562): the decoding worker processes import ``.data`` and
``.dicom`` without paying for TensorFlow.
"""

import importlib

_EXPORTS = {
    "attach_labels": "data", "leakage_report": "data", "make_dataset": "data", "scan": "data", "split": "data",
    "read_image": "dicom", "read_series": "dicom", "resample": "dicom",
    "ClinicalReport": "evaluate", "evaluate": "evaluate",
    "grad_cam": "explain", "overlay": "explain",
    "build_classifier": "model", "make_study_folder": "synthetic", "train_classifier": "train",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'domains.medical' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"domains.medical.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
