"""Synthetic DICOM studies with a learnable finding: the embedded data of the demo, notebooks and tests.

Each patient gets one study: either a short CT series (int16 stored values with a rescale to Hounsfield
units and a lung window in the header) or one or two CR/DX radiographs (12-bit, some stored as
MONOCHROME1 so that a reader which forgets to invert sees them as negatives). Some files are RLE
compressed (decoded by pydicom itself, no codec needed). Positive patients carry a round dense opacity
(a "nodule") in the lung field of every image; the labels CSV names the patient, the study and the label
the way a hospital export would, with the identifying columns a real one has.

``difficulty="hard"`` makes a study on which methods can be told apart (the default, ``"easy"``, is
solved perfectly by any of them): a finding of varying conspicuity (per patient between 0.25 and 0.85 of
the easy contrast, anywhere in the lung field; in CT a ground-glass sphere that crosses only some slices
of a 12-slice series), 1.5 times the noise, a smooth bias field (radiographs: a multiplicative gain; CT:
cupping), each manufacturer with its own detector response and window, MONOCHROME1 radiographs, 20%
positive patients, and a quarter of them with a finding the images do not show (labels that came from
elsewhere, as real labels often do). Calibrated with ``benchmarks/medical.py`` (see its results): a
ResNet-18 from scratch in the demo's 8 epochs reached AUROC 0.776–0.921 over three training seeds and two
splits (mean 0.866). Fainter findings made learning all-or-nothing from seed to seed (0.60 one run,
0.93 the next); the share of hidden findings caps the attainable AUROC instead, which holds steady.

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

from restoolkit.errors import ConfigError

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


# What ``difficulty`` sets; any of it can be given explicitly to make_study_folder instead.
DIFFICULTIES = {
    "easy": {"finding_contrast": (1.0, 1.0), "finding_radius": (0.06, 0.10), "noise": 1.0, "bias_field": 0.0,
             "vendor_styles": False, "positive_fraction": 0.5, "ct_slices": 3, "hidden_fraction": 0.0},
    "hard": {"finding_contrast": (0.25, 0.85), "finding_radius": (0.06, 0.10), "noise": 1.5, "bias_field": 0.1,
             "vendor_styles": True, "positive_fraction": 0.2, "ct_slices": 12, "hidden_fraction": 0.25},
}
# A hard CT study's finding at full contrast: lung (-850 HU) raised to -450 HU, a ground-glass opacity
# (subtle on a lung window, where the easy study's solid nodule at +30 HU is not).
GROUND_GLASS_RISE = 400.0
# Per manufacturer (hard studies): radiograph detector response (gain, offset, gamma) and the window its
# files carry (None: no window, readers min-max scale), CT lung window and stored-value offset.
VENDOR_STYLES = {
    "Acme Medical": {"gain": 1.0, "offset": 0.0, "gamma": 1.0, "xr_window": None, "ct_window": (-600, 1500),
                     "ct_intercept": -1024},
    "Borealis Imaging": {"gain": 0.7, "offset": 600.0, "gamma": 0.8, "xr_window": (2000, 3000),
                         "ct_window": (-500, 1400), "ct_intercept": -1000},
    "Cygnus Systems": {"gain": 1.15, "offset": -150.0, "gamma": 1.25, "xr_window": (1600, 3600),
                       "ct_window": (-700, 1200), "ct_intercept": -1024},
}


def _bias(size: int, rng, strength: float) -> np.ndarray:
    """A smooth field in [-strength, strength]: a random plane plus a random quadratic bowl."""
    if not strength:
        return np.zeros((size, size), "float32")
    y, x = (np.mgrid[:size, :size].astype("float32") / (size - 1)) * 2 - 1
    a = rng.uniform(-1, 1, 5)
    field = a[0] * x + a[1] * y + a[2] * x * y + a[3] * x**2 + a[4] * y**2
    return (strength * field / max(float(np.abs(field).max()), 1e-6)).astype("float32")


def _lesion_centre(size: int, rng) -> tuple[float, float]:
    """Somewhere in one lung field (away from its edge)."""
    side = rng.choice([-1, 1])
    return size * rng.uniform(0.32, 0.68), size * (0.5 + side * rng.uniform(0.13, 0.27))


def _disk(size: int, cy, cx, radius) -> np.ndarray:
    y, x = np.mgrid[:size, :size].astype("float32")
    return np.clip(radius + 0.5 - np.sqrt((y - cy) ** 2 + (x - cx) ** 2), 0, 1)


def _ct_slice(size, rng, finding: float, *, lesion: np.ndarray | None = None, contrast: float = 1.0,
              noise: float = 1.0, bias: float = 0.0, anatomy_rng=None) -> np.ndarray:
    """Hounsfield units: air -1000, soft tissue ~40, lung ~-850, nodule ~+30 at full contrast.

    ``lesion`` (a 0..1 mask) replaces the random disk of an easy study: a hard study's sphere cut by
    this slice. ``anatomy_rng`` keeps one patient's anatomy across the slices of a volume."""
    body, lungs = _chest(size, anatomy_rng if anatomy_rng is not None else rng)
    hu = np.full((size, size), -1000.0, "float32")
    hu[body] = 40.0
    hu[lungs] = -850.0
    if lesion is None and finding:  # the easy study, as it always was
        mask, _ = _nodule(size, rng, radius=size * rng.uniform(0.06, 0.10))
        hu = hu * (1 - mask) + 30.0 * mask
    elif lesion is not None:  # a ground-glass finding: lung raised by up to GROUND_GLASS_RISE HU
        lesion = lesion * lungs
        hu = hu * (1 - lesion) + (-850.0 + contrast * GROUND_GLASS_RISE) * lesion
    if bias:  # cupping: the centre reads darker than the rim, by up to 60 HU x strength
        y, x = (np.mgrid[:size, :size].astype("float32") / (size - 1)) * 2 - 1
        hu = hu - bias * 240.0 * (1 - (x**2 + y**2) / 2) * body
    return hu + rng.normal(0, 25 * noise, hu.shape).astype("float32")


