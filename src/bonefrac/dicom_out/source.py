"""The source radiograph's DICOM header, read for filing results into its study."""

from __future__ import annotations

import io
from pathlib import Path

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from bonefrac.errors import ImageError

REQUIRED_KEYWORDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID")
# What results carry over from their source: the patient and study identity that files them into the study,
# the references to the source image, and its geometry. Addresses, comments, other IDs, institution, operator
# and station stay behind: headers carry patient data far beyond what filing needs.
IDENTITY_KEYWORDS = (
    "PatientName",
    "PatientID",
    "IssuerOfPatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "StudyID",
    "AccessionNumber",
    "ReferringPhysicianName",
    "SeriesInstanceUID",
    "SOPClassUID",
    "SOPInstanceUID",
    "Modality",
    "Rows",
    "Columns",
    "PatientOrientation",
    "Laterality",
    "ImageLaterality",
    "SpecificCharacterSet",
)


def read_source(source: Path | bytes, what: str) -> Dataset:
    """The DICOM header of `source` (pixels not loaded); ImageError when it is not DICOM or lacks UIDs."""
    try:
        handle = io.BytesIO(source) if isinstance(source, bytes) else source
        dataset = dcmread(handle, stop_before_pixels=True)
    except (InvalidDicomError, OSError, ValueError, EOFError) as exc:
        raise ImageError(f"{what}: DICOM results need a DICOM source; this is not one ({exc})") from exc
    check_source(dataset, what)
    return dataset


def check_source(source: Dataset, what: str = "source") -> None:
    """Refuse a source without the UIDs results are filed under, naming the missing ones."""
    missing = [k for k in REQUIRED_KEYWORDS if not str(source.get(k, "") or "")]
    if missing:
        raise ImageError(
            f"{what}: DICOM results need the source's {', '.join(missing)} to file them into its study; "
            "a DICOM image from a PACS or modality carries them"
        )


def identity_of(source: Dataset) -> Dataset:
    """A new data set holding only `source`'s IDENTITY_KEYWORDS: what results are built from."""
    identity = Dataset()
    for keyword in IDENTITY_KEYWORDS:
        if keyword in source:
            identity[keyword] = source[keyword]
    return identity
