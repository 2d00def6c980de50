import pytest
from dicom_sources import PRIVATE_VALUES, synthetic_dx
from pydicom import dcmread
from results_factory import BOXES, image_result

from bonefrac.dicom_out.report import read_report, structured_report
from bonefrac.dicom_out.series import ResultSeries
from bonefrac.errors import ImageError


def _saved(dataset, tmp_path, name="report.dcm"):
    path = tmp_path / name
    dataset.save_as(path, enforce_file_format=True)
    return path


def test_each_box_comes_back_from_the_saved_report_with_its_confidence_tier_and_source(tmp_path, dciodvfy):
    source = synthetic_dx(seed=1)
    series = ResultSeries()
    path = _saved(structured_report(source, image_result(256, 256), series), tmp_path)
    assert dciodvfy(path) == []
    saved = dcmread(path)
    assert saved.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34"  # Comprehensive 3D SR
    assert saved.StudyInstanceUID == source.StudyInstanceUID and saved.PatientID == source.PatientID
    assert saved.SeriesInstanceUID == series.report_series_uid != source.SeriesInstanceUID
    assert saved.CompletionFlag == "COMPLETE" and saved.VerificationFlag == "UNVERIFIED"
    read = read_report(saved)
    assert read.fracture_found and read.call == "high_specificity" and read.score == pytest.approx(0.62)
    assert len(read.boxes) == len(BOXES)
    for box, (xyxy, confidence, tier) in zip(read.boxes, BOXES, strict=True):
        assert box.xyxy == pytest.approx(tuple(xyxy), abs=1e-3)
        assert box.confidence == pytest.approx(confidence) and box.tier == tier
        assert box.referenced_sop_instance_uid == source.SOPInstanceUID


def test_the_algorithm_is_named_with_its_version_and_sha256(tmp_path):
    path = _saved(structured_report(synthetic_dx(), image_result(256, 256), ResultSeries()), tmp_path)
    written = path.read_bytes()
    assert b"bonefrac-test-detector" in written and b"2026.12.05" in written
    assert f"detector sha256 {'ab' * 32}".encode() in written


def test_a_report_without_boxes_still_states_that_no_fracture_was_found(tmp_path, dciodvfy):
    path = _saved(
        structured_report(synthetic_dx(), image_result(256, 256, boxes=()), ResultSeries()), tmp_path
    )
    assert dciodvfy(path) == []
    read = read_report(dcmread(path))
    assert not read.fracture_found and read.call == "negative" and read.boxes == ()
    assert "Absent" in str(dcmread(path))


def test_nothing_but_patient_and_study_identity_is_copied_from_the_source(tmp_path):
    path = _saved(structured_report(synthetic_dx(), image_result(256, 256), ResultSeries()), tmp_path)
    written = path.read_bytes()
    assert b"Doe^Jane" in written and b"MRN-0001" in written and b"ACC-0001" in written
    for keyword, value in PRIVATE_VALUES.items():
        assert value.encode() not in written, keyword


def test_a_source_without_study_uid_is_refused_with_the_reason():
    source = synthetic_dx()
    del source.StudyInstanceUID
    with pytest.raises(ImageError, match="StudyInstanceUID"):
        structured_report(source, image_result(256, 256), ResultSeries())


def test_reading_a_report_that_is_not_one_says_so():
    with pytest.raises(ImageError, match="not a TID 1500"):
        read_report(synthetic_dx())
