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
        "near_duplicate_groups",
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


@pytest.fixture(scope="module")
def fracatlas_outcome(fracatlas_yaml):
    return run_checks(load_dataset(fracatlas_yaml))


@pytest.mark.fracatlas
def test_check_fracatlas_finds_its_real_faults(fracatlas_outcome):
    report = fracatlas_outcome.report
    assert sum(s.images for s in report.splits.values()) == 4083
    assert report.splits["train"].boxes == 764 and report.splits["val"].with_boxes == 82
    kinds = {f.kind for f in report.findings}
    assert {"truncated_image", "cross_split_near_duplicate", "duplicate_within_split"} <= kinds
    assert {"near_duplicate_groups", "label_conflict"} <= kinds
    assert report.fails()


def _exhaustive_copies_of_train(images, min_correlation=0.99):
    """(val image, train image) for every val image whose best train match, over ALL train images and the 8
    orientations, correlates >= min_correlation on a 32x32 grid (rows a truncated file lost left out).
    Quadratic and blunt on purpose: an independent oracle for the check's sub-quadratic search."""
    import cv2
    import numpy as np

    from bonefrac.data.copies import ORIENTATIONS

    def grid(scan):
        return cv2.resize(scan.thumbnail.astype(np.float32), (32, 32), interpolation=cv2.INTER_AREA)

    def standardised(rows):
        rows = rows - rows.mean(axis=-1, keepdims=True)
        return rows / (rows.std(axis=-1, keepdims=True) + 1e-6)

    train = images["train"]
    grids = np.stack([grid(s) for s in train])
    aspects = np.array([s.width / s.height for s in train])
    train_hashes = {s.sha256 for s in train}
    found = []
    for scan in images["val"]:
        if scan.sha256 in train_hashes or scan.thumbnail is None:
            continue  # byte-identical copies are the exact-duplicate check's
        kept = scan.valid_rows / scan.height
        rows = 32 if kept >= 1 else max(4, int(32 * kept) - 1)
        best, best_j = -1.0, -1
        for turns, mirror in ORIENTATIONS if kept >= 1 else [(0, False)]:
            turned = np.rot90(grid(scan), turns)
            turned = turned[:, ::-1] if mirror else turned
            aspect = scan.width / scan.height if turns % 2 == 0 else scan.height / scan.width
            same_shape = np.abs(aspects - aspect) / np.maximum(aspects, aspect) <= 0.04
            query = standardised(turned[:rows].ravel())
            scores = standardised(grids[:, :rows].reshape(len(grids), -1)) @ query / query.size
            scores[~same_shape] = -1.0
            if scores.max() > best:
                best, best_j = float(scores.max()), int(scores.argmax())
        if best >= min_correlation:
            found.append((scan, train[best_j]))
    return found


@pytest.mark.fracatlas
def test_no_val_copy_of_a_train_image_escapes_on_fracatlas(fracatlas_outcome):
    oracle = _exhaustive_copies_of_train(fracatlas_outcome.images)
    pairs = {frozenset((p.a, p.b)) for p in fracatlas_outcome.near_duplicates}
    escaped = [(v.path.name, t.path.name) for v, t in oracle if frozenset((v.path, t.path)) not in pairs]
    assert len(oracle) >= 120 and escaped == []
    assert sum(v.status == "truncated" for v, _ in oracle) >= 30  # copies cut short are found too
    across = [p for p in fracatlas_outcome.near_duplicates if {p.split_a, p.split_b} == {"train", "val"}]
    assert len(across) >= len(oracle)  # plus the copies only keypoints or ranks can confirm


def _augmented_family_dataset(tmp_path):
    """train: a radiograph, a mirrored copy whose box was not mirrored, and a rotated copy; val: others."""
    from data_helpers import jpeg_bytes, radiograph, write_image, write_label
    from PIL import ImageOps

    train, val = tmp_path / "images" / "train", tmp_path / "images" / "val"
    source = radiograph(40, 256)
    write_label(write_image(train / "source.png", source), ["0 0.250000 0.400000 0.100000 0.200000"])
    for name, image in (("mirrored.jpg", ImageOps.mirror(source)), ("rotated.jpg", source.rotate(7))):
        train.joinpath(name).write_bytes(jpeg_bytes(image, quality=90))
    write_label(train / "mirrored.jpg", ["0 0.250000 0.400000 0.100000 0.200000"])  # should be at x 0.75
    write_label(train / "rotated.jpg", ["0 0.250000 0.400000 0.100000 0.200000"])
    for i in range(4):
        write_label(write_image(train / f"other_{i}.png", radiograph(50 + i, 256)), [])
        write_label(write_image(val / f"val_{i}.png", radiograph(60 + i, 256)), [])
    (tmp_path / "data.yaml").write_text("train: images/train\nval: images/val\nnames: [fractured]\n")
    return tmp_path / "data.yaml"


def test_copies_within_a_split_are_grouped_and_their_label_conflicts_reported(tmp_path):
    outcome = run_checks(load_dataset(_augmented_family_dataset(tmp_path)), workers=1)
    kinds = _by_kind(outcome.report)
    (groups,) = kinds["near_duplicate_groups"]
    assert groups.severity == "info" and groups.split == "train"
    family = {"images/train/source.png", "images/train/mirrored.jpg", "images/train/rotated.jpg"}
    assert set(groups.files) == family
    assert "1 groups of copies" in groups.detail and "1 of 3" in groups.detail
    conflicts = {frozenset(f.files) for f in kinds["label_conflict"]}
    assert frozenset({"images/train/source.png", "images/train/mirrored.jpg"}) in conflicts
    assert all("rotated.jpg" not in files or "mirrored.jpg" in files for files in conflicts)
    assert "cross_split_near_duplicate" not in kinds
    assert [len(g) for g in outcome.copy_groups] == [3]


def test_without_opencv_or_faiss_the_check_says_the_copy_search_was_skipped(faulty_dataset, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "faiss", None)
    kinds = _by_kind(check_dataset(load_dataset(faulty_dataset.yaml_path), workers=1))
    (skipped,) = kinds["copy_search_skipped"]
    assert skipped.severity == "warning" and "bonefrac[data]" in skipped.detail and "faiss" in skipped.detail
    assert "cross_split_duplicate" in kinds and "cross_split_near_duplicate" not in kinds
