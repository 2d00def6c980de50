"""The image regions a DICOM structured report marks (pydicom only): what a reader or another tool said where.

Any SR whose content tree holds SCOORD items (TID 1500 measurement groups, for one) gives its regions as
points in the referenced image's pixel coordinates, with the SOP Instance UIDs each refers to. bonefrac's own
reports (`bonefrac.dicom_out`) read back the same way.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from bonefrac.errors import ImageError
from bonefrac.imaging.sniff import sniff_format

SR_CLASS_PREFIX = "1.2.840.10008.5.1.4.1.1.88."  # every structured report storage class


@dataclass(frozen=True)
class ReportRegion:
    """One SCOORD region: its points (N, 2) as (column, row) and the images it refers to."""

    points: np.ndarray
    referenced_uids: tuple[str, ...]

    def box(self) -> tuple[float, float, float, float]:
        """The region's bounding box (x1, y1, x2, y2) in pixels."""
        return (
            float(self.points[:, 0].min()),
            float(self.points[:, 1].min()),
            float(self.points[:, 0].max()),
            float(self.points[:, 1].max()),
        )


@dataclass(frozen=True)
class StructuredReport:
    """The regions of one SR and every SOP Instance UID it refers to (regions and evidence alike)."""

    regions: tuple[ReportRegion, ...]
    referenced_uids: frozenset[str]

    def regions_on(self, sop_instance_uid: str) -> list[ReportRegion]:
        return [r for r in self.regions if sop_instance_uid in r.referenced_uids]


def _read(data: bytes) -> Any | None:
    import pydicom

    if sniff_format(data[:256]) != "dicom":  # a JPEG or PNG upload is never parsed as DICOM
        return None
    try:
        return pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
    except Exception:  # not DICOM at all: the caller treats the file as something else
        return None


def is_structured_report(data: bytes) -> bool:
    """True when `data` is a DICOM file of a structured report storage class."""
    dataset = _read(data)
    return dataset is not None and str(dataset.get("SOPClassUID", "")).startswith(SR_CLASS_PREFIX)


def sop_instance_uid(data: bytes) -> str | None:
    """The SOP Instance UID of a DICOM file, None when it is not DICOM or has none."""
    dataset = _read(data)
    uid = str(dataset.get("SOPInstanceUID", "")) if dataset is not None else ""
    return uid or None


def _references(item: Any) -> Iterator[str]:
    for child in item.get("ContentSequence", []):
        for reference in child.get("ReferencedSOPSequence", []):
            yield str(reference.ReferencedSOPInstanceUID)


def _walk(items: Any) -> Iterator[Any]:
    for item in items:
        yield item
        yield from _walk(item.get("ContentSequence", []))


def read_structured_report(data: bytes, what: str) -> StructuredReport:
    """The SCOORD regions of an SR file; ImageError when it is not a readable structured report."""
    report = structured_report_or_none(data, what)
    if report is None:
        raise ImageError(f"{what}: not a DICOM structured report (expected an SR storage class)")
    return report


def structured_report_or_none(data: bytes, what: str) -> StructuredReport | None:
    """The SCOORD regions of `data` when it is a structured report, None when it is any other file;
    ImageError when it is an SR whose content cannot be read."""
    dataset = _read(data)
    if dataset is None or not str(dataset.get("SOPClassUID", "")).startswith(SR_CLASS_PREFIX):
        return None
    regions, referenced = [], set()
    try:
        for item in _walk(dataset.get("ContentSequence", [])):
            for reference in item.get("ReferencedSOPSequence", []):
                referenced.add(str(reference.ReferencedSOPInstanceUID))
            if item.get("ValueType") == "SCOORD" and "GraphicData" in item:
                points = np.asarray(item.GraphicData, dtype=np.float64).reshape(-1, 2)
                regions.append(ReportRegion(points, tuple(_references(item))))
        for evidence in dataset.get("CurrentRequestedProcedureEvidenceSequence", []):
            for series in evidence.get("ReferencedSeriesSequence", []):
                for reference in series.get("ReferencedSOPSequence", []):
                    referenced.add(str(reference.ReferencedSOPInstanceUID))
    except (AttributeError, ValueError, TypeError) as exc:
        raise ImageError(f"{what}: the structured report's content cannot be read ({exc})") from exc
    return StructuredReport(tuple(regions), frozenset(referenced))
