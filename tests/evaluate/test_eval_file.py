"""eval.json: written from the EvalReport record, read back with validation, clear errors otherwise."""

from __future__ import annotations

import json

import pytest

from bonefrac.errors import EvaluationError
from bonefrac.evaluate.eval_file import read_eval_report, write_eval_report
from bonefrac.evaluate.record import EVAL_FORMAT, Metric


@pytest.fixture
def report(random_case, prepare, eval_report):
    return eval_report(prepare(*random_case(3, n_images=25)), threshold=0.3, resamples=25)


def test_eval_json_round_trips_the_record(report, tmp_path):
    path = write_eval_report(report, tmp_path / "eval.json")
    assert read_eval_report(path) == report
    data = json.loads(path.read_text())
    assert next(iter(data)) == "format" and data["format"] == EVAL_FORMAT == "bonefrac.eval/2"
    # one naming with the training run's metrics.json
    assert {"map50", "map50_95", "precision", "recall"} <= set(data["box"])
    assert {"map50", "map50_95", "precision", "recall", "images", "boxes"} <= set(data["box_fractured_only"])
    assert set(data["box"]["map50"]) == {"value", "ci95"}


def test_undefined_metrics_are_null_in_the_file_and_none_in_the_record(report, tmp_path):
    undefined = report.model_copy(
        update={
            "background": report.background.model_copy(update={"image_fp_rate": Metric(value=float("nan"))})
        }
    )
    assert undefined.background.image_fp_rate.value is None
    path = write_eval_report(undefined, tmp_path / "eval.json")
    assert json.loads(path.read_text())["background"]["image_fp_rate"] == {"value": None, "ci95": None}
    assert read_eval_report(path).background.image_fp_rate == Metric()


def test_an_old_format_is_named_with_what_to_do(tmp_path):
    path = tmp_path / "eval.json"
    path.write_text(json.dumps({"format": "bonefrac.eval/1", "box": {"mAP50": {"value": 0.1, "ci95": None}}}))
    with pytest.raises(EvaluationError) as caught:
        read_eval_report(path)
    message = str(caught.value)
    assert "'bonefrac.eval/1'" in message and "older bonefrac" in message and "'bonefrac.eval/2'" in message
    assert str(tmp_path / "predictions.json") in message  # how to evaluate again without predicting


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json {", "is not readable JSON"),
        ("[1, 2]", "holds a JSON list; expected an eval.json written by `bonefrac evaluate`"),
        (json.dumps({"format": "bonefrac.predictions/1"}), "got format 'bonefrac.predictions/1'"),
        (json.dumps({"box": {}}), "got no 'format' key"),
    ],
)
def test_other_files_are_refused_saying_what_was_expected(tmp_path, content, message):
    path = tmp_path / "eval.json"
    path.write_text(content)
    with pytest.raises(EvaluationError, match="expected|not readable") as caught:
        read_eval_report(path)
    assert message in str(caught.value)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(EvaluationError, match="evaluation not found: .*nope.json"):
        read_eval_report(tmp_path / "nope.json")


def test_invalid_fields_are_listed_by_where_they_are(report, tmp_path):
    data = json.loads(write_eval_report(report, tmp_path / "eval.json").read_text())
    del data["box"]["map50"]
    data["box"]["mAP50"] = {"value": 0.2, "ci95": None}  # the old key
    data["seconds"] = "slow"
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data))
    with pytest.raises(EvaluationError) as caught:
        read_eval_report(path)
    message = str(caught.value)
    assert message.startswith(f"{path} is not a valid bonefrac.eval/2 file: ")
    assert "box.map50: Field required" in message
    assert "box.mAP50: Extra inputs are not permitted" in message
    assert "seconds: Input should be a valid number" in message and "'slow'" in message
