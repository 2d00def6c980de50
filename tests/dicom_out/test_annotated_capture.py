import numpy as np
from dicom_sources import PRIVATE_VALUES, synthetic_dx
from pydicom import dcmread

from bonefrac.dicom_out.capture import annotated_capture, burn_in_notice
from bonefrac.dicom_out.series import ResultSeries

YELLOW = np.array([255, 255, 0])


def test_the_notice_is_burned_into_the_top_left_and_the_rest_is_untouched():
    grey = np.full((300, 400, 3), 128, np.uint8)
    burned = burn_in_notice(grey)
    band = burned[:40, :250]
    assert (np.abs(band.astype(int) - YELLOW).sum(axis=2) < 60).sum() > 50  # yellow letters
    assert (band == 0).all(axis=2).sum() > 500  # on a black band
    assert (burned[100:, :] == 128).all()


def test_the_capture_files_into_the_source_study_with_pixels_and_nothing_private(tmp_path, dciodvfy):
    source = synthetic_dx(seed=2, size=200)
    annotated = np.full((200, 200, 3), 90, np.uint8)
    annotated[50:60, 50:150] = (255, 56, 56)  # a box edge as the renderer draws it
    series = ResultSeries()
    path = tmp_path / "capture.dcm"
    annotated_capture(source, annotated, series).save_as(path, enforce_file_format=True)
    assert dciodvfy(path) == []
    saved = dcmread(path)
    assert saved.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7"  # Secondary Capture Image Storage
    assert saved.StudyInstanceUID == source.StudyInstanceUID and saved.PatientName == source.PatientName
    assert saved.SeriesInstanceUID == series.capture_series_uid != source.SeriesInstanceUID
    assert saved.BurnedInAnnotation == "YES" and saved.PhotometricInterpretation == "RGB"
    assert list(saved.PatientOrientation) == ["L", "F"] and saved.Laterality == "L"
    pixels = saved.pixel_array
    assert pixels.shape == (200, 200, 3)
    assert (pixels[55, 60:140] == (255, 56, 56)).all()  # the drawing survives
    assert (np.abs(pixels[:30, :150].astype(int) - YELLOW).sum(axis=2) < 60).any()  # and the notice
    written = path.read_bytes()
    for keyword, value in PRIVATE_VALUES.items():
        assert value.encode() not in written, keyword
