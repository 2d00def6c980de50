"""Synthetic DX radiographs as a modality would send them: patient, study and series identity, 16-bit pixels,
and header fields that must never reach bonefrac's results (institution, operator, station, addresses)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import DigitalXRayImageStorageForPresentation, ExplicitVRLittleEndian, generate_uid

from bonefrac.data.synth import render_radiograph

# values that identify people or places beyond the patient and study: none may appear in a result
PRIVATE_VALUES = {
    "InstitutionName": "Saint Elsewhere General",
    "InstitutionAddress": "1 Hidden Lane, Springfield",
    "OperatorsName": "Tech^Terry",
    "StationName": "XRAY-ROOM-7",
    "DeviceSerialNumber": "SN-998877",
    "PatientAddress": "42 Secret Street",
    "OtherPatientIDs": "OTHER-555",
    "PatientComments": "allergic to latex",
    "PerformingPhysicianName": "Perform^Pat",
}


def synthetic_dx(
    *, seed: int = 0, size: int = 256, study_uid: str | None = None, patient_id: str = "MRN-0001"
) -> Dataset:
    """A DX For Presentation radiograph (MONOCHROME2, 12 bits in 16) of a synthetic bone, with identity."""
    pixels, _ = render_radiograph(np.random.default_rng(seed), size, fractures=1)
    stored = (pixels.astype(np.uint16) * 16).astype(np.uint16)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = DigitalXRayImageStorageForPresentation
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "DX"
    ds.PatientName = "Doe^Jane"
    ds.PatientID = patient_id
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "F"
    ds.StudyDate, ds.StudyTime = "20261201", "101500"
    ds.AccessionNumber = "ACC-0001"
    ds.StudyID = "1"
    ds.ReferringPhysicianName = "Refer^Rita"
    ds.SeriesNumber, ds.InstanceNumber = 1, 1
    ds.PatientOrientation = ["L", "F"]
    ds.ImageLaterality = "L"
    ds.BodyPartExamined = "HAND"
    ds.PixelSpacing = [0.15, 0.15]
    for keyword, value in PRIVATE_VALUES.items():
        setattr(ds, keyword, value)
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns = stored.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.WindowCenter, ds.WindowWidth = 2048, 4096
    ds.PixelData = stored.tobytes()
    return ds


def write_dx(path: Path, **options: object) -> Dataset:
    """`synthetic_dx(**options)` saved as a Part 10 file at `path`; the data set."""
    ds = synthetic_dx(**options)  # type: ignore[arg-type]
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return ds
