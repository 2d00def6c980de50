"""DICOM decoding through pydicom (imported lazily: it comes with the `serve` extra).

Order of operations (DICOM PS3.3 C.11): stored values -> modality LUT (rescale slope/intercept or LUT)
-> VOI (VOI LUT sequence, else the first window centre/width, else the actual min..max range)
-> 0..255 -> MONOCHROME1 inverted. Values stay in their full bit depth until the VOI step.
"""

from __future__ import annotations

import io
import logging
import math
from typing import Any

import numpy as np

from bonefrac.errors import ImageError
from bonefrac.imaging.limits import check_pixel_count, choose_frame
from bonefrac.imaging.tonemap import apply_window, gray_to_rgb, map_through_lut, scale_to_uint8

log = logging.getLogger(__name__)

_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
# Header fields copied into Radiograph.metadata. Technical only: no patient, study or institution identifiers.
_METADATA_KEYWORDS = {
    "Modality": "modality",
    "BodyPartExamined": "body_part_examined",
    "ViewPosition": "view_position",
    "ImageLaterality": "image_laterality",
    "PhotometricInterpretation": "photometric_interpretation",
    "BitsAllocated": "bits_allocated",
    "BitsStored": "bits_stored",
    "PixelRepresentation": "pixel_representation",
    "Manufacturer": "manufacturer",
    "RescaleSlope": "rescale_slope",
    "RescaleIntercept": "rescale_intercept",
}
_DECODER_HINT = (
    "install a decoder: pip install pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg pylibjpeg-rle "
    "(or python-gdcm)"
)


def decode_dicom(
    data: bytes, *, max_pixels: int, frame: int | None, what: str
) -> tuple[np.ndarray, tuple[float, float] | None, dict[str, Any]]:
    """Decode DICOM bytes to (H, W, 3) uint8 RGB, pixel spacing in mm (row, column) and metadata."""
    pydicom = _import_pydicom(what)
    try:
        ds = pydicom.dcmread(io.BytesIO(data), force=True)
        return _decode_dataset(ds, pydicom, max_pixels=max_pixels, frame=frame, what=what)
    except ImageError:
        raise
    except Exception as exc:  # pydicom parses elements lazily: a corrupt element fails wherever it is read
        raise ImageError(f"{what}: not a readable DICOM file ({type(exc).__name__}: {exc})") from exc


def _decode_dataset(
    ds: Any, pydicom: Any, *, max_pixels: int, frame: int | None, what: str
) -> tuple[np.ndarray, tuple[float, float] | None, dict[str, Any]]:
    if not any(keyword in ds for keyword in _PIXEL_KEYWORDS):
        sop, modality = _sop_class_name(ds), ds.get("Modality", "unknown")
        raise ImageError(
            f"{what}: DICOM file has no pixel data (SOP class {sop}, modality {modality}); "
            "only DICOM images (e.g. CR, DX, DR radiographs) are accepted"
        )
    rows, columns = int(ds.get("Rows") or 0), int(ds.get("Columns") or 0)
    check_pixel_count(columns, rows, max_pixels, what)
    frames = int(ds.get("NumberOfFrames") or 1)
    index = choose_frame(frames, frame, what)
    transfer_syntax = _transfer_syntax(ds, pydicom)
    _check_decoder(transfer_syntax, what)
    try:
        ds.pixel_array_options(index=index if frames > 1 else None)
        stored = ds.pixel_array
    except Exception as exc:
        raise ImageError(
            f"{what}: DICOM pixel data could not be decoded ({transfer_syntax.name}; "
            f"{type(exc).__name__}: {exc})"
        ) from exc
    _adopt_frame_groups(ds, index)
    pixels, notes = _to_display(stored, ds, what)
    spacing, spacing_source = _pixel_spacing(ds)
    metadata: dict[str, Any] = {
        "original_width": columns,
        "original_height": rows,
        "mode": str(ds.get("PhotometricInterpretation", "")),
        "bit_depth": int(ds.get("BitsStored") or ds.get("BitsAllocated") or 8),
        "frames": frames,
        "frame": index,
        "transfer_syntax": transfer_syntax.name,
        "sop_class": _sop_class_name(ds),
        **{name: _plain(ds.get(keyword)) for keyword, name in _METADATA_KEYWORDS.items() if keyword in ds},
        **notes,
    }
    if spacing_source:
        metadata["pixel_spacing_source"] = spacing_source
    return pixels, spacing, metadata


