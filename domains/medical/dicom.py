"""Reading DICOM images and series into float arrays, correctly.

What MONAI's reader leaves to the user is done here: the modality LUT (rescale to Hounsfield units),
the VOI LUT or a window (the file's own, a named preset, or several stacked as channels), MONOCHROME1
inverted *after* windowing so bright always means dense, colour images, frame-by-frame reading of
multi-frame files, and series ordered by geometry (never by InstanceNumber) with their defects found.

Errors are typed (all :class:`DicomError`) and name the file. Identifying fields (names, birth dates,
patient ids) never appear in messages or metadata.
"""

from __future__ import annotations

import functools
import io
import os
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError
from pydicom.pixels import apply_modality_lut, apply_voi_lut

from restoolkit.errors import ConfigError, DataError, RestoolkitError

# (centre, width) in Hounsfield units; common radiology presets.
WINDOWS = {
    "lung": (-600.0, 1500.0),
    "mediastinum": (50.0, 350.0),
    "bone": (400.0, 1800.0),
    "brain": (40.0, 80.0),
    "soft_tissue": (40.0, 400.0),
    "abdomen": (60.0, 400.0),
}
CODECS_HINT = "pip install 'restoolkit[codecs]' (pylibjpeg, pylibjpeg-openjpeg, pylibjpeg-libjpeg, pylibjpeg-rle)"


class DicomError(DataError):
    """Base class of every DICOM reading error; ``path`` names the file."""

    def __init__(self, path, message: str):
        self.path = str(path)
        super().__init__(f"{self.path}: {message}")


class NotDicomError(DicomError):
    """The file is not DICOM."""


class NoPixelDataError(DicomError):
    """The file is DICOM but holds no image (an RT plan, a structured report…)."""


class TruncatedFileError(DicomError):
    """The pixel data is shorter than the header says."""


class UnsupportedTransferSyntaxError(DicomError):
    """The pixel data cannot be decoded here (a codec is missing or the syntax is unsupported)."""


class MalformedDicomError(DicomError):
    """The header holds values that contradict the standard (a non-numeric count, a missing size…)."""


class FrameIndexError(ConfigError, IndexError):
    """A frame number outside the file's frames (a caller's mistake, not the file's)."""


class ImageTooLargeError(DicomError):
    """The header declares an image (or an element) larger than :data:`MAX_IMAGE_BYTES`: refused before
    anything that size is read or decoded."""


class SeriesError(DicomError):
    """A series is inconsistent: mixed series, gaps, irregular spacing or non-parallel slices."""


def patient_hash(ds) -> str:
    """The patient's pseudonym: a keyed hash of PatientID (see :mod:`domains.medical.pseudonyms`)."""
    from domains.medical.pseudonyms import pseudonym

    return pseudonym(str(ds.get("PatientID", "") or ""))


# The largest decoded image (all frames) we agree to build; a header can declare anything, so this is
# checked before a byte of pixel data is read or decoded. ``RESTOOLKIT_DICOM_MAX_BYTES`` overrides it.
MAX_IMAGE_BYTES = int(os.environ.get("RESTOOLKIT_DICOM_MAX_BYTES", 2**30))
BITS_ALLOCATED = (1, 8, 16, 32, 64)


class _BoundedFile:
    """A file opened for pydicom whose reads never ask for more than the file still holds.

    pydicom reads a value with ``read(declared length)``, and Python's buffered ``read(n)`` allocates
    ``n`` bytes before reading: one flipped byte in a header (a length that swallows the next elements)
    leaves the parser misaligned on garbage, whose next "length" can be a gigabyte. Clamping each read
    to the bytes left turns that into a short read, which pydicom reports as a cut file. pydicom reopens
    the file through this class for deferred values (``type(fileobj)(name, "rb")``), so those are
    bounded too.
    """

    def __init__(self, name, mode: str = "rb"):
        self._file = open(name, mode)  # noqa: SIM115 - closed by close(), as pydicom expects of a file
        self.name = os.fspath(name)
        self._size = os.fstat(self._file.fileno()).st_size
        self.seek, self.tell, self.close = self._file.seek, self._file.tell, self._file.close

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return self._file.read()
        return self._file.read(max(0, min(size, self._size - self._file.tell())))

    @property
    def closed(self) -> bool:  # pydicom reopens a closed file by name for deferred values
        return self._file.closed

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _FileInMemory(io.BytesIO):
    """A small file read whole with one system call (pydicom makes one ``read`` per element header and
    value: about a hundred per image). ``BytesIO.read(n)`` never allocates more than it holds, so reads
    are bounded as with :class:`_BoundedFile`; deferred values are read from memory."""

    def __init__(self, name, mode: str = "rb"):
        with open(name, "rb") as f:
            super().__init__(f.read())
        self.name = os.fspath(name)


