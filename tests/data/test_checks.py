import json

import pytest

from bonefrac.data.checks import check_dataset, run_checks, write_report_json
from bonefrac.data.yolo_format import load_dataset


@pytest.fixture
def faulty_report(faulty_dataset):
    return check_dataset(load_dataset(faulty_dataset.yaml_path), workers=1)


def _by_kind(report):
    kinds = {}
    for finding in report.findings:
        kinds.setdefault(finding.kind, []).append(finding)
    return kinds


@pytest.mark.parametrize(
    ("kind", "severity", "files"),
    [
        ("truncated_image", "error", ("images/train/truncated.jpg",)),
        ("corrupt_image", "error", ("images/train/corrupt.png",)),
        ("bad_label", "error", ("labels/train/badlabel.txt", "images/train/badlabel.png")),
        ("missing_label", "warning", ("images/train/unlabelled.png",)),
        ("orphan_label", "warning", ("labels/train/orphan.txt",)),
        ("duplicate_within_split", "warning", ("images/train/twin_a.png", "images/train/twin_b.png")),
        ("cross_split_duplicate", "error", ("images/train/good_0.png", "images/val/copy_of_good_0.png")),
        (
            "cross_split_near_duplicate",
            "warning",
            ("images/train/good_2.png", "images/val/resized_good_2.jpg"),
        ),
        ("label_conflict", "error", ("images/train/good_2.png", "images/val/resized_good_2.jpg")),
    ],
)
def test_check_finds_each_planted_fault(faulty_report, kind, severity, files):
    findings = _by_kind(faulty_report)[kind]
    assert [(f.severity, f.files) for f in findings] == [(severity, files)]


def test_check_bad_label_detail_names_each_problem(faulty_report):
    (finding,) = _by_kind(faulty_report)["bad_label"]
    assert (
        "line 1: expected 5 fields" in finding.detail
        and "line 2: class id 5 is out of range" in finding.detail
    )


def test_check_reports_nothing_else(faulty_report):
    expected = {
        "truncated_image", "corrupt_image", "bad_label", "missing_label", "orphan_label",
        "duplicate_within_split", "cross_split_duplicate", "cross_split_near_duplicate", "label_conflict",
    }  # fmt: skip
    assert set(_by_kind(faulty_report)) == expected


def test_check_split_stats(faulty_report):
    train = faulty_report.splits["train"]
    # good_0, good_2, truncated, twin_a, twin_b carry a box; badlabel keeps no valid box
    assert (train.images, train.with_boxes, train.boxes, train.missing_labels) == (10, 5, 5, 1)
    assert train.unreadable_images == 1 and train.boxes_per_class == {"fractured": 5}
    assert faulty_report.fails() and faulty_report.count("error") == 5


def test_check_json_report_has_the_documented_shape(faulty_report, tmp_path):
    data = json.loads(write_report_json(faulty_report, tmp_path / "r.json").read_text())
    assert set(data["splits"]["val"]) >= {"images", "with_boxes", "backgrounds", "boxes", "boxes_per_class"}
    assert set(data["findings"][0]) == {"severity", "kind", "split", "files", "detail"}
    assert data["summary"]["errors"] == 5


def test_check_clean_synthetic_dataset_has_no_errors(synthetic_dataset):
    report = check_dataset(load_dataset(synthetic_dataset), workers=1)
    assert report.count("error") == 0 and not report.fails(strict=True)
    assert sum(s.images for s in report.splits.values()) == 30


def test_check_progress_reaches_the_total(synthetic_dataset):
    seen = {}
    run_checks(
        load_dataset(synthetic_dataset), workers=1, on_progress=lambda s, d, t: seen.update({s: (d, t)})
    )
    assert seen["decode and hash images"] == (30, 30)


def test_missing_labels_without_empty_files_are_backgrounds(tmp_path):
    from data_helpers import BOX, radiograph, write_image, write_label

    for i in range(3):
        write_image(tmp_path / "images" / "train" / f"{i}.png", radiograph(i, 64))
    write_label(tmp_path / "images" / "train" / "0.png", [BOX])
    (tmp_path / "data.yaml").write_text("train: images/train\nnames: [fractured]\n")
    report = check_dataset(load_dataset(tmp_path / "data.yaml"), workers=1)
    (finding,) = report.findings
    assert (finding.kind, finding.severity, len(finding.files)) == ("missing_label", "info", 2)
    assert "background images by the YOLO convention" in finding.detail


@pytest.mark.fracatlas
def test_check_fracatlas_finds_its_real_faults(fracatlas_yaml):
    report = check_dataset(load_dataset(fracatlas_yaml))
    assert sum(s.images for s in report.splits.values()) == 4083
    assert report.splits["train"].boxes == 764 and report.splits["val"].with_boxes == 82
    kinds = {f.kind for f in report.findings}
    assert {"truncated_image", "cross_split_near_duplicate", "duplicate_within_split"} <= kinds
    assert report.fails()
