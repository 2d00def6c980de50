from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bonefrac.data.yolo_format import load_dataset
from bonefrac.errors import EvaluationError, ModelError
from bonefrac.evaluate.predictions import (
    ImagePrediction,
    PredictionSet,
    load_predictions,
    parse_label_file,
    predict_split,
    save_predictions,
    split_images,
    weights_kind,
)
from bonefrac.records import Detections


def test_parse_label_file_yolo_box_and_polygon(tmp_path):
    label = tmp_path / "a.txt"
    label.write_text("0 0.5 0.5 0.2 0.4\n0 0.1 0.1 0.3 0.1 0.3 0.2 0.1 0.2\n")
    truth = parse_label_file(label, 200, 100, 1)
    np.testing.assert_allclose(truth.xyxy, [[80, 30, 120, 70], [20, 10, 60, 20]])
    assert truth.class_id.tolist() == [0, 0] and not truth.is_background


def test_parse_label_file_skips_bad_lines_and_clips(tmp_path, caplog):
    label = tmp_path / "a.txt"
    label.write_text("0 0.5 0.5 0.2\n3 0.5 0.5 0.2 0.2\nx 1 1 1 1\n0 0.95 0.5 0.2 0.2\n0 0.5 0.5 0 0\n")
    truth = parse_label_file(label, 100, 100, 1)
    np.testing.assert_allclose(truth.xyxy, [[85, 40, 100, 60]])
    assert "skipped" in caplog.text


def test_parse_label_file_missing_means_background(tmp_path):
    assert parse_label_file(tmp_path / "none.txt", 10, 10, 1).is_background


def test_predictions_round_trip(tmp_path):
    det = Detections(np.array([[1.234, 2, 30, 40]]), np.array([0.87654]), np.array([0]), ("fractured",))
    pset = PredictionSet(
        weights=Path("w.pt"),
        kind="pt",
        split="test",
        class_names=("fractured",),
        conf_floor=0.001,
        images=(
            ImagePrediction(Path("/d/images/test/a.png"), 64, 48, det),
            ImagePrediction(Path("/d/images/test/b.png"), 64, 48, Detections.empty(("fractured",))),
        ),
        skipped=("/d/c.png: broken",),
        imgsz=64,
    )
    loaded = load_predictions(save_predictions(pset, tmp_path / "p.json"))
    assert loaded.split == "test" and loaded.skipped == pset.skipped and loaded.imgsz == 64
    assert [i.path for i in loaded.images] == [i.path for i in pset.images]
    np.testing.assert_allclose(loaded.images[0].detections.xyxy, [[1.23, 2, 30, 40]])
    assert len(loaded.images[1].detections) == 0


def test_load_predictions_rejects_other_json(tmp_path):
    path = tmp_path / "eval.json"
    path.write_text('{"format": "something"}')
    with pytest.raises(EvaluationError, match="not a bonefrac predictions file"):
        load_predictions(path)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.pt", None, "weights not found"),
        ("model.h5", b"x", "must be a .pt"),
        ("best.txt", b"x", "must be"),
    ],
)
def test_weights_kind_errors(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelError, match=message):
        weights_kind(path)


def test_predict_split_rejects_garbage_checkpoint(tmp_path, synthetic_dataset):
    weights = tmp_path / "best.pt"
    weights.write_bytes(b"this is not a checkpoint")
    spec = load_dataset(synthetic_dataset)
    with pytest.raises(ModelError, match="not a loadable ultralytics checkpoint"):
        predict_split(weights, spec.splits["test"][:1], split="test", class_names=spec.class_names)


def test_split_images_names_available_splits(synthetic_dataset):
    spec = load_dataset(synthetic_dataset)
    with pytest.raises(EvaluationError, match="available splits: test, train, val"):
        split_images(spec, "holdout")


def test_linked_split_view_keeps_the_data_set_untouched(synthetic_dataset, tmp_path):
    from bonefrac.evaluate.ultralytics_val import linked_split_view

    spec = load_dataset(synthetic_dataset)
    view = load_dataset(linked_split_view(synthetic_dataset, "test", tmp_path / "view"))
    assert len(view.splits["val"]) == len(spec.splits["test"]) and view.class_names == spec.class_names
    assert view.fingerprint != spec.fingerprint  # other split name, same files through the links
    originals = sorted(p.resolve() for p in (tmp_path / "view" / "images").iterdir())
    assert originals == sorted(spec.splits["test"])


@pytest.mark.slow
def test_pt_predictions_score_a_cut_jpeg_and_skip_an_undecodable_file(
    tmp_path, tiny_pt_weights, synthetic_dataset
):
    """A JPEG cut short is scored (OpenCV fills the missing rows, as for the ONNX path), not a crash; a file
    OpenCV cannot decode is skipped and listed."""
    import cv2

    source = load_dataset(synthetic_dataset).splits["test"][0]
    whole = tmp_path / "whole.jpg"
    cv2.imwrite(str(whole), cv2.imread(str(source)), [cv2.IMWRITE_JPEG_QUALITY, 95])
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"\xff\xd8 not a jpeg at all" * 10)

    found = predict_split(tiny_pt_weights, [whole, cut, garbage], split="test", class_names=("fractured",))
    assert [p.path.name for p in found.images] == ["whole.jpg", "cut.jpg"]
    assert len(found.skipped) == 1 and found.skipped[0].startswith(f"{garbage}:")