# Files up to this size (a CT or MR slice is about 0.5 MB) are read into memory at once; larger ones
# (radiographs, multi-frame objects) piece by piece, so that a header-only ``scan`` of them, or one frame
# of a 2 GB file, reads only what it needs.
IN_MEMORY_BYTES = 4 * 2**20


def _dcmread(path, **kwargs):
    if os.path.getsize(path) <= IN_MEMORY_BYTES:
        # left open: the dataset reads its deferred values (pixel data) from this buffer, not the disk
        return pydicom.dcmread(_FileInMemory(path), **kwargs)
    with _BoundedFile(path) as f:
        return pydicom.dcmread(f, **kwargs)


def _open(path, *, pixels: bool):
    # Values over 1 KB are deferred (read only when used), always: a header may declare a 1.5 GB element
    # in a small file, and reading it would allocate that much before any check.
    kwargs = {"stop_before_pixels": not pixels, "defer_size": "1 KB"}
    try:
        ds = _dcmread(path, **kwargs)
        if len(ds) == 0:
            # A cut inside encapsulated (compressed) pixel data makes the parser drop the whole dataset.
            raise TruncatedFileError(path, "no data elements after the file meta information: the file is cut "
                                           "or empty")
        return ds
    except InvalidDicomError:
        pass
    except FileNotFoundError:
        raise
    except (OSError, EOFError, ValueError) as e:
        raise TruncatedFileError(path, f"the file ends before its dataset does ({type(e).__name__})") from None
    # Files written without the 128-byte preamble and 'DICM' are still DICOM if a dataset parses; such a
    # file starts with a group 0002 or 0008 tag. Anything else (a CSV, a note) is not forced through the
    # parser, which would only warn about garbage tags.
    with open(path, "rb") as f:
        head = f.read(2)
    ds = None
    if head in (b"\x02\x00", b"\x08\x00", b"\x00\x08"):
        try:
            ds = _dcmread(path, force=True, **kwargs)
        except Exception:  # noqa: BLE001 - anything unparsable here is "not DICOM"
            ds = None
    if ds is None or len(ds) == 0 or not any(elem.tag.group == 0x0008 for elem in ds):
        raise NotDicomError(path, "not a DICOM file (no 'DICM' preamble and no readable dataset)")
    return ds


def _typed_errors(func):
    """Whatever pydicom or a decoder raises on a broken file (an unknown VR met lazily, a DS that is not
    a number, a byte count that does not divide…) leaves as :class:`MalformedDicomError` naming the
    file; our own errors and the operating system's (file not found) pass unchanged."""
    @functools.wraps(func)
    def wrapper(path, *args, **kwargs):
        try:
            return func(path, *args, **kwargs)
        except (RestoolkitError, OSError):
            raise
        except MemoryError:
            raise ImageTooLargeError(path, "decoding needed more memory than this machine has") from None
        except Exception as e:  # noqa: BLE001 - every other failure is the file's
            raise MalformedDicomError(path, f"the file could not be parsed ({type(e).__name__}: {e})") from None
    return wrapper


def _expected_pixel_bytes(ds) -> int | None:
    syntax = getattr(ds, "file_meta", {}).get("TransferSyntaxUID")
    if syntax is not None and syntax.is_compressed:
        return None
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    bits = int(ds.BitsAllocated)
    samples = int(ds.get("SamplesPerPixel", 1))
    if str(ds.get("PhotometricInterpretation", "")).upper() == "YBR_FULL_422":
        samples = 2  # chroma subsampled 2:1 horizontally: Y Y Cb Cr per two pixels
    n = int(ds.Rows) * int(ds.Columns) * samples * frames
    return (n * bits + 7) // 8


