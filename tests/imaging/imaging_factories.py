"""Image files built in the tests: DICOM through pydicom, raster formats through Pillow.

Imported by the tests as `imaging_factories` (pytest puts this folder on sys.path)."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image


def gradient(height: int = 24, width: int = 32, top: int = 255) -> np.ndarray:
    """A (H, W) ramp from 0 to `top` with every row different, so flips and rotations show."""
    values = np.add.outer(np.arange(height) * width, np.arange(width)).astype(np.float64)
    return np.rint(values * top / values.max()).astype(np.int64)


def encode_raster(image: Image.Image, fmt: str, **params: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def build_dicom(
    stored: np.ndarray,
    *,
    photometric: str = "MONOCHROME2",
    bits_stored: int | None = None,
    signed: bool = False,
    preamble: bool = True,
    transfer_syntax: str | None = None,
    encapsulated_frames: list[bytes] | None = None,
    compress: str | None = None,
    **elements: Any,
) -> bytes:
    """DICOM bytes (DX, Part 10 unless preamble=False) holding `stored` (H, W), (F, H, W) or (H, W, 3).

    `elements` are set on the data set by keyword; `encapsulated_frames` replaces the pixel data with
    already-compressed frames (set `transfer_syntax` to match); `compress` compresses with pydicom.
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.encaps import encapsulate
    from pydicom.uid import DigitalXRayImageStorageForPresentation, ExplicitVRLittleEndian, generate_uid

    stored = np.asarray(stored)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = transfer_syntax or ExplicitVRLittleEndian
    ds.SOPClassUID = DigitalXRayImageStorageForPresentation
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.Modality = "DX"
    ds.PatientName = "Test^Patient"
    ds.PatientID = "SECRET-ID-123"
    color = photometric in ("RGB", "YBR_FULL")
    frames = stored.shape[0] if stored.ndim == 3 and not color else 1
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.Rows, ds.Columns = stored.shape[-3:-1] if color else stored.shape[-2:]
    ds.SamplesPerPixel = 3 if color else 1
    if color:
        ds.PlanarConfiguration = 0
    ds.PhotometricInterpretation = photometric
    itemsize = 1 if stored.dtype.itemsize == 1 else 2
    ds.BitsAllocated = 8 * itemsize
    ds.BitsStored = bits_stored or 8 * itemsize
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 1 if signed else 0
    for keyword, value in elements.items():
        setattr(ds, keyword, value)
    if encapsulated_frames is not None:
        ds.PixelData = encapsulate(encapsulated_frames)
        ds["PixelData"].VR = "OB"
    elif stored.size:
        dtype = {(1, False): np.uint8, (2, False): np.uint16, (2, True): np.int16, (1, True): np.int8}
        big_endian = str(ds.file_meta.TransferSyntaxUID) == "1.2.840.10008.1.2.2"
        ds.PixelData = stored.astype(
            np.dtype(dtype[(itemsize, signed)]).newbyteorder(">" if big_endian else "<")
        ).tobytes()
    if compress is not None:
        ds.compress(compress)
    buffer = io.BytesIO()
    if preamble:
        ds.save_as(buffer, enforce_file_format=True)
    else:
        ds.file_meta = FileMetaDataset()
        ds.save_as(buffer, implicit_vr=True, little_endian=True)
    return buffer.getvalue()
