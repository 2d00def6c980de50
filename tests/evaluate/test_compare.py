from __future__ import annotations

import csv
import json

import pytest

from bonefrac.errors import EvaluationError
from bonefrac.evaluate.compare import compare, format_cell
from bonefrac.evaluate.eval_file import find_eval_json, write_eval_report
from bonefrac.evaluate.record import Metric


@pytest.fixture
def runs(tmp_path, random_case, prepare, eval_report):
    """Two run folders, each with a real evaluation of a different random case in weights/eval-test/."""
    paths, reports = [], []
    for seed, name in ((1, "baseline"), (2, "bigger")):
        report = eval_report(prepare(*random_case(seed, n_images=30)), threshold=0.3, resamples=30)
        write_eval_report(report, tmp_path / "runs" / "seed" / name / "weights" / "eval-test" / "eval.json")
        paths.append(tmp_path / "runs" / "seed" / name)
        reports.append(report)
    return paths, reports


def test_compare_writes_csv_and_plots(runs, tmp_path):
    paths, reports = runs
    outcome = compare(paths, tmp_path / "cmp")
    assert [r.name for r in outcome.rows] == ["seed/baseline", "seed/bigger"]
    rows = list(csv.DictReader(outcome.csv_path.open()))
    assert [float(r["mAP50"]) for r in rows] == pytest.approx([r.box.map50.value for r in reports])
    assert [float(r["frac-only mAP50"]) for r in rows] == pytest.approx(
        [r.box_fractured_only.map50.value for r in reports]
    )
    assert float(rows[1]["AUROC_ci_low"]) == pytest.approx(reports[1].image.auroc.ci95[0])
    assert float(rows[0]["threshold"]) == 0.3 and rows[0]["split"] == "test"
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
    path.write_text(json.dumps({"a": 1}))
    with pytest.raises(EvaluationError, match="not a bonefrac eval.json.*got no 'format' key"):
        compare([path], tmp_path / "out")


@pytest.mark.parametrize(
    ("metric", "text"),
    [
        (Metric(value=0.41234, ci95=(0.3, 0.52)), "0.412 [0.30-0.52]"),
        (Metric(value=0.5), "0.500"),
        (Metric(value=float("nan"), ci95=None), "n/a"),
    ],
)
def test_format_cell(metric, text):
    assert format_cell(metric) == text