@_typed_errors
def validate(path, ds=None):
    """Opens ``path`` and checks it eagerly; returns the dataset. Pixel data stay deferred (not read, not
    decoded): their declared length is checked against the header and the file without reading them.

    Raises:
        NotDicomError, NoPixelDataError, TruncatedFileError, ImageTooLargeError: as named;
        MalformedDicomError for a header that contradicts itself or its pixel data.
    """
    ds = ds if ds is not None else _open(path, pixels=True)
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        if "Rows" in ds and "Columns" in ds and "BitsAllocated" in ds:
            # The image module is there, its pixels are not: the file was cut (compressed pixel data
            # cut mid-fragment is silently dropped by the parser).
            raise TruncatedFileError(path, f"the header describes a {ds.Rows}x{ds.Columns} image but the file "
                                           "ends before its pixel data")
        raise NoPixelDataError(path, f"no pixel data (SOP class {ds.get('SOPClassUID', 'unknown')!s}, "
                                     f"modality {ds.get('Modality', 'unknown')})")
    _check_image_header(path, ds)
    try:
        expected = _expected_pixel_bytes(ds)
    except (AttributeError, TypeError, ValueError) as e:
        raise MalformedDicomError(path, f"image header incomplete or malformed ({type(e).__name__}: {e})") from None
    declared, available = _declared_length(path, ds)
    if declared is not None and declared > available:
        if expected is not None and available < expected:
            raise TruncatedFileError(path, f"pixel data has {available} bytes, the header needs {expected}")
        raise TruncatedFileError(path, f"the pixel data element declares {declared} bytes; the file holds "
                                       f"{available} after it")
    if expected is not None:
        length = declared if declared is not None else len(ds.PixelData)
        if length < expected:
            raise TruncatedFileError(path, f"pixel data has {length} bytes, the header needs {expected}")
        frame_bytes = expected // max(int(ds.get("NumberOfFrames", 1) or 1), 1)
        if length - expected >= max(frame_bytes, 2):
            # A few padding bytes are tolerated (pydicom trims them); a whole frame or more is data the
            # header does not describe (e.g. BitsAllocated 8 over 16-bit pixels): reading it is garbage.
            raise MalformedDicomError(path, f"pixel data has {length} bytes, the header describes {expected} "
                                            f"(Rows {ds.Rows}, Columns {ds.Columns}, BitsAllocated "
                                            f"{ds.BitsAllocated}, {ds.get('NumberOfFrames', 1)} frame(s)): "
                                            "the header contradicts the data")
    return ds


def _declared_length(path, ds) -> tuple[int | None, int]:
    """``(declared length, bytes left in the file after it)`` of a still-deferred native pixel data
    element, read without loading it (pydicom's ``get_item`` loads deferred values unless told not to);
    ``(None, 0)`` when it is loaded or encapsulated."""
    syntax = getattr(ds, "file_meta", {}).get("TransferSyntaxUID")
    if syntax is not None and syntax.is_deflated:  # offsets are in the inflated stream, not the file
        return len(ds.PixelData), len(ds.PixelData)
    raw = ds.get_item("PixelData", keep_deferred=True)
    length = getattr(raw, "length", None)
    if length is None or getattr(raw, "value", None) is not None or length == 0xFFFFFFFF:
        return None, 0
    return int(length), os.path.getsize(path) - int(raw.value_tell)