def _import_pydicom(what: str) -> Any:
    try:
        import pydicom
        import pydicom.pixels  # noqa: F401  (numpy pixel handling)
    except ImportError as exc:
        raise ImageError(
            f"{what}: DICOM input needs pydicom, which is not installed; install it with "
            "pip install 'bonefrac[serve]' (or pip install pydicom)"
        ) from exc
    return pydicom


def _transfer_syntax(ds: Any, pydicom: Any) -> Any:
    """The data set's transfer syntax; a bare data set (no file meta) gets the one it was read with."""
    from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    meta = getattr(ds, "file_meta", None)
    if meta is None:
        meta = pydicom.dataset.FileMetaDataset()
        ds.file_meta = meta
    if "TransferSyntaxUID" not in meta:
        implicit_vr, little_endian = ds.original_encoding
        if not little_endian:
            meta.TransferSyntaxUID = ExplicitVRBigEndian
        else:
            meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit_vr else ExplicitVRLittleEndian
    return UID(str(meta.TransferSyntaxUID))


def _check_decoder(transfer_syntax: Any, what: str) -> None:
    """Refuse, naming the transfer syntax and what to install, when no decoder here can read it."""
    from pydicom.pixels import get_decoder

    try:
        decoder = get_decoder(transfer_syntax)
    except NotImplementedError as exc:
        raise ImageError(
            f"{what}: DICOM transfer syntax {transfer_syntax.name} ({transfer_syntax}) is not supported "
            "by pydicom; convert the file to an uncompressed transfer syntax"
        ) from exc
    if not decoder.is_available:
        missing = "; ".join(decoder.missing_dependencies) or "no plugin available"
        raise ImageError(
            f"{what}: DICOM transfer syntax {transfer_syntax.name} ({transfer_syntax}) needs a decoder that "
            f"is not installed ({missing}); {_DECODER_HINT}"
        )


# Enhanced (multi-frame) IODs keep rescale, window and spacing in functional group macros.
_FRAME_MACROS = {
    "PixelValueTransformationSequence": ("RescaleSlope", "RescaleIntercept", "RescaleType"),
    "FrameVOILUTSequence": ("WindowCenter", "WindowWidth", "VOILUTFunction"),
    "PixelMeasuresSequence": ("PixelSpacing",),
}


def _adopt_frame_groups(ds: Any, index: int) -> None:
    """Copy shared, then frame `index`'s, functional group values to the top level of `ds` (ours to edit)."""
    groups = []
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared:
        groups.append(shared[0])
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame and index < len(per_frame):
        groups.append(per_frame[index])
    for group in groups:
        for macro, keywords in _FRAME_MACROS.items():
            items = group.get(macro)
            if not items:
                continue
            for keyword in keywords:
                if keyword in items[0]:
                    setattr(ds, keyword, items[0][keyword].value)


def _to_display(stored: np.ndarray, ds: Any, what: str) -> tuple[np.ndarray, dict[str, Any]]:
    """Stored values of one frame -> (H, W, 3) uint8, with notes on the transforms applied."""
    from pydicom.pixels import apply_color_lut, apply_modality_lut

    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    samples = int(ds.get("SamplesPerPixel") or 1)
    if samples == 1 and photometric in ("MONOCHROME1", "MONOCHROME2"):

        def to_display(values: np.ndarray, present: np.ndarray | None) -> tuple[np.ndarray, dict[str, Any]]:
            modality = np.asarray(apply_modality_lut(values, ds), dtype=np.float64)
            gray, notes = _apply_voi(modality, ds, present)
            if photometric == "MONOCHROME1":
                gray, notes["inverted"] = 255 - gray, "MONOCHROME1"
            return gray, notes

        # A lookup table for 8/16-bit stored values; padding (outside the collimated field) is left out of
        # the value range, as DICOM PS3.3 C.7.5.1.1.2 asks.
        padding = _first_value(ds.get("PixelPaddingValue")) if "PixelPaddingValue" in ds else None
        ignore = int(padding) if padding is not None else None
        gray, notes = map_through_lut(stored, to_display, ignore_value=ignore)
        if ignore is not None:
            notes["pixel_padding_value"] = ignore
        return gray_to_rgb(gray), notes
    if samples == 1 and photometric == "PALETTE COLOR":
        rgb = np.asarray(apply_color_lut(stored, ds))
        bits = int(ds.RedPaletteColorLookupTableDescriptor[2])
        return _rgb_to_uint8(rgb, bits), {"palette": "applied"}
    if samples == 3 and stored.ndim == 3:
        # pydicom converts YBR_* to RGB while decoding.
        return _rgb_to_uint8(stored, int(ds.get("BitsStored") or 8)), {}
    raise ImageError(
        f"{what}: DICOM photometric interpretation {photometric!r} with {samples} sample(s) per pixel is not "
        "supported; accepted: MONOCHROME1, MONOCHROME2, PALETTE COLOR, RGB, YBR_*"
    )


