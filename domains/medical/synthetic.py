"""Synthetic DICOM studies with a learnable finding: the embedded data of the demo, notebooks and tests.

Each patient gets one study: either a short CT series (int16 stored values with a rescale to Hounsfield
units and a lung window in the header) or one or two CR/DX radiographs (12-bit, some stored as
MONOCHROME1 so that a reader which forgets to invert sees them as negatives). Some files are RLE
compressed (decoded by pydicom itself, no codec needed). Positive patients carry a round dense opacity
(a "nodule") in the lung field of every image; the labels CSV names the patient, the study and the label
the way a hospital export would, with the identifying columns a real one has.

Everything is deterministic for a given seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    ComputedRadiographyImageStorage,
    CTImageStorage,
    DigitalXRayImageStorageForPresentation,
    ExplicitVRLittleEndian,
    RLELossless,
    generate_uid,
)

MANUFACTURERS = ("Acme Medical", "Borealis Imaging", "Cygnus Systems")
SOP_CLASSES = {"CT": CTImageStorage, "CR": ComputedRadiographyImageStorage,
               "DX": DigitalXRayImageStorageForPresentation}


def _uid(seed: int, *parts) -> str:
    return generate_uid(entropy_srcs=[str(seed), *map(str, parts)])


def _ellipse(size: int, cy, cx, ry, rx) -> np.ndarray:
    y, x = np.mgrid[:size, :size].astype("float32")
    return ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1.0


def _nodule(size: int, rng, radius) -> tuple[np.ndarray, float]:
    """A soft disk inside one lung; returns the mask (0..1) and its radius."""
    side = rng.choice([-1, 1])
    cy = size * rng.uniform(0.38, 0.62)
    cx = size * (0.5 + side * rng.uniform(0.16, 0.24))
    y, x = np.mgrid[:size, :size].astype("float32")
    d = np.sqrt((y - cy) ** 2 + (x - cx) ** 2)
    return np.clip(radius + 0.5 - d, 0, 1), radius


def _chest(size: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Body and lung masks with per-patient anatomy jitter."""
    body = _ellipse(size, size * 0.5, size * 0.5, size * rng.uniform(0.40, 0.46), size * rng.uniform(0.44, 0.48))
    ry, rx = size * rng.uniform(0.26, 0.31), size * rng.uniform(0.12, 0.15)
    lungs = _ellipse(size, size * 0.5, size * 0.3, ry, rx) | _ellipse(size, size * 0.5, size * 0.7, ry, rx)
    return body, lungs


def _ct_slice(size, rng, finding: float) -> np.ndarray:
    """Hounsfield units: air -1000, soft tissue ~40, lung ~-850, nodule ~+30."""
    body, lungs = _chest(size, rng)
    hu = np.full((size, size), -1000.0, "float32")
    hu[body] = 40.0
    hu[lungs] = -850.0
    if finding:
        mask, _ = _nodule(size, rng, radius=size * rng.uniform(0.06, 0.10))
        hu = hu * (1 - mask) + 30.0 * mask
    return hu + rng.normal(0, 25, hu.shape).astype("float32")


def _radiograph(size, rng, finding: float) -> np.ndarray:
    """Attenuation-like values in [0, 4095]: dense is bright (MONOCHROME2 convention)."""
    body, lungs = _chest(size, rng)
    v = np.full((size, size), 200.0, "float32")
    v[body] = 2600.0
    v[lungs] = 900.0
    if finding:
        mask, _ = _nodule(size, rng, radius=size * rng.uniform(0.06, 0.10))
        v = v * (1 - mask) + 2400.0 * mask
    v += rng.normal(0, 60, v.shape).astype("float32")
    return np.clip(v, 0, 4095)


def _dataset(*, modality, patient, study_uid, series_uid, sop_uid, number, pixels, photometric, seed) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SOP_CLASSES[modality]
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = SOP_CLASSES[modality]
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.Modality = modality
    ds.SeriesNumber = 1
    ds.InstanceNumber = number
    ds.StudyDate = "20260101"
    # Identifying fields, as a real export has them: readers must never let them out.
    ds.PatientName = patient["name"]
    ds.PatientID = patient["patient_id"]
    ds.PatientBirthDate = patient["birth_date"]
    ds.PatientSex = patient["sex"]
    ds.PatientAge = f"{patient['age']:03d}Y"
    ds.Manufacturer = patient["manufacturer"]
    ds.BodyPartExamined = "CHEST"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.PixelData = pixels.astype("<u2").tobytes()
    return ds


