import pytest

from bonefrac.data.label_checks import (
    LabelScan,
    find_orphan_labels,
    missing_label_convention,
    scan_label,
)


def _scan(tmp_path, text, num_classes=2):
    path = tmp_path / "a.txt"
    path.write_text(text)
    return scan_label(path, num_classes)


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("0 0.5 0.5 0.1", "expected 5 fields"),
        ("0 0.5 0.5 0.1 0.1 0.3", "expected 5 fields"),
        ("0 abc 0.5 0.1 0.1", "'abc' is not a number"),
        ("0 nan 0.5 0.1 0.1", "not a finite number"),
        ("2 0.5 0.5 0.1 0.1", "class id 2 is out of range 0..1"),
        ("-1 0.5 0.5 0.1 0.1", "out of range"),
        ("0.5 0.5 0.5 0.1 0.1", "is not an integer"),
        ("0 1.2 0.5 0.1 0.1", "outside 0..1"),
        ("0 0.5 0.5 -0.1 0.1", "outside 0..1"),
        ("0 0.5 0.5 0 0.1", "zero or negative size"),
        ("0 0.5 0.5 0.2 0.0", "zero or negative size"),
    ],
)
def test_scan_label_errors_name_the_line_and_problem(tmp_path, line, fragment):
    scan = _scan(tmp_path, f"1 0.5 0.5 0.2 0.2\n{line}\n")
    errors = [p.message for p in scan.problems if p.severity == "error"]
    assert errors and all(e.startswith("line 2:") for e in errors) and any(fragment in e for e in errors)
    assert len(scan.boxes) == 1  # the good line still counts


@pytest.mark.parametrize(
    ("text", "fragment", "boxes"),
    [
        ("0 0.1 0.1 0.2 0.2 0.3 0.3\n", "segmentation polygon", 1),
        ("0 0.5 0.5 0.1 0.1\n0 0.5 0.5 0.1 0.1\n", "repeats the box of line 1", 1),
        ("0 0.05 0.5 0.2 0.2\n", "past the image edge", 1),
    ],
)
def test_scan_label_warnings(tmp_path, text, fragment, boxes):
    scan = _scan(tmp_path, text)
    assert [p.severity for p in scan.problems] == ["warning"] and fragment in scan.problems[0].message
    assert len(scan.boxes) == boxes


def test_scan_label_good_and_empty_and_missing(tmp_path):
    good = _scan(tmp_path, "1 0.5 0.5 0.2 0.3\n\n")
    assert good.problems == () and good.class_ids.tolist() == [1]
    assert _scan(tmp_path, "").boxes.shape == (0, 5)
    assert scan_label(tmp_path / "absent.txt", 1).exists is False


def test_scan_label_rejects_binary_content(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"\xff\xfe\x00garbage")
    assert "not UTF-8" in scan_label(path, 1).problems[0].message


def test_find_orphan_labels_skips_classes_txt(tmp_path):
    (tmp_path / "images" / "train").mkdir(parents=True)
    (tmp_path / "labels" / "train").mkdir(parents=True)
    image = tmp_path / "images" / "train" / "a.png"
    image.write_bytes(b"x")
    for name in ("a.txt", "lost.txt", "classes.txt"):
        (tmp_path / "labels" / "train" / name).write_text("")
    assert [p.name for p in find_orphan_labels([image])] == ["lost.txt"]


def test_missing_label_convention_depends_on_empty_files(tmp_path):
    empty = LabelScan(tmp_path / "e.txt", exists=True)
    missing = LabelScan(tmp_path / "m.txt", exists=False)
    severity, text = missing_label_convention([empty, missing])
    assert severity == "warning" and "lost label" in text
    severity, text = missing_label_convention([missing])
    assert severity == "info" and "background images by the YOLO convention" in text