def _check_image_header(path, ds) -> None:
    """The image module must be self-consistent, and the image no larger than :data:`MAX_IMAGE_BYTES`,
    before any pixel byte is read: each contradiction gets its own message."""
    def number(name, default=None):
        value = ds.get(name, default)
        if value is None:
            raise MalformedDicomError(path, f"{name} is missing from the image header")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise MalformedDicomError(path, f"{name} is {value!r}, not an integer") from None

    rows, columns = number("Rows"), number("Columns")
    if rows < 1 or columns < 1:
        raise MalformedDicomError(path, f"Rows {rows} x Columns {columns}: an image needs at least one of each")
    bits = number("BitsAllocated")
    if bits not in BITS_ALLOCATED:
        raise MalformedDicomError(path, f"BitsAllocated {bits} is not one of {BITS_ALLOCATED}")
    stored = number("BitsStored", bits)
    if not 1 <= stored <= bits:
        raise MalformedDicomError(path, f"BitsStored {stored} must be between 1 and BitsAllocated {bits}")
    frames = number("NumberOfFrames", 1) if ds.get("NumberOfFrames") not in (None, "") else 1
    if frames < 1:
        raise MalformedDicomError(path, f"NumberOfFrames {frames}: a multi-frame image needs at least one frame")
    samples = number("SamplesPerPixel", 1)
    if samples not in (1, 3, 4):
        raise MalformedDicomError(path, f"SamplesPerPixel {samples} is not 1, 3 or 4")
    if not str(ds.get("PhotometricInterpretation", "")).strip():
        raise MalformedDicomError(path, "PhotometricInterpretation is missing: the pixels cannot be interpreted")
    size = rows * columns * samples * frames * max(bits // 8, 1)
    if size > MAX_IMAGE_BYTES:
        raise ImageTooLargeError(path, f"the header declares {rows}x{columns}x{samples} pixels x {frames} frame(s) "
                                       f"of {bits} bits = {size / 2**30:.2f} GiB, over the limit of "
                                       f"{MAX_IMAGE_BYTES / 2**30:.2f} GiB (RESTOOLKIT_DICOM_MAX_BYTES)")


def _decoding_plugin(ds) -> str:
    """RLE Lossless goes to pylibjpeg-rle (compiled; in the ``codecs`` extra) when it is installed: the
    same pixels as pydicom's pure-Python decoder (the SimpleITK test reads the RLE files through it) at a
    tenth of the time. Everything else: pydicom's own choice (``""``)."""
    syntax = getattr(ds, "file_meta", {}).get("TransferSyntaxUID")
    if syntax == pydicom.uid.RLELossless and "pylibjpeg" in pydicom.pixels.get_decoder(syntax).available_plugins:
        return "pylibjpeg"
    return ""


def _decode(path, ds, index):
    try:
        return pydicom.pixels.pixel_array(ds, index=index, decoding_plugin=_decoding_plugin(ds))
    except (NotImplementedError, RuntimeError, ValueError, TypeError, AttributeError) as e:
        syntax = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
        name = getattr(syntax, "name", str(syntax))
        try:
            available = syntax is not None and pydicom.pixels.get_decoder(syntax).is_available
        except (NotImplementedError, ValueError):
            available = False
        if not available:
            raise UnsupportedTransferSyntaxError(path, f"no decoder for transfer syntax {name} here: {CODECS_HINT}") from None
        raise UnsupportedTransferSyntaxError(path, f"the {name} pixel data could not be decoded (corrupt or an "
                                                   f"unsupported variant): {e}") from None


def _window(values: np.ndarray, centre: float, width: float) -> np.ndarray:
    """Linear window to [0, 1] (DICOM PS3.3 C.11.2.1.2.1, the ``LINEAR`` function)."""
    width = max(float(width), 1.0)
    low = centre - 0.5 - (width - 1) / 2
    return np.clip((values - low) / (width - 1), 0.0, 1.0)


def _rescale01(values: np.ndarray) -> np.ndarray:
    lo, hi = float(values.min()), float(values.max())
    return np.zeros_like(values) if hi <= lo else (values - lo) / (hi - lo)


def _palette(ds, pixels: np.ndarray) -> np.ndarray:
    """PALETTE COLOR indices → RGB through the file's 16-bit lookup tables, read in the file's byte order.
    pydicom's ``apply_color_lut`` reads the table bytes as little-endian, so a big-endian file came out
    almost black; segmented or 8-bit tables still go to pydicom."""
    descriptor = ds.get("RedPaletteColorLookupTableDescriptor")
    tables = [ds.get(f"{c}PaletteColorLookupTableData") for c in ("Red", "Green", "Blue")]
    if descriptor is None or any(t is None for t in tables) or int(descriptor[2]) != 16:
        return pydicom.pixels.apply_color_lut(pixels, ds)
    entries, first = int(descriptor[0]) or 65536, int(descriptor[1])
    dtype = ">u2" if ds.original_encoding[1] is False else "<u2"  # (implicit VR, little endian) as read
    luts = [np.frombuffer(bytes(t), dtype=dtype)[:entries] for t in tables]
    if any(len(lut) < entries for lut in luts):
        raise MalformedDicomError(ds.filename or "<dataset>", f"palette tables shorter than their {entries} entries")
    index = np.clip(pixels.astype("int64") - first, 0, entries - 1)
    return np.stack([lut[index] for lut in luts], axis=-1).astype("uint16")


def functional_group(ds, frame: int | None, sequence: str, keyword: str):
    """An attribute of an enhanced (multi-frame) object for one frame: the frame's Per-frame Functional
    Group first, then the Shared one, then the top-level attribute of a classic object (``None`` when
    none has it). Enhanced CT / MR keep Rescale, window, pixel spacing and plane position only there."""
    groups = []
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame is not None and len(per_frame) > (frame or 0):
        groups.append(per_frame[frame or 0])
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared:
        groups.append(shared[0])
    for group in groups:
        items = group.get(sequence)
        if items and keyword in items[0]:
            return items[0][keyword].value
    return ds.get(keyword)


def modality_values(ds, pixels: np.ndarray, frame: int | None = None) -> np.ndarray:
    """Stored values → modality values (HU for CT), from the Pixel Value Transformation functional group
    of enhanced objects or the classic Rescale / Modality LUT (pydicom's ``apply_modality_lut`` misses the
    functional groups: an Enhanced CT came out 1024 HU too high)."""
    slope = functional_group(ds, frame, "PixelValueTransformationSequence", "RescaleSlope")
    intercept = functional_group(ds, frame, "PixelValueTransformationSequence", "RescaleIntercept")
    if "ModalityLUTSequence" in ds or (slope is None and intercept is None):
        return apply_modality_lut(pixels, ds).astype("float32")
    return (pixels.astype("float64") * float(slope if slope is not None else 1.0)
            + float(intercept if intercept is not None else 0.0)).astype("float32")


def _to_unit(ds, pixels: np.ndarray, window, frame: int | None = None) -> np.ndarray:
    """One frame's pixels → float32 (H, W, C) in [0, 1]."""
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    if photometric in ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "PALETTE COLOR"):
        if photometric == "PALETTE COLOR":
            pixels = _palette(ds, pixels)
            depth = 16 if pixels.dtype == np.uint16 else 8
        else:
            depth = int(ds.get("BitsStored", 8))
        return (pixels.astype("float32") / float(2**depth - 1)).clip(0, 1).reshape(*pixels.shape[:2], -1)

    return window_values(ds, modality_values(ds, pixels, frame), window, frame=frame)


