"""An annotated copy of a radiograph as a DICOM Secondary Capture: boxes, labels and "RESEARCH USE ONLY"
burned into the pixels, filed as a new series of the source's study (highdicom's SCImage)."""

from __future__ import annotations

import highdicom as hd
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from bonefrac.dicom_out.report import MANUFACTURER
from bonefrac.dicom_out.series import ResultSeries
from bonefrac.dicom_out.source import check_source, identity_of

NOTICE = "RESEARCH USE ONLY"
CAPTURE_SERIES_DESCRIPTION = "bonefrac annotated image (research use only)"


def burn_in_notice(pixels: np.ndarray, text: str = NOTICE) -> np.ndarray:
    """A copy of (H, W, 3) uint8 `pixels` with `text` on a black band along the top-left edge."""
    canvas = Image.fromarray(np.ascontiguousarray(pixels), mode="RGB")
    height, width = pixels.shape[:2]
    size = int(min(96, max(10, round(min(height, width) / 25))))
    try:
        font: ImageFont.ImageFont | ImageFont.FreeTypeFont = ImageFont.load_default(size=size)
    except (ImportError, OSError, TypeError):
        font = ImageFont.load_default()
    draw = ImageDraw.Draw(canvas)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    pad = max(2, size // 4)
    draw.rectangle((0, 0, right - left + 2 * pad, bottom - top + 2 * pad), fill=(0, 0, 0))
    draw.text((pad - left, pad - top), text, fill=(255, 255, 0), font=font)
    return np.asarray(canvas).copy()


def annotated_capture(source: Dataset, annotated: np.ndarray, series: ResultSeries) -> hd.sc.SCImage:
    """A Secondary Capture of `annotated` ((H, W, 3) uint8, boxes already drawn) with the notice burned in,
    carrying `source`'s patient and study and nothing else of its header."""
    check_source(source)
    source = identity_of(source)  # nothing else of its header may reach the result
    pixels = burn_in_notice(annotated)
    capture = hd.sc.SCImage.from_ref_dataset(
        ref_dataset=source,
        pixel_array=pixels,
        photometric_interpretation=hd.PhotometricInterpretationValues.RGB,
        bits_allocated=8,
        coordinate_system=hd.CoordinateSystemNames.PATIENT,
        series_instance_uid=series.capture_series_uid,
        series_number=series.capture_series_number,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        patient_orientation=("A", "F"),  # highdicom insists on one; replaced by the source's just below
        transfer_syntax_uid="1.2.840.10008.1.2.1",  # explicit VR little endian
        series_description=CAPTURE_SERIES_DESCRIPTION,
    )
    capture.PatientOrientation = _orientation(source)
    capture.Laterality = _laterality(source)
    capture.BurnedInAnnotation = "YES"
    capture.ImageType = ["DERIVED", "SECONDARY"]
    capture.DerivationDescription = (
        "Fracture detections and a research-use notice drawn over the source image"
    )
    return capture


def _orientation(source: Dataset) -> list[str]:
    """The source's Patient Orientation (the pixels keep its rows and columns), else empty: unknown."""
    values = [str(v) for v in (source.get("PatientOrientation") or [])]
    return values if len(values) == 2 and all(values) else []


def _laterality(source: Dataset) -> str:
    """The source's laterality (R or L) for the new series; empty (Type 2: unknown) when it gives none."""
    for keyword in ("Laterality", "ImageLaterality"):
        value = str(source.get(keyword, "") or "").strip().upper()
        if value in ("R", "L"):
            return value
    return ""
