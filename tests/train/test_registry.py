import csv
import math

import pytest

from bonefrac.errors import ConfigError
from bonefrac.train.registry import (
    collect_runs,
    leaderboard,
    plot_leaderboard,
    read_run,
    run_state,
    write_leaderboard_csv,
)


def test_run_state_new_interrupted_finished(run_folder_factory):
    assert run_state(run_folder_factory("e", "a", 0, None)) == "new"
    assert run_state(run_folder_factory("e", "b", 0, None, checkpoint=True)) == "interrupted"
    assert run_state(run_folder_factory("e", "c", 0, 0.3, checkpoint=True)) == "finished"


def test_leaderboard_mean_and_std_over_seeds(run_folder_factory, tmp_path):
    for seed, value in enumerate([0.2, 0.4, 0.6]):
        run_folder_factory("e", "good", seed, value)
    run_folder_factory("e", "bad", 0, 0.1)
    run_folder_factory("e", "bad", 1, None, checkpoint=True)  # interrupted: counted, not averaged
    rows, columns = leaderboard(collect_runs([tmp_path / "runs"]))
    assert "val.map50_95" in columns and "test.map50" in columns
    assert [r.group for r in rows] == ["good", "bad"]  # best val mAP50-95 first
    good, bad = rows
    assert good.mean["val.map50_95"] == pytest.approx(0.4)
    assert good.std["val.map50_95"] == pytest.approx(0.2)
    assert good.seeds == (0, 1, 2)
    assert (bad.runs, bad.finished) == (2, 1)
    assert math.isnan(bad.std["val.map50_95"])


def test_leaderboard_without_test_split_has_no_test_columns(run_folder_factory, tmp_path):
    run_folder_factory("e", "a", 0, 0.3, test=False)
    _, columns = leaderboard(collect_runs([tmp_path / "runs"]))
    assert all(c.startswith("val.") for c in columns)


def test_leaderboard_csv_and_png(run_folder_factory, tmp_path):
    run_folder_factory("e", "a", 0, 0.3)
    run_folder_factory("e", "a", 1, 0.5)
    rows, columns = leaderboard(collect_runs([tmp_path / "runs" / "e"]))
    out = write_leaderboard_csv(rows, columns, tmp_path / "out" / "board.csv")
    with out.open() as handle:
        lines = list(csv.DictReader(handle))
    assert lines[0]["group"] == "a" and lines[0]["seeds"] == "0 1"
    assert float(lines[0]["val.map50_95_mean"]) == pytest.approx(0.4)
    png = plot_leaderboard(rows, tmp_path / "out" / "board.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_finished_runs_is_an_error(run_folder_factory, tmp_path):
    run_folder_factory("e", "a", 0, None)
    rows, _ = leaderboard(collect_runs([tmp_path / "runs"]))
    with pytest.raises(ConfigError, match="nothing to plot"):
        plot_leaderboard(rows, tmp_path / "p.png")


def test_read_run_rejects_a_folder_without_config(tmp_path):
    with pytest.raises(ConfigError, match="not a run folder"):
        read_run(tmp_path)


def test_collect_runs_accepts_single_run_folder(run_folder_factory):
    run = run_folder_factory("e", "a", 0, 0.3)
    (summary,) = collect_runs([run])
    assert (summary.experiment, summary.group, summary.seed, summary.state) == ("e", "a", 0, "finished")


def _write_evaluation(run_dir, split="test", weights="best.pt"):
    """An eval.json as `bonefrac evaluate --weights RUN/weights/<weights>` leaves it (one found fracture, one
    missed, one false alarm on a background image)."""
    from pathlib import Path

    import numpy as np

    from bonefrac.evaluate.eval_file import write_eval_report
    from bonefrac.evaluate.evaluator import DetectionEvaluator
    from bonefrac.evaluate.predictions import GroundTruth, ImagePrediction
    from bonefrac.evaluate.record import DataInfo, EvalReport, ModelInfo, OperatingChoice
    from bonefrac.evaluate.results import compute_results
    from bonefrac.records import Detections

    names = ("fractured",)
    evaluator = DetectionEvaluator(names)
    cases = [([[10, 10, 40, 40]], [[10, 10, 40, 40]]), ([[50, 50, 90, 90]], []), ([], [[5, 5, 30, 30]])]
    for i, (gt, found) in enumerate(cases):
        path = Path(f"/d/images/{split}/{i}.png")
        boxes = np.asarray(found, float).reshape(-1, 4)
        detections = Detections(boxes, np.full(len(boxes), 0.9), np.zeros(len(boxes), int), names)
        truth = GroundTruth(path, 100, 100, np.asarray(gt, float).reshape(-1, 4), np.zeros(len(gt), int))
        evaluator.process(ImagePrediction(path, 100, 100, detections), truth)
    choice = OperatingChoice(threshold=0.5, rule="fixed", split=split)
    report = EvalReport(
        **dict(compute_results(evaluator.evaluate(), choice, resamples=0, seed=0)),
        model=ModelInfo(
            weights=str(run_dir / "weights" / weights),
            kind="pt",
            sha256="a" * 64,
            imgsz=64,
            class_names=["f"],
        ),
        data=DataInfo(
            yaml="/d/data.yaml", split=split, fingerprint="b" * 64, conf_floor=0.001, skipped_images=[]
        ),
        produced_by={"bonefrac": "test"},
        seconds=0.1,
    )
    write_eval_report(report, run_dir / "weights" / f"eval-{split}" / "eval.json")
    return report


def test_leaderboard_shows_the_fractured_only_map50_of_evaluated_runs(run_folder_factory, tmp_path):
    evaluated = run_folder_factory("e", "a", 0, 0.3)
    report = _write_evaluation(evaluated)
    run_folder_factory("e", "a", 1, 0.5)  # not evaluated: left out of that column's mean
    elsewhere = run_folder_factory("e", "b", 0, 0.2)
    _write_evaluation(elsewhere, weights="last.pt")  # another weights file than the run's best.pt
    rows, columns = leaderboard(collect_runs([tmp_path / "runs"]))
    assert "test.map50_fractured_only" in columns and "val.map50_fractured_only" not in columns
    by_group = {row.group: row for row in rows}
    assert by_group["a"].mean["test.map50_fractured_only"] == pytest.approx(
        report.box_fractured_only.map50.value
    )
    # 1 of 2 boxes found at precision 1 (the false alarm is on a background image): recall points 0 .. 0.5
    assert report.box_fractured_only.map50.value == pytest.approx(51 / 101)
    assert math.isnan(by_group["b"].mean["test.map50_fractured_only"])


def test_an_unreadable_evaluation_is_left_out_of_the_leaderboard(run_folder_factory, tmp_path, caplog):
    run_dir = run_folder_factory("e", "a", 0, 0.3)
    (run_dir / "weights" / "eval-test").mkdir(parents=True)
    (run_dir / "weights" / "eval-test" / "eval.json").write_text('{"format": "bonefrac.eval/1"}')
    rows, columns = leaderboard(collect_runs([tmp_path / "runs"]))
    assert "test.map50_fractured_only" not in columns and rows[0].mean["test.map50"] == pytest.approx(0.5)
    assert "bonefrac.eval/1" in caplog.text
