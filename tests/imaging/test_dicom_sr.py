import io

import pytest
from imaging_factories import build_dicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from bonefrac.errors import ImageError
from bonefrac.imaging.dicom_sr import is_structured_report, read_structured_report, sop_instance_uid

COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"


def _sr(regions: list[tuple[list[float], str]], evidence: list[str]) -> bytes:
    """A minimal SR by hand: one container with SCOORD items (each selected from an image) and evidence."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = COMPREHENSIVE_SR, generate_uid()
    ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = (
        ds.SOPClassUID,
        ds.SOPInstanceUID,
    )
    ds.ValueType = "CONTAINER"
    items = []
    for points, uid in regions:
        image = Dataset()
        image.ValueType = "IMAGE"
        reference = Dataset()
        reference.ReferencedSOPInstanceUID = uid
        image.ReferencedSOPSequence = [reference]
        scoord = Dataset()
        scoord.ValueType, scoord.GraphicType, scoord.GraphicData = "SCOORD", "POLYLINE", points
        scoord.ContentSequence = [image]
        items.append(scoord)
    ds.ContentSequence = items
    series = Dataset()
    series.ReferencedSOPSequence = []
    for uid in evidence:
        reference = Dataset()
        reference.ReferencedSOPInstanceUID = uid
        series.ReferencedSOPSequence.append(reference)
    study = Dataset()
    study.ReferencedSeriesSequence = [series]
    ds.CurrentRequestedProcedureEvidenceSequence = [study]
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def test_regions_come_back_as_boxes_on_the_images_they_refer_to():
    rectangle = [10.0, 20.0, 50.0, 20.0, 50.0, 70.0, 10.0, 70.0, 10.0, 20.0]
    data = _sr([(rectangle, "1.2.3"), ([5, 5, 9, 9], "1.2.4")], evidence=["1.2.3", "1.2.4", "1.2.5"])
    assert is_structured_report(data)
    report = read_structured_report(data, "r.dcm")
    assert [r.box() for r in report.regions_on("1.2.3")] == [(10.0, 20.0, 50.0, 70.0)]
    assert [r.box() for r in report.regions_on("1.2.4")] == [(5.0, 5.0, 9.0, 9.0)]
    assert report.regions_on("1.2.5") == [] and "1.2.5" in report.referenced_uids


def test_images_and_other_files_are_not_reports():
    image = build_dicom([[0, 1], [2, 3]])
    assert not is_structured_report(image) and not is_structured_report(b"\x89PNG\r\n\x1a\n")
    assert sop_instance_uid(image) is not None and sop_instance_uid(b"not dicom") is None
    with pytest.raises(ImageError, match="scan.dcm: not a DICOM structured report"):
        read_structured_report(image, "scan.dcm")
