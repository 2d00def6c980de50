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
