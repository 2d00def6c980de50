"""`bonefrac evaluate` and `bonefrac compare` end to end, and their errors for bad input."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from bonefrac.card.record import read_model_card
from bonefrac.cli import app
from bonefrac.errors import ConfigError, EvaluationError, ModelError
from bonefrac.evaluate.eval_file import read_eval_report
from bonefrac.hashing import file_sha256

runner = CliRunner()


def _metadata_csv(data_yaml, path):
    images = sorted((data_yaml.parent / "images").rglob("*.png"))
    lines = ["file,region"] + [f"{p.name},{'hand' if i % 2 else 'leg'}" for i, p in enumerate(images)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _snapshot(folder):
    return {(str(p), p.stat().st_mtime_ns) for p in folder.rglob("*")}


@pytest.mark.slow
def test_evaluate_pt_end_to_end(tiny_pt_weights, synthetic_dataset, tmp_path):
    weights = tmp_path / "run" / "weights" / "last.pt"
    weights.parent.mkdir(parents=True)
    shutil.copyfile(tiny_pt_weights, weights)
    csv_path = _metadata_csv(synthetic_dataset, tmp_path / "meta.csv")
    args = [
        "evaluate",
        "--weights",
        str(weights),
        "--data",
        str(synthetic_dataset),
        "--split",
        "val",
        "--bootstrap",
        "40",
        "--seed",
        "3",
        "--metadata",
        str(csv_path),
        "--metadata-column",
        "region",
        "--write-card",
    ]
    before = _snapshot(synthetic_dataset.parent)
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    out = weights.parent / "eval-val"
    evaluation = read_eval_report(out / "eval.json")
    assert [p.fp_per_image for p in evaluation.froc.points] == [0.125, 0.25, 0.5, 1, 2, 4, 8]
    assert evaluation.counts.images == 6 and evaluation.model.kind == "pt"
    assert evaluation.box_fractured_only.images == evaluation.counts.positive_images
    assert evaluation.by_metadata is not None and set(evaluation.by_metadata.groups) == {"hand", "leg"}
    ultra = evaluation.box.ultralytics
    assert ultra is not None and ultra.error is None and 0.0 <= ultra.map50 <= 1.0
    assert "fractured" in result.output and "box mAP50" in result.output
    assert _snapshot(synthetic_dataset.parent) == before, "evaluate wrote into the data set"
    assert (out / "report.html").stat().st_size > 10_000 and (out / "predictions.json").is_file()
    card = read_model_card(weights.parent / "model_card.json")
    assert card.operating_point.split == "val" and card.operating_point.rule == "target_sensitivity=0.9"
    assert card.operating_point.threshold == pytest.approx(evaluation.image.threshold)

    # the threshold chosen on val, applied to test; the predictions of the first run can be reused too
    again = runner.invoke(
        app,
        [
            "evaluate",
            "--weights",
            str(weights),
            "--data",
            str(synthetic_dataset),
            "--rule",
            "card",
            "--bootstrap",
            "0",
            "--no-ultralytics-val",
        ],
    )
    assert again.exit_code == 0, again.output
    test_eval = read_eval_report(weights.parent / "eval-test" / "eval.json")
    assert test_eval.image.threshold == pytest.approx(card.operating_point.threshold)
    assert test_eval.box.map50.ci95 is None and test_eval.box_fractured_only.map50.ci95 is None
    reuse = runner.invoke(
        app,
        [
            "evaluate",
            "--weights",
            str(weights),
            "--data",
            str(synthetic_dataset),
            "--split",
            "val",
            "--predictions",
            str(out / "predictions.json"),
            "--bootstrap",
            "40",
            "--seed",
            "3",
            "--no-ultralytics-val",
            "--no-card",
            "--out",
            str(tmp_path / "reuse"),
        ],
    )
    assert reuse.exit_code == 0, reuse.output
    reused = read_eval_report(tmp_path / "reuse" / "eval.json")
    assert reused.box.model_copy(update={"ultralytics": None}) == evaluation.box.model_copy(
        update={"ultralytics": None}
    )
    assert reused.box_fractured_only == evaluation.box_fractured_only
    assert reused.image == evaluation.image and reused.froc == evaluation.froc

    compared = runner.invoke(
        app, ["compare", str(out), str(weights.parent / "eval-test"), "--out", str(tmp_path / "cmp")]
    )
    assert compared.exit_code == 0, compared.output
    assert (tmp_path / "cmp" / "compare.csv").read_text().count("\n") == 3


def _flat(output):
    return " ".join(output.split())  # rich wraps long lines


@pytest.mark.slow
def test_evaluate_onnx_through_the_service_predictor(tiny_onnx_model, synthetic_dataset, tmp_path):
    model = tmp_path / "export" / "model.onnx"
    model.parent.mkdir()
    shutil.copyfile(tiny_onnx_model, model)
    common = ["evaluate", "--weights", str(model), "--data", str(synthetic_dataset), "--bootstrap", "20"]
    result = runner.invoke(app, [*common, "--split", "val", "--rule", "max-f1", "--write-card"])
    assert result.exit_code == 0, result.output
    evaluation = read_eval_report(model.parent / "eval-val" / "eval.json")
    assert evaluation.model.kind == "onnx" and evaluation.counts.images == 6
    assert evaluation.box.ultralytics is None
    card = read_model_card(model.parent / "model_card.json")
    assert (card.operating_point.rule, card.operating_point.split) == ("max_f1", "val")
    assert card.operating_point.threshold == pytest.approx(evaluation.image.threshold)


def _evaluate(folder, data, *extra):
    args = ["evaluate", "--weights", str(folder / "model.onnx"), "--data", str(data), "--bootstrap", "0"]
    return runner.invoke(app, [*args, *extra])


@pytest.mark.slow
def test_evaluating_a_shipped_model_on_test_leaves_its_card_alone(shipped_folder, synthetic_dataset):
    """The reported attack: `bonefrac evaluate --weights deploy/model/model.onnx --split test` rewrote the
    card's operating point with one chosen on test. Now auto measures the card's point and writes nothing."""
    card_path = shipped_folder / "model_card.json"
    before = file_sha256(card_path)
    result = _evaluate(shipped_folder, synthetic_dataset, "--split", "test")
    assert result.exit_code == 0, result.output
    assert file_sha256(card_path) == before
    evaluation = read_eval_report(shipped_folder / "eval-test" / "eval.json")
    point = evaluation.operating_point
    assert (point.threshold, point.rule, point.split) == (0.1065, "max_f1", "val")
    assert "not written into the card" not in _flat(result.output)  # nothing was chosen


@pytest.mark.slow
def test_choosing_on_test_is_refused_unless_forced(shipped_folder, synthetic_dataset):
    card_path = shipped_folder / "model_card.json"
    before = file_sha256(card_path)
    refused = _evaluate(shipped_folder, synthetic_dataset, "--split", "test", "--rule", "max-f1")
    assert isinstance(refused.exception, EvaluationError), refused.output
    assert "refusing to choose an operating point on the test split" in str(refused.exception)
    assert not (shipped_folder / "eval-test").exists()

    forced = _evaluate(
        shipped_folder, synthetic_dataset, "--split", "test", "--rule", "max-f1", "--force-test-choice"
    )
    assert forced.exit_code == 0, forced.output
    assert "WARNING: the operating point was chosen on the test split" in _flat(forced.output)
    assert "not written into the card; pass --write-card" in _flat(forced.output)
    point = read_eval_report(shipped_folder / "eval-test" / "eval.json").operating_point
    assert (point.rule, point.split) == ("max_f1", "test") and "optimistic" in point.note
    assert file_sha256(card_path) == before


@pytest.mark.slow
def test_choosing_on_val_writes_the_card_only_when_asked(shipped_folder, synthetic_dataset):
    card_path = shipped_folder / "model_card.json"
    before = file_sha256(card_path)
    chosen = ["--split", "val", "--rule", "target-sensitivity"]
    kept = _evaluate(shipped_folder, synthetic_dataset, *chosen)
    assert kept.exit_code == 0, kept.output
    assert file_sha256(card_path) == before
    assert "the operating point was not written into the card; pass --write-card" in _flat(kept.output)

    written = _evaluate(shipped_folder, synthetic_dataset, *chosen, "--write-card")
    assert written.exit_code == 0, written.output
    evaluation = read_eval_report(shipped_folder / "eval-val" / "eval.json")
    card = read_model_card(card_path)
    assert (card.operating_point.rule, card.operating_point.split) == ("target_sensitivity=0.9", "val")
    assert card.operating_point.threshold == pytest.approx(evaluation.image.threshold)
    assert (card.name, card.version) == ("shipped", "1")


def test_evaluate_missing_weights_exits_2_with_message(synthetic_dataset, tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bonefrac",
            "evaluate",
            "--weights",
            str(tmp_path / "best.pt"),
            "--data",
            str(synthetic_dataset),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "weights not found" in proc.stderr


@pytest.mark.parametrize(
    ("weights_name", "extra", "error", "message"),
    [
        ("model.h5", [], ModelError, "must be a .pt"),
        ("best.pt", ["--split", "holdout"], EvaluationError, "available splits: test, train, val"),
        ("best.pt", ["--rule", "best"], ConfigError, "rule"),
        ("best.pt", ["--target-sensitivity", "1.5"], ConfigError, "target_sensitivity"),
        ("best.pt", ["--metadata", "m.csv"], EvaluationError, "go together"),
        ("best.pt", [], EvaluationError, "--rule auto (as target-sensitivity: no model_card.json beside"),
        ("best.pt", ["--rule", "max-f1"], EvaluationError, "refusing to choose an operating point"),
        (
            "best.pt",
            ["--rule", "fixed", "--threshold", "0.3", "--two-tier"],
            EvaluationError,
            "with --two-tier (it",
        ),
    ],
)
def test_evaluate_bad_inputs(synthetic_dataset, tmp_path, weights_name, extra, error, message):
    weights = tmp_path / weights_name
    weights.write_bytes(b"not a model")
    result = runner.invoke(
        app, ["evaluate", "--weights", str(weights), "--data", str(synthetic_dataset), *extra]
    )
    assert isinstance(result.exception, error), result.output
    assert message in str(result.exception)
    assert not (tmp_path / "eval-test").exists() and not (tmp_path / "model_card.json").exists()


def test_compare_without_eval_json_fails_clearly(tmp_path):
    result = runner.invoke(app, ["compare", str(tmp_path)])
    assert isinstance(result.exception, EvaluationError) and "no eval.json" in str(result.exception)


@pytest.mark.slow
def test_ultralytics_figures_leave_the_data_set_untouched(tiny_pt_weights, synthetic_dataset):
    from bonefrac.evaluate.ultralytics_val import ultralytics_figures

    before = _snapshot(synthetic_dataset.parent)
    figures = ultralytics_figures(tiny_pt_weights, synthetic_dataset, "test", 64)
    assert (
        figures.error is None and figures.source and figures.map50 is not None and figures.recall is not None
    )
    assert _snapshot(synthetic_dataset.parent) == before  # no labels/test.cache beside the user's labels


@pytest.mark.slow
def test_evaluate_exported_onnx_updates_the_export_card(tiny_pt_weights, synthetic_dataset, tmp_path):
    from bonefrac.export.onnx import export_onnx

    weights = tmp_path / "run" / "weights" / "best.pt"
    weights.parent.mkdir(parents=True)
    shutil.copyfile(tiny_pt_weights, weights)
    export_onnx(weights, tmp_path / "export", imgsz=64)
    model = tmp_path / "export" / "model.onnx"
    exported = read_model_card(model.parent / "model_card.json")
    result = runner.invoke(
        app,
        [
            "evaluate",
            "--weights",
            str(model),
            "--data",
            str(synthetic_dataset),
            "--split",
            "val",
            "--bootstrap",
            "0",
            "--write-card",
        ],
    )
    assert result.exit_code == 0, result.output
    card = read_model_card(model.parent / "model_card.json")
    assert card.operating_point.split == "val" and card.operating_point.rule.startswith("target_sensitivity")
    assert card.weights_sha256 == exported.weights_sha256 and card.version == exported.version
    assert card.metrics["export_parity"] == exported.metrics["export_parity"]
    assert card.metrics["evaluation"]["split"] == "val"


def test_evaluate_on_another_engine_records_it_and_keeps_the_numbers(
    tiny_onnx_model, synthetic_dataset, tmp_path
):
    """`--engine openvino` evaluates what an OpenVINO service serves: the engine is in eval.json and
    predictions.json, its numbers are onnxruntime's, and its predictions are not reused for another engine."""
    pytest.importorskip("openvino")
    model = tmp_path / "export" / "model.onnx"
    model.parent.mkdir()
    shutil.copyfile(tiny_onnx_model, model)
    common = ["evaluate", "--weights", str(model), "--data", str(synthetic_dataset), "--split", "val"]
    common += ["--rule", "fixed", "--threshold", "0.1", "--bootstrap", "0"]
    reports = {}
    for engine in ("onnxruntime", "openvino"):
        result = runner.invoke(app, [*common, "--engine", engine, "--out", str(tmp_path / engine)])
        assert result.exit_code == 0, result.output
        reports[engine] = read_eval_report(tmp_path / engine / "eval.json")
        assert reports[engine].model.engine == engine
    assert '"engine": "openvino"' in (tmp_path / "openvino" / "predictions.json").read_text()
    ort, ov = reports["onnxruntime"], reports["openvino"]
    assert ov.box.map50.value == pytest.approx(ort.box.map50.value, abs=1e-3)
    assert ov.image.auroc.value == pytest.approx(ort.image.auroc.value, abs=1e-3)

    reused = [*common, "--predictions", str(tmp_path / "openvino" / "predictions.json")]
    result = runner.invoke(app, [*reused, "--out", str(tmp_path / "again")])
    assert isinstance(result.exception, EvaluationError)
    assert "predicted by the openvino engine" in str(result.exception)
    assert "--engine openvino" in str(result.exception)


def test_evaluate_refuses_an_unknown_engine_and_an_engine_for_pt(synthetic_dataset, tmp_path):
    weights = tmp_path / "last.pt"
    weights.write_bytes(b"not read")
    common = ["evaluate", "--weights", str(weights), "--data", str(synthetic_dataset), "--bootstrap", "0"]
    result = runner.invoke(app, [*common, "--engine", "tensorrt"])
    assert isinstance(result.exception, ConfigError)
    assert "accepted: onnxruntime, openvino, openvino-bf16" in str(result.exception)
    result = runner.invoke(app, [*common, "--split", "val", "--engine", "openvino"])
    assert isinstance(result.exception, EvaluationError)
    assert "runs exported .onnx models" in str(result.exception)
