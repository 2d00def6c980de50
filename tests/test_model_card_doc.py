"""MODEL_CARD.md and the card's test summary come from real evaluations of the files they describe."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml

from bonefrac.card.record import read_model_card
from bonefrac.errors import ModelError
from bonefrac.evaluate.runner import EvaluateOptions, run_evaluation
from bonefrac.model_card_doc import (
    FRACATLAS_CREDIT,
    ISSUE8_ANCHOR,
    fmt,
    publish_model_card,
    read_eval,
    read_training_summary,
)


@pytest.fixture(scope="module")
def evaluated_model(tmp_path_factory, tiny_onnx_model, synthetic_dataset):
    """A model folder whose card got its operating point on val, plus a test eval at that point."""
    folder = tmp_path_factory.mktemp("shipped")
    model = folder / "model.onnx"
    shutil.copyfile(tiny_onnx_model, model)
    common = dict(weights=model, data=synthetic_dataset, bootstrap=50, conf_floor=0.001, report=False)
    run_evaluation(EvaluateOptions(split="val", rule="max-f1", out=folder / "eval-val", **common))
    run_evaluation(EvaluateOptions(split="test", rule="card", out=folder / "eval-test", **common))
    return folder


def _run_folder(path: Path) -> Path:
    """A run folder as `bonefrac train` leaves it (the files the summary reads)."""
    path.mkdir(parents=True)
    config = {
        "experiment": "default_model_cpu",
        "model": "yolo11n.yaml",
        "imgsz": 320,
        "batch": 16,
        "budget_hours": 1.5,
        "device": "cpu",
        "background_ratio": 0.1,
        "subset": {"drop_duplicates_of_train": True},
    }
    (path / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    env = {"device": "cpu", "cpu_count": 2, "torch_threads": 2, "git_sha": "0123456789abcdef"}
    (path / "environment.json").write_text(json.dumps(env), encoding="utf-8")
    (path / "dataset.json").write_text(json.dumps({"train_positives": 574, "train_backgrounds": 268}))
    header = (
        "epoch,time,train/box_loss,metrics/precision(B),metrics/recall(B),metrics/mAP50(B),"
        "metrics/mAP50-95(B)"
    )
    rows = ["1,80.0,5.1,0.1,0.1,0.05,0.01", "2,160.0,4.0,0.3,0.2,0.20,0.07", "3,3600.0,3.9,0.2,0.2,0.18,0.06"]
    (path / "results.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_training_summary_reads_the_run_folder(tmp_path):
    summary = read_training_summary(_run_folder(tmp_path / "run"))
    assert (summary.epochs_done, summary.wall_hours, summary.imgsz) == (3, 1.0, 320)
    assert (summary.best_epoch, summary.best_val_map50) == (2, 0.20)
    assert summary.train_positives == 574 and summary.drop_val_duplicates and summary.cpu_count == 2


def test_training_summary_refuses_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(ModelError, match="not a bonefrac run folder"):
        read_training_summary(tmp_path)


def test_publish_folds_test_numbers_into_both_cards(evaluated_model, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(evaluated_model, folder)
    test_eval = folder / "eval-test" / "eval.json"
    published = publish_model_card(
        folder,
        test_eval,
        val_eval=folder / "eval-val" / "eval.json",
        run_dir=_run_folder(tmp_path / "run"),
        name="bonefrac-test",
        version="9.9",
        anchor=ISSUE8_ANCHOR,
    )
    test = read_eval(test_eval)
    card = read_model_card(published.card_path)
    assert (card.name, card.version) == ("bonefrac-test", "9.9")
    assert card.metrics["test"]["mAP50"]["value"] == pytest.approx(test["box"]["mAP50"]["value"])
    assert card.metrics["test"]["images"] == test["counts"]["images"]
    assert card.data_credit == FRACATLAS_CREDIT and card.limitations
    text = published.markdown_path.read_text(encoding="utf-8")
    assert "Not a medical device" in text and "Scientific Data 10, 521" in text
    assert f"| Box mAP50 | {fmt(test['box']['mAP50'])} |" in text
    assert card.weights_sha256 in text and f"{card.operating_point.threshold:.4f}" in text
    assert "574 fracture images plus 268 background images" in text and "**cpu**" in text
    assert "0.103" in text  # the anchor's mAP50
    assert any("Trained on CPU only" in line for line in card.limitations)


def test_publish_refuses_an_evaluation_of_another_model(evaluated_model, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(evaluated_model, folder)
    result = read_eval(folder / "eval-test" / "eval.json")
    result["model"]["sha256"] = "f" * 64
    other = tmp_path / "other.json"
    other.write_text(json.dumps(result), encoding="utf-8")
    with pytest.raises(ModelError, match="evaluate the shipped file again"):
        publish_model_card(folder, other)
    assert not (folder / "MODEL_CARD.md").exists()


def test_publish_refuses_a_test_run_at_another_threshold(evaluated_model, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(evaluated_model, folder)
    result = read_eval(folder / "eval-test" / "eval.json")
    result["operating_point"]["threshold"] += 0.1
    moved = tmp_path / "moved.json"
    moved.write_text(json.dumps(result), encoding="utf-8")
    with pytest.raises(ModelError, match="--rule card"):
        publish_model_card(folder, moved)


def test_read_eval_names_what_it_expected(tmp_path):
    path = tmp_path / "eval.json"
    path.write_text(json.dumps({"format": "something/else"}), encoding="utf-8")
    with pytest.raises(ModelError, match="bonefrac.eval/1"):
        read_eval(path)


def _with_int8(folder: Path, tmp_path: Path, int8_map50_drop: float) -> Path:
    """Give the folder an 'int8' file named in the card and a test eval of it with mAP50 lowered."""
    from bonefrac.card.record import write_model_card

    int8 = folder / "model.int8.onnx"
    shutil.copyfile(folder / "model.onnx", int8)
    int8.write_bytes(int8.read_bytes() + b"\0")  # another sha256
    card = read_model_card(folder / "model_card.json")
    digest = hashlib.sha256(int8.read_bytes()).hexdigest()
    write_model_card(
        card.model_copy(update={"quantization": {"file": int8.name, "sha256": digest}}),
        folder / "model_card.json",
    )
    result = read_eval(folder / "eval-test" / "eval.json")
    result["model"]["sha256"] = digest
    result["box"]["mAP50"]["value"] -= int8_map50_drop
    path = tmp_path / "int8-eval.json"
    path.write_text(json.dumps(result), encoding="utf-8")
    return path


@pytest.mark.parametrize(("drop", "kept"), [(0.0, True), (0.05, False)])
def test_int8_is_kept_only_when_it_keeps_map50(evaluated_model, tmp_path, drop, kept):
    folder = tmp_path / "model"
    shutil.copytree(evaluated_model, folder)
    int8_eval = _with_int8(folder, tmp_path, drop)
    published = publish_model_card(folder, folder / "eval-test" / "eval.json", int8_test_eval=int8_eval)
    assert published.card.quantization["shipped"] is kept
    assert (folder / "model.int8.onnx").exists() is kept
    assert ("not shipped" in published.markdown_path.read_text(encoding="utf-8")) is not kept
    assert "test_int8" in published.card.metrics
