from __future__ import annotations

import csv
import json

import pytest

from bonefrac.errors import EvaluationError
from bonefrac.evaluate.compare import compare, find_eval_json


def _eval(value: float) -> dict:
    entry = {"value": value, "ci95": [value - 0.1, value + 0.1]}
    return {
        "format": "bonefrac.eval/1",
        "data": {"split": "test"},
        "box": {"mAP50": entry, "mAP50_95": entry, "precision": entry, "recall": entry},
        "image": {
            "auroc": entry,
            "sensitivity": entry,
            "specificity": entry,
            "threshold": 0.3,
            "roc": {"fpr": [0, 0.5, 1], "tpr": [0, value, 1]},
        },
        "froc": {"score": entry, "curve": {"fp_per_image": [0.1, 1, 4], "sensitivity": [0.2, value, 0.9]}},
    }


@pytest.fixture
def runs(tmp_path):
    paths = []
    for name, value in (("baseline", 0.5), ("bigger", 0.7)):
        folder = tmp_path / "runs" / "seed" / name / "weights" / "eval-test"
        folder.mkdir(parents=True)
        (folder / "eval.json").write_text(json.dumps(_eval(value)))
        paths.append(tmp_path / "runs" / "seed" / name)
    return paths


def test_compare_writes_csv_and_plots(runs, tmp_path):
    outcome = compare(runs, tmp_path / "cmp")
    assert [r["name"] for r in outcome.rows] == ["seed/baseline", "seed/bigger"]
    rows = list(csv.DictReader(outcome.csv_path.open()))
    assert [float(r["mAP50"]) for r in rows] == [0.5, 0.7]
    assert float(rows[1]["AUROC_ci_low"]) == pytest.approx(0.6)
    for plot in outcome.plots:
        assert plot.read_bytes().startswith(b"\x89PNG")


def test_find_eval_json_errors(tmp_path, runs):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(EvaluationError, match="no eval.json"):
        find_eval_json(empty)
    with pytest.raises(EvaluationError, match="holds 2 eval.json"):
        find_eval_json(tmp_path / "runs")
    with pytest.raises(EvaluationError, match="not found"):
        find_eval_json(tmp_path / "nope")


def test_compare_rejects_other_json(tmp_path):
    path = tmp_path / "eval.json"
    path.write_text('{"a": 1}')
    with pytest.raises(EvaluationError, match="not a bonefrac eval.json"):
        compare([path], tmp_path / "out")