def _radiograph(size, rng, finding: float, *, contrast: float = 1.0, radius=None, noise: float = 1.0,
                bias: float = 0.0) -> np.ndarray:
    """Attenuation-like values in [0, 4095]: dense is bright (MONOCHROME2 convention). Without ``radius``
    the easy study's nodule, as it always was; with it, a disk of that radius range inside a lung."""
    body, lungs = _chest(size, rng)
    v = np.full((size, size), 200.0, "float32")
    v[body] = 2600.0
    v[lungs] = 900.0
    if finding:
        if radius is None:
            mask, _ = _nodule(size, rng, radius=size * rng.uniform(0.06, 0.10))
        else:
            mask = _disk(size, *_lesion_centre(size, rng), size * rng.uniform(*radius)) * lungs
        v = v * (1 - mask) + (900.0 + contrast * 1500.0) * mask
    v = v * (1 + _bias(size, rng, bias))
    v += rng.normal(0, 60 * noise, v.shape).astype("float32")
    return np.clip(v, 0, 4095)


def _vendor_response(values: np.ndarray, style: dict) -> np.ndarray:
    """A detector's own mapping of attenuation to stored values (gain, offset, gamma), in [0, 4095]."""
    curved = 4095.0 * (np.clip(values, 0, 4095) / 4095.0) ** style["gamma"]
    return np.clip(style["gain"] * curved + style["offset"], 0, 4095)


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
    positive_fraction: float | None = None,
    ct_fraction: float = 0.4,
    ct_slices: int | None = None,
    monochrome1_fraction: float = 0.3,
    compressed_fraction: float = 0.2,
    seed: int = 0,
    difficulty: str = "easy",
    finding_contrast: float | tuple[float, float] | None = None,
    finding_radius: tuple[float, float] | None = None,
    noise: float | None = None,
    bias_field: float | None = None,
    vendor_styles: bool | None = None,
    hidden_fraction: float | None = None,
) -> pd.DataFrame:
    """Writes ``path/<patient>/<study>/<file>.dcm`` studies and ``path/labels.csv``.

    Args:
        path: output folder (created).
        n_patients: number of patients, one study each.
        size: image rows and columns.
        positive_fraction: share of patients with the finding (easy 0.5, hard 0.2).
        ct_fraction: share of patients imaged by CT (the others get CR or DX radiographs).
        ct_slices: slices per CT series, spaced 2.5 mm along z (easy 3, hard 12).
        monochrome1_fraction: share of radiographs stored as MONOCHROME1.
        compressed_fraction: share of files written RLE Lossless.
        seed: everything is deterministic given the seed.
        difficulty: ``"easy"`` or ``"hard"``: defaults for the options below (:data:`DIFFICULTIES`).
        finding_contrast: the finding's density as a share of soft tissue's over lung (hard CT: of
            :data:`GROUND_GLASS_RISE`), drawn per patient
            from this range (a number: always that): easy 1.0, hard 0.25–0.85, so that some positive
            patients are easy to see and others barely visible, as in a real reading list.
        finding_radius: the finding's radius range as a share of the image size (easy 0.06–0.10); in a
            hard CT study the radius of a sphere, so slices away from its centre show less or nothing.
        noise: noise standard deviation, a multiple of 25 HU (CT) / 60 (radiographs).
        bias_field: strength of a smooth intensity field (radiographs: ±share of the values; CT: cupping).
        vendor_styles: each manufacturer with its own detector response and window (:data:`VENDOR_STYLES`).
        hidden_fraction: share of positive patients whose finding the images do not show (the label came
            from elsewhere, e.g. a CT or a biopsy, as often in real labels): no method can find them, so
            they cap the attainable AUROC near ``1 − hidden_fraction / 2`` (easy 0, hard 0.25).

    Returns:
        The labels table written to ``labels.csv``: ``patient_id``, ``patient_name`` (identifying, as
        in a real export), ``study_uid``, ``label``.

    Example:
        >>> labels = make_study_folder("/tmp/study", n_patients=8, seed=1)
        >>> sorted(labels.columns)
        ['label', 'patient_id', 'patient_name', 'study_uid']
    """
    if difficulty not in DIFFICULTIES:
        raise ConfigError(f"difficulty must be one of {sorted(DIFFICULTIES)}, got {difficulty!r}")
    given = {"finding_contrast": finding_contrast, "finding_radius": finding_radius, "noise": noise,
             "bias_field": bias_field, "vendor_styles": vendor_styles, "positive_fraction": positive_fraction,
             "ct_slices": ct_slices, "hidden_fraction": hidden_fraction}
    o = {**DIFFICULTIES[difficulty], **{k: v for k, v in given.items() if v is not None}}
    positive_fraction, ct_slices = o["positive_fraction"], o["ct_slices"]
    if isinstance(o["finding_contrast"], int | float):
        o["finding_contrast"] = (float(o["finding_contrast"]), float(o["finding_contrast"]))
    hard = o != DIFFICULTIES["easy"]  # anything changed: the hard generator (easy studies stay as they were)
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
        style = VENDOR_STYLES[patient["manufacturer"]] if o["vendor_styles"] else VENDOR_STYLES["Acme Medical"]
        draw = np.random.default_rng([seed, i, 9])
        contrast = float(draw.uniform(*o["finding_contrast"]))
        if draw.random() < o["hidden_fraction"]:
            contrast = 0.0  # positive, but nothing in the images shows it
        if rng.random() < ct_fraction:
            series_uid = _uid(seed, i, "ct")
            lesions = [None] * ct_slices
            if hard and finding:
                # one sphere per patient: the slices near its centre show a disk, the others nothing
                where = np.random.default_rng([seed, i, 7])
                cy, cx = _lesion_centre(size, where)
                radius = size * where.uniform(*o["finding_radius"])  # pixels of 0.7 mm
                centre_z = where.uniform(0.2, 0.8) * (ct_slices - 1) * 2.5
                lesions = []
                for k in range(ct_slices):
                    dz = (2.5 * k - centre_z) / 0.7
                    lesions.append(_disk(size, cy, cx, np.sqrt(max(radius**2 - dz**2, 0.0)))
                                   if abs(dz) < radius else None)
            for k in range(ct_slices):
                slice_rng = np.random.default_rng([seed, i, k])
                if hard:
                    hu = _ct_slice(size, slice_rng, 0.0, lesion=lesions[k], contrast=contrast,  # the sphere only
                                   noise=o["noise"], bias=o["bias_field"],
                                   anatomy_rng=np.random.default_rng([seed, i, 5]))
                else:
                    hu = _ct_slice(size, slice_rng, finding)
                intercept = style["ct_intercept"]
                ds = _dataset(modality="CT", patient=patient, study_uid=study_uid, series_uid=series_uid,
                              sop_uid=_uid(seed, i, "ct", k), number=ct_slices - k,  # numbered against z
                              pixels=np.clip(hu - intercept, 0, 4095), photometric="MONOCHROME2", seed=seed)
                ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = intercept, 1, "HU"
                ds.WindowCenter, ds.WindowWidth = style["ct_window"]
                ds.PixelSpacing = [0.7, 0.7]
                ds.SliceThickness = 2.5
                ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
                ds.ImagePositionPatient = [0.0, 0.0, 2.5 * k]
                _save(ds, folder / f"ct_{k:03d}.dcm", rng.random() < compressed_fraction)
        else:
            modality = str(rng.choice(["CR", "DX"]))
            for k in range(int(rng.integers(1, 3))):
                image_rng = np.random.default_rng([seed, i, 100 + k])
                if hard:
                    values = _vendor_response(_radiograph(size, image_rng, finding, contrast=contrast,
                                                          radius=o["finding_radius"], noise=o["noise"],
                                                          bias=o["bias_field"]), style)
                else:
                    values = _radiograph(size, image_rng, finding)
                mono1 = rng.random() < monochrome1_fraction
                stored = 4095 - values if mono1 else values
                ds = _dataset(modality=modality, patient=patient, study_uid=study_uid,
                              series_uid=_uid(seed, i, modality, k), sop_uid=_uid(seed, i, modality, k, "sop"),
                              number=1, pixels=np.round(stored),
                              photometric="MONOCHROME1" if mono1 else "MONOCHROME2", seed=seed)
                ds.ImagerPixelSpacing = [0.2, 0.2]
                if hard and style["xr_window"] is not None:
                    centre, width = style["xr_window"]  # defined on stored values: mirrored for MONOCHROME1
                    ds.WindowCenter, ds.WindowWidth = (4095 - centre if mono1 else centre), width
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