def window_values(ds, values: np.ndarray, window, *, frame: int | None = None) -> np.ndarray:
    """Modality values (HU for CT; any shape, e.g. a whole volume) → float32 ``(..., C)`` in [0, 1].

    The same rules as :func:`read_image`: ``window=None`` uses the file's VOI LUT or window (else
    min–max over ``values``), presets and ``(centre, width)`` pairs give one channel each, MONOCHROME1
    is inverted after windowing.
    """
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    if window is None:
        has_voi = "WindowCenter" in ds or "VOILUTSequence" in ds
        centre = functional_group(ds, frame, "FrameVOILUTSequence", "WindowCenter")
        width = functional_group(ds, frame, "FrameVOILUTSequence", "WindowWidth")
        if not has_voi and centre is not None and width is not None:  # an enhanced object's frame window
            out = _window(values, _first_number(centre), _first_number(width))
        else:
            out = _rescale01(_file_voi(ds, values)) if has_voi else _rescale01(values)
        channels = [out]
    else:
        specs = window if isinstance(window, list | tuple) and window and not _is_pair(window) else [window]
        channels = []
        for spec in specs:
            if isinstance(spec, str):
                if spec not in WINDOWS:
                    raise ConfigError(f"unknown window preset {spec!r}; presets: {sorted(WINDOWS)}")
                centre, width = WINDOWS[spec]
            elif _is_pair(spec):
                centre, width = map(float, spec)
            else:
                raise ConfigError(f"a window is a preset name or (centre, width), got {spec!r}")
            channels.append(_window(values, centre, width))
    if photometric == "MONOCHROME1":
        # Inverted *after* windowing: the window's numbers are defined on the stored values.
        channels = [1.0 - c for c in channels]
    return np.stack(channels, axis=-1).astype("float32")


def _file_voi(ds, values: np.ndarray) -> np.ndarray:
    """The file's first VOI LUT or window over modality values. A LINEAR window is computed here (the
    same map as pydicom's ``apply_windowing`` up to an affine factor, which the min-max scaling after it
    removes; a test checks it on every file that has one) at a third of its time; tables and the
    SIGMOID / LINEAR_EXACT functions go to pydicom."""
    function = str(ds.get("VOILUTFunction", "LINEAR") or "LINEAR").upper()
    if "VOILUTSequence" in ds or function != "LINEAR" or "WindowWidth" not in ds:
        return apply_voi_lut(values, ds).astype("float32")
    return _window(values, _first_number(ds.WindowCenter), _first_number(ds.WindowWidth)).astype("float32")


def _first_number(value) -> float:
    """A DS / IS value that may be multi-valued (several windows): the first."""
    return float(value[0]) if isinstance(value, list | tuple | pydicom.multival.MultiValue) else float(value)


def _is_pair(x) -> bool:
    return isinstance(x, list | tuple) and len(x) == 2 and all(isinstance(v, int | float) for v in x)


