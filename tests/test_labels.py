"""bonefrac.labels: the one YOLO label-line parser, and both its users reading a polygon the same way."""

import numpy as np
import pytest

from bonefrac.data.label_checks import scan_label
from bonefrac.evaluate.predictions import parse_label_file
from bonefrac.geometry import cxcywh_to_xyxy
from bonefrac.labels import parse_label_line

POLYGON = "0 0.1 0.2 0.5 0.1 0.4 0.6 0.2 0.5"  # 4 points: x in 0.1..0.5, y in 0.1..0.6


def test_box_line():
    line = parse_label_line("1 0.5 0.5 0.2 0.4", num_classes=2)
    assert line.box == (1.0, 0.5, 0.5, 0.2, 0.4) and line.problems == () and line.usable
    assert line.class_id == 1 and line.polygon_points == 0


def test_polygon_line_is_its_bounding_box_with_a_warning():
    line = parse_label_line(POLYGON, num_classes=1)
    assert line.box == pytest.approx((0.0, 0.3, 0.35, 0.4, 0.5))
    assert line.usable and line.polygon_points == 4
    assert [p.severity for p in line.problems] == ["warning"]
    assert "segmentation polygon (4 points)" in line.problems[0].message


def test_fields_or_text_give_the_same_line():
    assert parse_label_line(POLYGON.split(), 1) == parse_label_line(POLYGON, 1)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "got 0"),
        ("0 0.5 0.5 0.1", "expected 5 fields"),
        ("0 0.1 0.1 0.2 0.2 0.3", "expected 5 fields"),  # two points are no polygon
        ("0 0.1 0.1 0.2 0.2 0.3 0.3 0.4", "expected 5 fields"),
        ("0 abc 0.5 0.1 0.1", "'abc' is not a number"),
        ("0 inf 0.5 0.1 0.1", "not a finite number"),
        ("0 nan 0.5 0.1 0.1", "not a finite number"),
        ("1 0.5 0.5 0.1 0.1", "out of range 0..0"),
        ("0.5 0.5 0.5 0.1 0.1", "is not an integer"),
    ],
)
def test_unreadable_lines_have_no_box(text, fragment):
    line = parse_label_line(text, num_classes=1)
    assert line.box is None and not line.usable and line.class_id is None
    assert [p.severity for p in line.problems] == ["error"] and fragment in line.problems[0].message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("0 1.2 0.5 0.1 0.1", "outside 0..1"),
        ("0 0.5 0.5 0 0.1", "zero or negative size"),
        ("0 0.1 0.1 0.1 0.1 0.1 0.1", "zero or negative size"),  # a polygon of one point
    ],
)
def test_box_errors_keep_the_box_but_make_it_unusable(text, fragment):
    line = parse_label_line(text, num_classes=1)
    assert line.box is not None and not line.usable
    assert any(p.severity == "error" and fragment in p.message for p in line.problems)


def test_edge_overhang_is_a_warning():
    line = parse_label_line("0 0.05 0.5 0.2 0.2", num_classes=1)
    assert line.usable and [p.severity for p in line.problems] == ["warning"]
    assert "past the image edge" in line.problems[0].message


def test_polygon_gives_the_same_box_on_the_data_check_and_evaluation_paths(tmp_path):
    label = tmp_path / "a.txt"
    label.write_text(f"{POLYGON}\n0 0.5 0.5 0.2 0.2\n")
    scan = scan_label(label, num_classes=1)
    truth = parse_label_file(label, 200, 100, 1)
    assert any("segmentation polygon" in p.message for p in scan.problems)
    data_check_pixels = cxcywh_to_xyxy(scan.boxes[:, 1:]) * [200, 100, 200, 100]
    np.testing.assert_array_equal(truth.xyxy, data_check_pixels)
    np.testing.assert_allclose(truth.xyxy[0], [20, 10, 100, 60])
    assert truth.class_id.tolist() == scan.class_ids.tolist() == [0, 0]


def test_byte_order_mark_is_read_alike_on_both_paths(tmp_path):
    label = tmp_path / "a.txt"
    label.write_bytes("0 0.5 0.5 0.2 0.2\n".encode("utf-8-sig"))
    assert scan_label(label, 1).problems == ()
    assert len(scan_label(label, 1).boxes) == len(parse_label_file(label, 10, 10, 1).xyxy) == 1
