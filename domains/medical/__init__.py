"""Medical imaging: DICOM folders → patient-level datasets → residual classifiers → clinical evaluation.

The package follows one path, a module each: :mod:`.dicom` (reading), :mod:`.data` (index, labels,
split, ``tf.data``), :mod:`.model`, :mod:`.train`, :mod:`.evaluate`, :mod:`.explain`; and
:mod:`.synthetic` writes realistic studies for demos and tests.
"""

from domains.medical.data import attach_labels, leakage_report, make_dataset, scan, split
from domains.medical.dicom import read_image, read_series, resample
from domains.medical.evaluate import ClinicalReport, evaluate
from domains.medical.explain import grad_cam, overlay
from domains.medical.model import build_classifier
from domains.medical.synthetic import make_study_folder
from domains.medical.train import train_classifier

__all__ = [
    "ClinicalReport", "attach_labels", "build_classifier", "evaluate", "grad_cam", "leakage_report",
    "make_dataset", "make_study_folder", "overlay", "read_image", "read_series", "resample", "scan", "split",
    "train_classifier",
]