def metadata(ds) -> dict:
    """Non-identifying tags useful for datasets and subgroup analysis (no names, dates of birth or ids)."""

    def get(name, cast=str):
        value = ds.get(name)
        if value is None or value == "":
            return None
        try:
            return cast(value)
        except (TypeError, ValueError):
            return None

    spacing = (ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing")
               or functional_group(ds, 0, "PixelMeasuresSequence", "PixelSpacing"))
    thickness = get("SliceThickness", float)
    if thickness is None:
        value = functional_group(ds, 0, "PixelMeasuresSequence", "SliceThickness")
        thickness = float(value) if value not in (None, "") else None
    return {
        "patient": patient_hash(ds),
        "study": get("StudyInstanceUID"),
        "series": get("SeriesInstanceUID"),
        "sop": get("SOPInstanceUID"),
        "modality": get("Modality"),
        "photometric": get("PhotometricInterpretation"),
        "rows": get("Rows", int),
        "columns": get("Columns", int),
        "frames": int(ds.get("NumberOfFrames", 1) or 1),
        "pixel_spacing": tuple(float(v) for v in spacing) if spacing else None,
        "slice_thickness": thickness,
        "manufacturer": get("Manufacturer"),
        "sex": get("PatientSex"),
        "age": get("PatientAge"),
        "body_part": get("BodyPartExamined"),
        "transfer_syntax": str(ds.file_meta.get("TransferSyntaxUID", "")) if hasattr(ds, "file_meta") else None,
    }


@_typed_errors
def read_image(path, *, window=None, frame: int | None = None) -> tuple[np.ndarray, dict]:
    """Reads one DICOM image as float32 in [0, 1].

    Args:
        path: the file.
        window: ``None`` (the file's VOI LUT or window, else min–max), a preset name from
            :data:`WINDOWS`, a ``(centre, width)`` pair in modality units (HU for CT), or a list of those
            (stacked as channels).
        frame: for multi-frame files, the frame to read (only that frame is decoded); ``None`` reads
            all frames.

    Returns:
        ``(image, meta)``: ``(H, W, C)`` for one frame, ``(F, H, W, C)`` for all frames of a multi-frame
        file; ``meta`` from :func:`metadata`.

    Raises:
        DicomError subclasses, each naming the file.

    Example:
        >>> image, meta = read_image(get_testdata_file("CT_small.dcm"), window=["lung", "mediastinum"])
        >>> image.shape
        (128, 128, 2)
    """
    image, ds = read_pixels(path, window=window, frame=frame)
    return image, metadata(ds)


@_typed_errors
def read_pixels(path, *, window=None, frame: int | None = None):
    """:func:`read_image` without the metadata (the data pipeline's hot path): ``(image, dataset)``."""
    ds = validate(path)
    try:
        frames = int(ds.get("NumberOfFrames", 1) or 1)
    except (TypeError, ValueError):
        raise MalformedDicomError(path, f"NumberOfFrames is not a number: {ds.get('NumberOfFrames')!r}") from None
    if frames > 1 and frame is None:
        return np.stack([image for image in iter_frames(path, window=window, ds=ds)]), ds
    if frame is not None and not 0 <= frame < frames:
        raise FrameIndexError(f"{path}: frame {frame} out of range (the file has {frames})")
    pixels = _decode(path, ds, frame if frames > 1 else None)
    return _to_unit(ds, pixels, window, frame or 0), ds


def iter_frames(path, *, window=None, ds=None):
    """Yields the frames of a multi-frame file one at a time, decoding only the frame asked for."""
    ds = ds if ds is not None else validate(path)
    frame = _typed_errors(lambda _path, i: _to_unit(ds, _decode(path, ds, i), window, i))
    for i in range(int(ds.get("NumberOfFrames", 1) or 1)):
        yield frame(path, i)


@dataclass
class Series:
    """A volume read from one series, ordered by position along the slice normal."""

    volume: np.ndarray  # (D, H, W) float32, modality units (HU for CT)
    spacing: tuple[float, float, float]  # (slice, row, column) in mm
    origin: tuple[float, float, float]
    orientation: tuple[float, ...]
    files: list[str]
    positions: np.ndarray  # projection of each slice's position on the normal, ascending
    meta: dict
    warnings: list[str] = field(default_factory=list)


def _files(folder_or_files) -> list[str]:
    if isinstance(folder_or_files, str | os.PathLike) and Path(folder_or_files).is_dir():
        return sorted(str(p) for p in Path(folder_or_files).rglob("*") if p.is_file())
    return [str(p) for p in folder_or_files]


