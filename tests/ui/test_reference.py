"""bonefrac.ui.reference: label files found or uploaded, read as evaluation reads them; per-image verdicts."""

import numpy as np
import pytest

from bonefrac.records import Detections
from bonefrac.ui.reference import (
    Reference,
    judge,
    label_file_for,
    label_source,
    reference_from_text,
    split_uploads,
    unpaired_labels,
)


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
    images, labels = split_uploads(files)
    assert images == [("wrist.png", b"png"), ("a.dcm", b"d")]
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
