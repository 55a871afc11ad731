"""Medical imaging: DICOM folders → patient-level datasets → :class:`ImageClassifier` → clinical evaluation.

The four steps, as in every domain: ``data`` (:func:`load_study`, :func:`split`, :func:`make_dataset`)
→ task (:class:`ImageClassifier`, ``from_preset``) → :func:`train` → :func:`evaluate` (a
:class:`ClinicalReport`). :mod:`.dicom` reads files, :mod:`.explain` gives Grad-CAM, :mod:`.synthetic`
writes realistic studies for demos and tests; :mod:`.app` is the command-line job.

Names are imported on first use (PEP 562): the decoding worker processes import ``.data`` and
``.dicom`` without paying for TensorFlow.
"""

import importlib

_EXPORTS = {
    "attach_labels": "data", "leakage_report": "data", "load_study": "data", "make_dataset": "data", "scan": "data",
    "split": "data",
    "DicomError": "dicom", "SeriesError": "dicom", "read_image": "dicom", "read_series": "dicom", "resample": "dicom",
    "ClinicalReport": "evaluate", "evaluate": "evaluate",
    "grad_cam": "explain", "overlay": "explain",
    "ImageClassifier": "image_classifier", "DicomImagePreprocessor": "preprocessor",
    "make_study_folder": "synthetic", "train": "train",
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