def make_study_folder(
    path,
    n_patients: int = 40,
    *,
    size: int = 64,
    positive_fraction: float = 0.5,
    ct_fraction: float = 0.4,
    ct_slices: int = 3,
    monochrome1_fraction: float = 0.3,
    compressed_fraction: float = 0.2,
    seed: int = 0,
) -> pd.DataFrame:
    """Writes ``path/<patient>/<study>/<file>.dcm`` studies and ``path/labels.csv``.

    Args:
        path: output folder (created).
        n_patients: number of patients, one study each.
        size: image rows and columns.
        positive_fraction: share of patients with the finding.
        ct_fraction: share of patients imaged by CT (the others get CR or DX radiographs).
        ct_slices: slices per CT series (spaced 2.5 mm along z).
        monochrome1_fraction: share of radiographs stored as MONOCHROME1.
        compressed_fraction: share of files written RLE Lossless.
        seed: everything is deterministic given the seed.

    Returns:
        The labels table written to ``labels.csv``: ``patient_id``, ``patient_name`` (identifying, as
        in a real export), ``study_uid``, ``label``.

    Example:
        >>> labels = make_study_folder("/tmp/study", n_patients=8, seed=1)
        >>> sorted(labels.columns)
        ['label', 'patient_id', 'patient_name', 'study_uid']
    """
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    labels = (rng.permutation(n_patients) < round(positive_fraction * n_patients)).astype(int)
    rows = []
    for i in range(n_patients):
        patient = {
            "name": f"SYNTHETIC^PATIENT{i:04d}", "patient_id": f"SYN{seed:03d}-{i:04d}",
            "birth_date": f"19{rng.integers(30, 99)}0{rng.integers(1, 9)}1{rng.integers(0, 9)}",
            "sex": str(rng.choice(["F", "M"])), "age": int(rng.integers(25, 90)),
            "manufacturer": MANUFACTURERS[int(rng.integers(len(MANUFACTURERS)))],
        }
        study_uid = _uid(seed, i, "study")
        folder = root / f"patient_{i:04d}" / f"study_{i:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        finding = float(labels[i])
        if rng.random() < ct_fraction:
            series_uid = _uid(seed, i, "ct")
            for k in range(ct_slices):
                hu = _ct_slice(size, np.random.default_rng([seed, i, k]), finding)
                ds = _dataset(modality="CT", patient=patient, study_uid=study_uid, series_uid=series_uid,
                              sop_uid=_uid(seed, i, "ct", k), number=ct_slices - k,  # numbered against z
                              pixels=np.clip(hu + 1024, 0, 4095), photometric="MONOCHROME2", seed=seed)
                ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = -1024, 1, "HU"
                ds.WindowCenter, ds.WindowWidth = -600, 1500
                ds.PixelSpacing = [0.7, 0.7]
                ds.SliceThickness = 2.5
                ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
                ds.ImagePositionPatient = [0.0, 0.0, 2.5 * k]
                _save(ds, folder / f"ct_{k:03d}.dcm", rng.random() < compressed_fraction)
        else:
            modality = str(rng.choice(["CR", "DX"]))
            for k in range(int(rng.integers(1, 3))):
                values = _radiograph(size, np.random.default_rng([seed, i, 100 + k]), finding)
                mono1 = rng.random() < monochrome1_fraction
                stored = 4095 - values if mono1 else values
                ds = _dataset(modality=modality, patient=patient, study_uid=study_uid,
                              series_uid=_uid(seed, i, modality, k), sop_uid=_uid(seed, i, modality, k, "sop"),
                              number=1, pixels=np.round(stored),
                              photometric="MONOCHROME1" if mono1 else "MONOCHROME2", seed=seed)
                ds.ImagerPixelSpacing = [0.2, 0.2]
                _save(ds, folder / f"{modality.lower()}_{k:03d}.dcm", rng.random() < compressed_fraction)
        rows.append({"patient_id": patient["patient_id"], "patient_name": patient["name"],
                     "study_uid": study_uid, "label": int(labels[i])})
    table = pd.DataFrame(rows)
    table.to_csv(root / "labels.csv", index=False)
    return table


def _save(ds: Dataset, path: Path, compressed: bool) -> None:
    if compressed:
        ds.compress(RLELossless)  # pydicom's own RLE encoder: decodes without any codec package
    ds.save_as(path, enforce_file_format=True)
