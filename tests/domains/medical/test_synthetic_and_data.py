"""Synthetic studies, the index, labels, the patient split and the tf.data pipeline."""

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest

from domains.medical import attach_labels, leakage_report, make_dataset, scan, split
from domains.medical import dicom as D
from domains.medical.data import LabelError, load_image, load_volume


def _files(root):
    return sorted(p for p in root.rglob("*.dcm"))


def test_synthetic_study_is_realistic_dicom(study):
    root, labels = study
    files = _files(root)
    syntaxes = {pydicom.dcmread(p, stop_before_pixels=True).file_meta.TransferSyntaxUID for p in files}
    assert pydicom.uid.RLELossless in syntaxes and pydicom.uid.ExplicitVRLittleEndian in syntaxes
    headers = [pydicom.dcmread(p, stop_before_pixels=True) for p in files]
    assert {"CT", "CR", "DX"} <= {h.Modality for h in headers}
    assert any(h.PhotometricInterpretation == "MONOCHROME1" for h in headers)
    ct = next(p for p, h in zip(files, headers, strict=True) if h.Modality == "CT")
    ds = pydicom.dcmread(ct)
    hu = pydicom.pixels.apply_modality_lut(ds.pixel_array, ds)
    assert ds.RescaleIntercept == -1024 and hu.min() < -900 and abs(np.median(hu[ds.Rows // 2, :]) - 40) < 900
    assert labels["label"].sum() == len(labels) // 2 and labels["patient_id"].is_unique
    # Identifying fields are there, as in a real export, so the tests below can show they never leak.
    assert all(h.PatientName and h.PatientID and h.PatientBirthDate for h in headers)


def test_monochrome1_radiographs_read_like_monochrome2_ones(study):
    root, _ = study
    means = {"MONOCHROME1": [], "MONOCHROME2": []}
    for path in _files(root):
        image, meta = D.read_image(path)
        if meta["modality"] in ("CR", "DX"):
            h, w = image.shape[:2]
            # The body centre (mediastinum) is dense: bright in both storages once read.
            means[meta["photometric"]].append(image[h // 2, w // 2 - 2:w // 2 + 2, 0].mean())
    assert means["MONOCHROME1"] and means["MONOCHROME2"]
    assert min(means["MONOCHROME1"]) > 0.6 and min(means["MONOCHROME2"]) > 0.6


@pytest.fixture()
def messy(study, tmp_path):
    """The study plus a CSV, a text note and a truncated DICOM copy."""
    root, _ = study
    shutil.copytree(root, tmp_path / "messy")
    messy = tmp_path / "messy"
    (messy / "notes.txt").write_text("not an image")
    victim = _files(messy)[0]
    data = victim.read_bytes()
    (messy / "truncated.dcm").write_bytes(data[: len(data) - 500])
    return messy


def test_scan_indexes_every_image_and_reports_skipped_files(messy, study, capsys):
    index = scan(messy, progress=False)
    assert len(index) == len(_files(study[0]))
    skipped = index.attrs["skipped"].set_index(index.attrs["skipped"]["path"].map(os.path.basename))
    assert skipped.loc["truncated.dcm", "error"] == "TruncatedFileError"
    assert skipped.loc["notes.txt", "error"] == "NotDicomError"
    assert skipped.loc["labels.csv", "error"] == "NotDicomError"
    assert "skipped 3" in capsys.readouterr().out
    assert {"path", "patient", "study", "series", "modality", "rows", "pixel_spacing", "manufacturer", "sex",
            "age_years"} <= set(index.columns)
    assert index["patient"].str.fullmatch("[0-9a-f]{16}").all() and index["age_years"].between(25, 90).all()


def test_no_identifying_field_reaches_the_index(study):
    root, labels = study
    index = scan(root, progress=False)
    text = index.drop(columns=["path"]).to_csv()
    for path in _files(root)[:5]:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        for value in (str(ds.PatientName), ds.PatientID, ds.PatientBirthDate):
            assert value not in text


def test_series_level_groups_ct_slices(study):
    root, _ = study
    series = scan(root, level="series", progress=False)
    ct = series[series["modality"] == "CT"]
    assert len(ct) and (ct["slices"] == 3).all() and ct["paths"].map(len).eq(3).all()
    # InstanceNumber runs against z in the synthetic CT: the volume follows position, not numbering.
    volume = load_volume(ct["paths"].iloc[0], volume_shape=(3, 48, 48))
    ordered = D.read_series(ct["paths"].iloc[0])
    assert list(np.diff(ordered.positions)) == [2.5, 2.5]
    first = D.window_values(pydicom.dcmread(ordered.files[0]), ordered.volume, None)
    np.testing.assert_allclose(volume, first, atol=1e-6)


def test_labels_join_by_hashed_patient_id_and_by_study(study, tmp_path):
    root, labels = study
    index = scan(root, progress=False)
    by_patient = attach_labels(index, root / "labels.csv", on="patient")
    by_study = attach_labels(index, root / "labels.csv", on="study")
    assert by_patient["label"].tolist() == by_study["label"].tolist()
    truth = dict(zip(labels["study_uid"], labels["label"], strict=True))
    assert by_study["label"].tolist() == by_study["study"].map(truth).tolist()
    assert not set(labels["patient_id"]) & set(by_patient["patient"])

    partial = labels.iloc[2:]
    with pytest.raises(LabelError, match=r"rows have no label in labels \(joined on study\)"):
        attach_labels(index, partial)
    dropped = attach_labels(index, partial, missing="drop")
    assert set(dropped["study"]) == set(partial["study_uid"]) & set(index["study"])
    with pytest.raises(LabelError, match="no column 'diagnosis'"):
        attach_labels(index, labels, label="diagnosis")
    conflicting = pd.concat([labels, labels.iloc[:1].assign(label=1 - labels["label"].iloc[0])])
    with pytest.raises(LabelError, match="more than one 'label' value"):
        attach_labels(index, conflicting)


def test_split_keeps_patients_whole_and_stratifies(study):
    root, _ = study
    index = attach_labels(scan(root, progress=False), root / "labels.csv")
    parts = split(index, fractions=(0.5, 0.25, 0.25), seed=1)
    assert parts.groupby("patient")["split"].nunique().max() == 1
    report = leakage_report(parts)
    assert report.attrs["leaking"] == 0 and report["shared_groups"].eq(0).all()
    assert report["groups"].tolist() == [12, 6, 6]
    patient_labels = parts.groupby("patient").agg(label=("label", "max"), split=("split", "first"))
    assert patient_labels.groupby("split")["label"].mean().tolist() == [0.5, 0.5, 0.5]
    assert split(index, fractions=(0.5, 0.25, 0.25), seed=1)["split"].tolist() == parts["split"].tolist()
    leaked = parts.copy()
    train = leaked[leaked["split"] == "train"]
    several = train["patient"].value_counts().index[0]
    leaked.loc[train.index[train["patient"] == several][0], "split"] = "test"  # one image moved to test
    bad = leakage_report(leaked)
    assert bad.attrs["leaking"] == 1 and bad.loc["test", "shared_groups"] == 1


def test_dataset_matches_direct_reads_in_index_order(study, tmp_path):
    root, _ = study
    index = attach_labels(scan(root, progress=False), root / "labels.csv").iloc[:6]
    ds = make_dataset(index, image_size=(32, 40), batch_size=4)
    x = np.concatenate([b[0].numpy() for b in ds])
    y = np.concatenate([b[1].numpy() for b in ds])
    assert x.shape == (6, 32, 40, 1) and y.tolist() == index["label"].tolist()
    np.testing.assert_allclose(x[3], load_image(index["path"].iloc[3], image_size=(32, 40)), atol=1e-6)
    two = make_dataset(index, window=["lung", "soft_tissue"], image_size=(32, 32), batch_size=6, label=None)
    assert next(iter(two)).shape == (6, 32, 32, 2)
    augmented = np.concatenate([b[0].numpy() for b in make_dataset(index, image_size=(32, 40), augment=True, flip=True)])
    assert augmented.shape == x.shape and augmented.min() >= 0 and augmented.max() <= 1 and not np.allclose(augmented, x)


def test_cache_is_keyed_by_files_and_preprocessing(study, tmp_path):
    root, _ = study
    shutil.copytree(root, tmp_path / "copy")
    index = attach_labels(scan(tmp_path / "copy", progress=False), tmp_path / "copy" / "labels.csv").iloc[:4]
    cache = tmp_path / "cache"

    def run(**kw):
        return np.concatenate([b[0].numpy() for b in make_dataset(index, image_size=(16, 16), cache_dir=cache, **kw)])

    first = run()
    names = {p.name.split(".")[0] for p in cache.iterdir()}
    np.testing.assert_array_equal(run(), first)
    assert {p.name.split(".")[0] for p in cache.iterdir()} == names  # reused
    run(window="lung")
    assert len({p.name.split(".")[0] for p in cache.iterdir()}) == 2  # new config, new cache
    os.utime(index["path"].iloc[0], ns=(1, 1))
    run()
    assert len({p.name.split(".")[0] for p in cache.iterdir()}) == 3  # a changed file invalidates it


def test_volume_dataset(study):
    root, _ = study
    series = attach_labels(scan(root, level="series", progress=False), root / "labels.csv")
    ct = series[series["modality"] == "CT"]
    x, y = next(iter(make_dataset(ct, volume_shape=(4, 24, 24), batch_size=2)))
    assert x.shape == (min(2, len(ct)), 4, 24, 24, 1) and y.shape == (min(2, len(ct)),)
    with pytest.raises(LabelError, match="scan\\(level='series'\\)"):
        make_dataset(scan(root, progress=False), volume_shape=(4, 24, 24))


def test_index_paths_do_not_depend_on_the_working_directory(study, tmp_path, monkeypatch):
    """Found by the README test: a relative folder gave relative paths, which the long-lived decoding
    processes resolved against their own working directory."""
    import os

    root, _ = study
    monkeypatch.chdir(root.parent)
    index = scan(root.name, progress=False)
    assert all(os.path.isabs(p) for p in index["path"])
    monkeypatch.chdir(tmp_path)
    relative = index.head(4).assign(path=[os.path.relpath(p, root.parent) for p in index["path"].head(4)])
    monkeypatch.chdir(root.parent)  # the caller's folder when the index was made relative …
    ds = make_dataset(relative, label=None, image_size=(32, 32), workers=2, batch_size=4)
    monkeypatch.chdir(tmp_path)  # … then the caller moves on: the pipeline still reads the files
    assert tuple(next(iter(ds)).shape) == (4, 32, 32, 1)


def test_scan_can_decode_every_file_and_reports_broken_links(tmp_path):
    """A compressed stream that only fails when decoded is indexed by a header scan and skipped by
    ``verify="decode"``; a symbolic link to a missing file is listed as skipped, never ignored."""
    import shutil
    import struct

    import pydicom
    from pydicom.data import get_testdata_file

    from domains.medical import scan

    folder = tmp_path / "study"
    folder.mkdir()
    shutil.copy(get_testdata_file("CT_small.dcm", download=False), folder / "good.dcm")
    ds = pydicom.dcmread(get_testdata_file("MR_small_RLE.dcm", download=False))
    data = bytearray(ds.PixelData)
    offset_table = struct.unpack("<I", data[4:8])[0]
    first = 8 + offset_table + 8  # the first fragment's bytes: RLE header, segment count first
    # the second segment's offset past the fragment's end: both RLE decoders (pydicom's, pylibjpeg-rle)
    # refuse it. (A wrong segment count alone is refused by pydicom's decoder only; pylibjpeg-rle reads
    # the segments the offsets give, and the image is then the right one.)
    data[first + 8:first + 12] = struct.pack("<I", 10**6)
    ds.PixelData = bytes(data)
    ds.save_as(folder / "corrupt_rle.dcm")
    (folder / "gone.dcm").symlink_to(tmp_path / "deleted.dcm")

    quick = scan(folder, progress=False)
    assert sorted(Path(p).name for p in quick["path"]) == ["corrupt_rle.dcm", "good.dcm"]
    skipped = quick.attrs["skipped"]
    assert list(skipped["error"]) == ["BrokenLink"] and skipped["path"].iloc[0].endswith("gone.dcm")

    decoded = scan(folder, progress=False, verify="decode")
    assert [Path(p).name for p in decoded["path"]] == ["good.dcm"]
    reasons = dict(zip(decoded.attrs["skipped"]["path"].map(lambda p: Path(p).name),
                       decoded.attrs["skipped"]["error"], strict=True))
    assert reasons == {"corrupt_rle.dcm": "UnsupportedTransferSyntaxError", "gone.dcm": "BrokenLink"}


def test_resize_gives_scipy_zooms_numbers():
    """The pipeline's resize (gathers and blends per axis) against ``scipy.ndimage.zoom``, which it
    replaced for speed, over random shapes up and down, 2-D and 3-D."""
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from scipy.ndimage import zoom

    from domains.medical.data import _resize

    @settings(max_examples=60, deadline=None, derandomize=True, database=None)
    @given(st.lists(st.integers(1, 40), min_size=2, max_size=3), st.lists(st.integers(1, 40), min_size=3, max_size=3),
           st.integers(1, 3))
    def check(source, target, channels):
        target = target[:len(source)]
        array = np.random.default_rng(len(source) * 100 + channels).random((*source, channels), dtype=np.float32)
        expected = zoom(array, [t / s for t, s in zip(target, source, strict=True)] + [1.0], order=1,
                        mode="nearest", grid_mode=True)
        ours = _resize(array, target)
        assert ours.shape == expected.shape and ours.dtype == np.float32
        np.testing.assert_allclose(ours, expected, atol=1e-5)

    check()


@pytest.mark.parametrize("workers", [1, 2])
def test_every_worker_count_gives_the_images_load_image_gives(study, workers):
    """Decoded in chunks in worker processes, sent back stacked: the same images, in index order, as one
    call of load_image per file (11 files: chunks of unequal size)."""
    root, _ = study
    index = scan(root, progress=False).iloc[:11]
    got = np.concatenate([b.numpy() for b in make_dataset(index, label=None, image_size=(24, 20), batch_size=4,
                                                           workers=workers)])
    expected = np.stack([load_image(p, image_size=(24, 20)) for p in index["path"]])
    np.testing.assert_array_equal(got, expected)


def test_decoding_keeps_a_bounded_number_of_chunks_in_flight():
    """ProcessPoolExecutor.map submits every item at once; a slow consumer would let decoded images pile
    up without limit."""
    from concurrent.futures import ThreadPoolExecutor

    from domains.medical.data import _in_order

    submitted = []

    def work(item):
        return item * 2

    class Counting(ThreadPoolExecutor):
        def submit(self, fn, *args):
            submitted.append(args[0])
            return super().submit(fn, *args)

    with Counting(2) as pool:
        results = _in_order(pool, work, range(100), ahead=4)
        assert [next(results) for _ in range(3)] == [0, 2, 4]
        assert len(submitted) <= 3 + 4  # what was consumed, plus the window
        assert list(results) == [2 * i for i in range(3, 100)]


def test_a_hard_study_has_what_its_options_say(tmp_path):
    """Read back with pydicom (not our reader): imbalance, manufacturers with their own windows and
    detector responses, MONOCHROME1, a finding at the asked contrast in CT that only some slices cross."""
    from domains.medical.synthetic import DIFFICULTIES, GROUND_GLASS_RISE, VENDOR_STYLES, make_study_folder
    from restoolkit.errors import ConfigError

    hard = DIFFICULTIES["hard"]
    labels = make_study_folder(tmp_path / "hard", 40, size=48, seed=2, difficulty="hard", noise=0.0, bias_field=0.0,
                               hidden_fraction=0.0)
    assert labels["label"].sum() == round(hard["positive_fraction"] * 40)
    headers = {p: pydicom.dcmread(p) for p in _files(tmp_path / "hard")}
    xr = [ds for ds in headers.values() if ds.Modality != "CT"]
    assert {ds.Manufacturer for ds in xr} == set(VENDOR_STYLES)
    assert any(ds.PhotometricInterpretation == "MONOCHROME1" for ds in xr)
    windowed = {ds.Manufacturer for ds in xr if "WindowCenter" in ds}
    assert windowed == {name for name, style in VENDOR_STYLES.items() if style["xr_window"] is not None}
    lung_values = {}  # manufacturer -> stored lung value of MONOCHROME2 radiographs (image centre-left)
    for ds in xr:
        if ds.PhotometricInterpretation == "MONOCHROME2":
            lung_values.setdefault(ds.Manufacturer, []).append(float(ds.pixel_array[24, 14]))
    assert len({round(np.median(v), -1) for v in lung_values.values()}) == len(lung_values) > 1
    # CT: per positive patient, the slices whose lung holds denser tissue than lung: some, not all
    ct = {}
    for ds in headers.values():
        if ds.Modality == "CT":
            hu = pydicom.pixels.apply_modality_lut(ds.pixel_array, ds)
            ct.setdefault(ds.PatientID, []).append(hu)
    label_of = dict(zip(labels["patient_id"], labels["label"], strict=True))
    high = -850 + max(hard["finding_contrast"]) * GROUND_GLASS_RISE
    crossed = []
    for patient, slices in ct.items():
        assert len(slices) == hard["ct_slices"]
        # without noise and bias only air, lung (-850) and tissue (40) exist, and the finding in between
        dense = [int(((hu > -850 + 5) & (hu < high + 5)).sum()) for hu in slices]
        if label_of[patient]:
            crossed.append(sum(d > 0 for d in dense))
        else:
            assert sum(dense) == 0
    assert crossed and all(0 < c < hard["ct_slices"] for c in crossed), crossed
    # hidden findings: positive patients whose images show nothing (the label came from elsewhere)
    make_study_folder(tmp_path / "hidden", 20, size=48, seed=2, difficulty="hard", noise=0.0, bias_field=0.0,
                      ct_fraction=1.0, hidden_fraction=1.0)
    for path in _files(tmp_path / "hidden"):
        ds = pydicom.dcmread(path)
        assert set(np.unique(pydicom.pixels.apply_modality_lut(ds.pixel_array, ds))) <= {-1000.0, -850.0, 40.0}
    with pytest.raises(ConfigError, match="difficulty"):
        make_study_folder(tmp_path / "x", 4, difficulty="impossible")


def test_the_same_seed_writes_the_same_hard_study(tmp_path):
    from domains.medical.synthetic import make_study_folder

    for name in ("a", "b"):
        make_study_folder(tmp_path / name, 6, size=32, seed=5, difficulty="hard")
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert [p.relative_to(tmp_path / "a") for p in a] == [p.relative_to(tmp_path / "b") for p in b]
    assert all(pydicom.dcmread(p).PixelData == pydicom.dcmread(q).PixelData for p, q in zip(a, b, strict=True))


def test_a_run_directory_regenerates_its_study_when_the_settings_change(tmp_path):
    """The medical job reused run_dir/data whenever labels.csv existed: asking for a hard study in a run
    directory that held an easy one trained on the easy files."""
    from domains.medical.app import APP, synthetic_study

    config = APP.validate({"run_dir": str(tmp_path), "n_patients": 10, "size": 32})
    folder, labels = synthetic_study(tmp_path / "data", config)
    first = labels.read_text()
    stamp = labels.stat().st_mtime_ns
    assert synthetic_study(tmp_path / "data", config)[1].stat().st_mtime_ns == stamp  # same settings: reused
    hard = {**config, "difficulty": "hard"}
    synthetic_study(tmp_path / "data", hard)
    assert pd.read_csv(labels)["label"].mean() == pytest.approx(0.2)  # the hard study's share of positives
    assert labels.read_text() != first
    assert not any(folder.glob("*/*/ct_002.dcm")) or any(folder.glob("*/*/ct_011.dcm"))  # hard CT: 12 slices