def _problem(strict: bool, path, message: str, found: list[str]):
    if strict:
        raise SeriesError(path, message)
    warnings.warn(f"{path}: {message}", stacklevel=3)
    found.append(message)


# A slice whose first pixel lies off the others' in-plane by more than this many pixels is not part of
# one volume: scanners write ImagePositionPatient to about 1e-4 mm; a real shift is a different stack.
IN_PLANE_TOLERANCE = 0.1


@dataclass
class _Slice:
    """One 2-D slice of a series: a classic single-frame file, or one frame of an enhanced multi-frame
    object (whose geometry lives in its Plane Position / Orientation and Pixel Measures functional groups)."""

    path: str
    frame: int | None
    position: tuple | None
    orientation: tuple | None
    pixel_spacing: tuple
    frame_of_reference: str | None
    thickness: float | None

    @property
    def has_geometry(self) -> bool:
        return self.position is not None and self.orientation is not None

    @property
    def label(self) -> str:
        return self.path if self.frame is None else f"{self.path} (frame {self.frame + 1})"


def _numbers(value):
    if value is None or value == "":
        return None
    if isinstance(value, list | tuple | pydicom.multival.MultiValue):
        return tuple(float(v) for v in value)
    return (float(value),)


def _slices(path, ds) -> list[_Slice]:
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    enhanced = "PerFrameFunctionalGroupsSequence" in ds or "SharedFunctionalGroupsSequence" in ds
    indices = range(frames) if enhanced else [None]
    out = []
    for i in indices:
        spacing = _numbers(functional_group(ds, i, "PixelMeasuresSequence", "PixelSpacing")) or (1.0, 1.0)
        thickness = _numbers(functional_group(ds, i, "PixelMeasuresSequence", "SliceThickness"))
        out.append(_Slice(str(path), i if frames > 1 else None,
                          _numbers(functional_group(ds, i, "PlanePositionSequence", "ImagePositionPatient")),
                          _numbers(functional_group(ds, i, "PlaneOrientationSequence", "ImageOrientationPatient")),
                          spacing, ds.get("FrameOfReferenceUID"), thickness[0] if thickness else None))
    return out


def _check_same_frame_and_spacing(members: list[_Slice], strict: bool, found: list) -> None:
    """Every slice in the frame of reference and with the pixel spacing of the first (the spacing used to
    be taken from the first slice alone)."""
    first = members[0]
    spacing = np.array(first.pixel_spacing)
    for s in members[1:]:
        if s.frame_of_reference != first.frame_of_reference:
            _problem(strict, s.label, f"FrameOfReferenceUID {s.frame_of_reference} differs from "
                                      f"{first.frame_of_reference} of {Path(first.path).name}: positions are not "
                                      "comparable", found)
        other = np.array(s.pixel_spacing)
        if np.abs(other - spacing).max() > 1e-4 * spacing.max():
            _problem(strict, s.label, f"PixelSpacing {other.tolist()} differs from {spacing.tolist()} of "
                                      f"{Path(first.path).name}", found)