def _rgb_to_uint8(rgb: np.ndarray, bits: int) -> np.ndarray:
    if rgb.dtype == np.uint8 or bits <= 8:
        return np.ascontiguousarray(rgb.astype(np.uint8))
    top = float(2**bits - 1)
    scaled = np.clip(np.rint(rgb.astype(np.float64) * 255.0 / top), 0, 255)
    return np.ascontiguousarray(scaled.astype(np.uint8))


def _apply_voi(values: np.ndarray, ds: Any, present: np.ndarray | None) -> tuple[np.ndarray, dict[str, Any]]:
    """Modality values -> uint8 through the VOI LUT, the first window, or the actual range (in that order).

    `present` marks which of `values` occur in the image (None: all do); it limits the actual range.
    """
    if "VOILUTSequence" in ds and len(ds.VOILUTSequence):
        from pydicom.pixels import apply_voi

        item = ds.VOILUTSequence[0]
        # LUT input is an integer index; rescaled values are rounded to the nearest entry.
        lut_values = np.asarray(apply_voi(np.rint(values).astype(np.int64), ds, index=0), dtype=np.float64)
        # The LUT's own output range (LUTData may be US values or OW bytes): run every table entry through it.
        entries, first_mapped = int(item.LUTDescriptor[0] or 65536), int(item.LUTDescriptor[1])
        table = np.asarray(apply_voi(np.arange(entries, dtype=np.int64) + first_mapped, ds, index=0))
        low, high = float(table.min()), float(table.max())
        if high > low:
            scaled = np.clip(np.rint((lut_values - low) * 255.0 / (high - low)), 0, 255).astype(np.uint8)
            return scaled, {"voi": "VOI LUT", "voi_lut_explanation": str(item.get("LUTExplanation", ""))}
        log.warning("VOI LUT is constant; using the actual value range instead")
    window = _first_window(ds)
    if window is not None:
        center, width, function = window
        return apply_window(values, center, width, function), {
            "voi": "window",
            "window_center": center,
            "window_width": width,
            "voi_lut_function": function,
        }
    gray, (low, high) = scale_to_uint8(values, present)
    return gray, {"voi": "value range", "intensity_range": [low, high]}


def _first_window(ds: Any) -> tuple[float, float, str] | None:
    """The first (centre, width, function) the header gives, or None when there is none or it is invalid."""
    if "WindowCenter" not in ds or "WindowWidth" not in ds:
        return None
    center, width = _first_value(ds.WindowCenter), _first_value(ds.WindowWidth)
    function = str(ds.get("VOILUTFunction", "LINEAR") or "LINEAR").strip().upper()
    if center is None or width is None or not math.isfinite(center) or not math.isfinite(width):
        return None
    valid = width >= 1.0 if function not in ("LINEAR_EXACT", "SIGMOID") else width > 0.0
    if not valid:
        log.warning("window width %s is invalid for %s; using the actual value range", width, function)
        return None
    return center, width, function


def _first_value(value: Any) -> float | None:
    try:
        if isinstance(value, str | bytes | int | float):
            return float(value)
        return float(value[0])
    except (TypeError, ValueError, IndexError):
        return None


def _pixel_spacing(ds: Any) -> tuple[tuple[float, float] | None, str | None]:
    """(row, column) spacing in mm: PixelSpacing (top level or functional groups), else ImagerPixelSpacing."""
    candidates = [(keyword, ds.get(keyword)) for keyword in ("PixelSpacing", "ImagerPixelSpacing")]
    for source, value in candidates:
        try:
            row, column = float(value[0]), float(value[1])
        except (TypeError, ValueError, IndexError):
            continue
        if row > 0 and column > 0 and math.isfinite(row) and math.isfinite(column):
            return (row, column), source
        log.warning("ignoring invalid %s %r", source, value)
    return None, None


def _sop_class_name(ds: Any) -> str:
    uid = ds.get("SOPClassUID")
    return str(getattr(uid, "name", uid)) if uid else "unknown"


def _plain(value: Any) -> Any:
    """A JSON-friendly copy of a header value: numbers (DS, IS) stay numbers, the rest becomes text."""
    if isinstance(value, float):
        return float(value)
    if isinstance(value, int):
        return int(value)
    return str(value)
