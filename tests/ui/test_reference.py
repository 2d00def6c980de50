"""bonefrac.ui.reference: label files found or uploaded, read as evaluation reads them; per-image verdicts."""

import sys
from pathlib import Path

import numpy as np
import pytest

from bonefrac.errors import ImageError
from bonefrac.records import Detections
from bonefrac.ui.reference import (
    Reference,
    judge,
    label_file_for,
    label_source,
    reference_from_text,
    reports_for_images,
    split_uploads,
    unpaired_labels,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dicom_out"))  # DX and result factories


def _detections(boxes, confidences, classes=None):
    classes = [0] * len(boxes) if classes is None else classes
    return Detections(
        np.array(boxes, np.float32).reshape(-1, 4),
        np.array(confidences, np.float32),
        np.array(classes, np.int64),
        ("fractured", "hardware"),
    )


def _reference(boxes, classes=None):
    classes = [0] * len(boxes) if classes is None else classes
    return Reference(np.array(boxes, np.float64).reshape(-1, 4), np.array(classes, np.int64), "test")


def test_reference_from_text_is_in_pixels_and_counts_unreadable_lines():
    text = "\ufeff0 0.5 0.5 0.2 0.4\n\nnot a box\n0 0.1 0.1 0.1 0.1 0.2\n"
    reference = reference_from_text(text, "uploaded wrist.txt", width=200, height=100, n_classes=1)
    np.testing.assert_allclose(reference.xyxy, [[80, 30, 120, 70]])
    assert reference.class_id.tolist() == [0]
    assert reference.skipped_lines == 2  # a word and a 6-field line
    assert reference.source == "uploaded wrist.txt" and len(reference) == 1


def test_an_empty_label_file_means_no_fracture():
    reference = reference_from_text("", "empty.txt", 10, 10, 1)
    assert len(reference) == 0 and reference.skipped_lines == 0


def test_label_file_for_prefers_the_demo_labels_folder(tmp_path):
    image = tmp_path / "IMG1.jpg"
    image.write_bytes(b"x")
    assert label_file_for(image) is None
    beside = tmp_path / "IMG1.txt"
    beside.write_text("")
    assert label_file_for(image) == beside
    (tmp_path / "labels").mkdir()
    demo = tmp_path / "labels" / "IMG1.txt"
    demo.write_text("0 0.5 0.5 0.1 0.1\n")
    assert label_file_for(image) == demo
    assert label_source(demo, image) == "labels/IMG1.txt beside the image"


def test_split_uploads_pairs_label_files_by_stem():
    files = [
        ("wrist.png", b"png"),
        ("wrist.txt", b"0 0.5 0.5 0.1 0.1\n"),
        ("ankle.TXT", b""),
        ("a.dcm", b"d"),
    ]
    uploads = split_uploads(files)
    images, labels = uploads.images, uploads.labels
    assert images == [("wrist.png", b"png"), ("a.dcm", b"d")] and uploads.reports == []
    assert labels == {"wrist": ("wrist.txt", "0 0.5 0.5 0.1 0.1\n"), "ankle": ("ankle.TXT", "")}
    assert unpaired_labels([name for name, _ in images], labels) == ["ankle.TXT"]


def test_judge_found_missed_and_false_alarm():
    reference = _reference([[10, 10, 50, 50], [100, 100, 140, 140]])
    shown = _detections([[12, 11, 52, 49], [200, 10, 240, 50]], [0.9, 0.4])
    verdict = judge(shown, reference)
    assert verdict.box_found == (True, False)
    assert verdict.reference_found == (True, False)
    assert (verdict.found, verdict.missed, verdict.false_alarms) == (1, 1, 1)
    assert verdict.outcome == "partly found"
    assert verdict.sentence() == "partly found: 1 of 2 reference fractures found; 1 missed; 1 false alarm"


def test_judge_nested_duplicates_count_one_find_and_one_false_alarm():
    """COCO matching: the surer of two nested boxes takes the fracture, the other is a false alarm"""
    reference = _reference([[10, 10, 50, 50]])
    shown = _detections([[11, 11, 49, 49], [10, 10, 51, 51]], [0.3, 0.8])
    verdict = judge(shown, reference)
    assert verdict.box_found == (False, True)
    assert verdict.outcome == "found" and verdict.false_alarms == 1


@pytest.mark.parametrize(
    ("boxes", "reference_boxes", "outcome", "sentence"),
    [
        (
            [],
            [[10, 10, 50, 50]],
            "missed",
            "missed: 0 of 1 reference fracture found; 1 missed; no false alarm",
        ),
        (
            [[10, 10, 50, 50]],
            [[10, 10, 50, 50]],
            "found",
            "found: 1 of 1 reference fracture found; no false alarm",
        ),
        ([[10, 10, 50, 50]], [], "false alarm", "false alarm: no fracture in the reference; 1 false alarm"),
        ([], [], "true negative", "true negative: no fracture in the reference; no false alarm"),
        ([[10, 10, 30, 30]], [[10, 10, 50, 50]], "missed", None),  # IoU 0.25 < 0.5: not a find
    ],
)
def test_judge_outcomes(boxes, reference_boxes, outcome, sentence):
    verdict = judge(_detections(boxes, [0.5] * len(boxes)), _reference(reference_boxes))
    assert verdict.outcome == outcome
    if sentence:
        assert verdict.sentence() == sentence


def test_judge_matches_within_a_class_only():
    verdict = judge(_detections([[10, 10, 50, 50]], [0.9], classes=[1]), _reference([[10, 10, 50, 50]], [0]))
    assert verdict.outcome == "missed" and verdict.false_alarms == 1


def _part10(dataset) -> bytes:
    import io

    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def test_a_structured_report_is_the_reference_of_the_dicom_images_it_refers_to():
    pytest.importorskip("highdicom", reason="writing the report needs the dicom extra")
    from dicom_sources import synthetic_dx
    from results_factory import BOXES, image_result

    from bonefrac.dicom_out.report import structured_report
    from bonefrac.dicom_out.series import ResultSeries

    marked, clear, other = (synthetic_dx(seed=s, size=256) for s in (41, 42, 43))
    with_boxes = _part10(structured_report(marked, image_result(256, 256), ResultSeries()))
    without = _part10(structured_report(clear, image_result(256, 256, boxes=()), ResultSeries()))
    elsewhere = _part10(structured_report(other, image_result(256, 256), ResultSeries()))
    uploads = split_uploads(
        [("marked.dcm", _part10(marked)), ("marked.sr.dcm", with_boxes), ("clear.dcm", _part10(clear)),
         ("clear-sr.dcm", without), ("elsewhere.dcm", elsewhere), ("photo.png", b"png")]
    )  # fmt: skip
    assert [name for name, _ in uploads.images] == ["marked.dcm", "clear.dcm", "photo.png"]
    assert [name for name, _ in uploads.reports] == ["marked.sr.dcm", "clear-sr.dcm", "elsewhere.dcm"]
    references, unused = reports_for_images(uploads.images, uploads.reports)
    assert unused == ["elsewhere.dcm"] and set(references) == {"marked.dcm", "clear.dcm"}
    marked_reference = references["marked.dcm"]
    assert marked_reference.source == "uploaded marked.sr.dcm"
    assert np.allclose(marked_reference.xyxy, [xyxy for xyxy, _, _ in BOXES], atol=1e-3)
    assert len(references["clear.dcm"]) == 0  # the report says: no fracture on this image
    shown = _detections([BOXES[0][0]], [0.9])
    assert judge(shown, marked_reference).outcome == "partly found"
    assert judge(shown, references["clear.dcm"]).outcome == "false alarm"


def test_a_broken_structured_report_is_refused_with_its_name():
    pytest.importorskip("highdicom", reason="writing the report needs the dicom extra")
    from dicom_sources import synthetic_dx
    from results_factory import image_result

    from bonefrac.dicom_out.report import structured_report
    from bonefrac.dicom_out.series import ResultSeries

    report = structured_report(synthetic_dx(seed=44, size=128), image_result(128, 128), ResultSeries())

    def scoords(items):
        for item in items:
            if item.get("ValueType") == "SCOORD":
                yield item
            yield from scoords(item.get("ContentSequence", []))

    next(scoords(report.ContentSequence)).GraphicData = [1.0, 2.0, 3.0]  # an odd number of coordinates
    with pytest.raises(ImageError, match="broken.sr.dcm"):
        split_uploads([("broken.sr.dcm", _part10(report))])