@_typed_errors
def read_series(folder_or_files, *, strict: bool = True, series_uid: str | None = None,
                tolerance: float = 0.01) -> Series:
    """Reads one series into a volume ordered by ``ImagePositionPatient`` projected on the slice normal.

    Args:
        folder_or_files: a folder (searched recursively) or a list of files.
        strict: raise :class:`SeriesError` on a defect; ``False`` warns and records it in
            ``Series.warnings`` (mixed series: the largest is read).
        series_uid: which series to read when the files hold several.
        tolerance: relative tolerance for irregular spacing (and absolute, for orientation cosines).

    Returns:
        :class:`Series`.

    Raises:
        SeriesError: mixed series, non-parallel slices, gaps or irregular spacing, a slice without a
            position, another frame of reference or pixel spacing, or shifted in-plane by more than
            ``IN_PLANE_TOLERANCE`` (0.1) pixel (strict mode); the error names the file.
    """
    files = _files(folder_or_files)
    where = folder_or_files if isinstance(folder_or_files, str | os.PathLike) else (files[0] if files else "<empty>")
    found: list[str] = []
    groups: dict[str, list[_Slice]] = defaultdict(list)
    for path in files:
        try:
            ds = _open(path, pixels=False)
        except NotDicomError:
            continue
        groups[str(ds.get("SeriesInstanceUID", ""))].extend(_slices(path, ds))
    # Series whose files carry no geometry at all (a report, a localiser set without positions) are not
    # volumes; within a volume, a slice without a position is a defect (it used to be dropped silently).
    groups = {uid: m for uid, m in groups.items() if any(s.has_geometry for s in m)}
    if not groups:
        raise SeriesError(where, "no DICOM slices with ImagePositionPatient and ImageOrientationPatient")
    if series_uid is not None:
        if series_uid not in groups:
            raise SeriesError(where, f"series {series_uid} not found; series present: {sorted(groups)}")
        members = groups[series_uid]
    else:
        if len(groups) > 1:
            counts = {uid: len(m) for uid, m in groups.items()}
            _problem(strict, where, f"mixed series: {len(groups)} SeriesInstanceUIDs {counts}; pass series_uid",
                     found)
        members = max(groups.values(), key=len)

    for s in members:
        if not s.has_geometry:
            _problem(strict, s.label, "slice without ImagePositionPatient / ImageOrientationPatient in a series "
                                      "whose other slices have them", found)
    members = [s for s in members if s.has_geometry]
    _check_same_frame_and_spacing(members, strict, found)
    orientations = np.array([s.orientation for s in members])
    tilt = float(np.abs(orientations - orientations[0]).max())
    if tilt > tolerance:
        _problem(strict, where, f"non-parallel slices: orientation cosines differ by up to {tilt:.3f}", found)
    row, col = orientations[0][:3], orientations[0][3:]
    normal = np.cross(row, col)
    xyz = np.array([s.position for s in members])
    positions = xyz @ normal
    # In-plane offsets of each slice's first pixel: a stack is only a volume if they agree.
    pixel = min(members[0].pixel_spacing)
    for axis, direction in (("row", row), ("column", col)):
        offsets = xyz @ direction
        worst = int(np.argmax(np.abs(offsets - offsets[0])))
        if abs(offsets[worst] - offsets[0]) > IN_PLANE_TOLERANCE * pixel:
            _problem(strict, members[worst].label, f"slice shifted in-plane along the {axis} direction by "
                                                   f"{offsets[worst] - offsets[0]:.3f} mm relative to "
                                                   f"{Path(members[0].path).name} (tolerance "
                                                   f"{IN_PLANE_TOLERANCE:g} pixel)", found)
    order = np.argsort(positions, kind="stable")
    members = [members[i] for i in order]
    positions = positions[order]
    steps = np.diff(positions)
    if len(steps):
        if np.any(steps <= 1e-6):
            _problem(strict, where, "two slices share a position (duplicate or overlapping acquisitions)", found)
        median = float(np.median(steps))
        if np.any(steps > 1.5 * median):
            big = int(np.argmax(steps))
            _problem(strict, where, f"gap in the series: {steps[big]:.2f} mm between slices {big} and {big + 1}, "
                                    f"median spacing {median:.2f} mm", found)
        elif median > 0 and np.abs(steps - median).max() > tolerance * median:
            _problem(strict, where, f"irregular slice spacing: {steps.min():.3f}–{steps.max():.3f} mm", found)
        slice_spacing = median
    else:
        slice_spacing = members[0].thickness or 1.0

    slices, opened = [], {}
    for s in members:
        if s.path not in opened:
            opened[s.path] = validate(s.path)
        ds = opened[s.path]
        slices.append(modality_values(ds, _decode(s.path, ds, s.frame), s.frame or 0))
    shapes = {v.shape for v in slices}
    if len(shapes) > 1:
        raise SeriesError(where, f"slices of different sizes {sorted(shapes)}")
    first = members[0]
    return Series(
        volume=np.stack(slices),
        spacing=(float(slice_spacing), first.pixel_spacing[0], first.pixel_spacing[1]),
        origin=tuple(first.position),
        orientation=tuple(first.orientation),
        files=[s.path for s in members],
        positions=positions,
        meta=metadata(opened[first.path]),
        warnings=found,
    )


def resample(volume: np.ndarray, spacing, new_spacing, *, order: int = 1) -> np.ndarray:
    """Resamples a volume from ``spacing`` to ``new_spacing`` (same axis order), linear by default."""
    from scipy import ndimage

    if len(spacing) != volume.ndim or len(new_spacing) != volume.ndim:
        raise ValueError(f"spacing needs one value per axis of a {volume.ndim}-D volume")
    zoom = [s / n for s, n in zip(spacing, new_spacing, strict=True)]
    return ndimage.zoom(volume, zoom, order=order, mode="nearest").astype(volume.dtype)
