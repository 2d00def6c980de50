"""The card's training section: what a run folder says about how the model was made."""

from __future__ import annotations

import pytest

from bonefrac.card.training import read_training_summary
from bonefrac.errors import ModelError


def test_training_summary_reads_the_run_folder(tmp_path, run_folder):
    summary = read_training_summary(run_folder(tmp_path / "run"))
    assert (summary.epochs_done, summary.wall_hours, summary.imgsz) == (3, 1.0, 320)
    assert (summary.best_epoch, summary.best_val_map50) == (2, 0.20)
    assert summary.train_positives == 574 and summary.drop_val_duplicates and summary.cpu_count == 2


def test_training_summary_refuses_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(ModelError, match="not a bonefrac run folder"):
        read_training_summary(tmp_path)


def test_a_run_cut_before_its_final_evaluation_says_so_in_the_limits(tmp_path, run_folder, report):
    """Only a run that wrote metrics.json was 'stopped by its budget'; one cut short says where it stopped."""
    from bonefrac.card.limitations import derive_limitations

    folder = run_folder(tmp_path / "run")
    cut = read_training_summary(folder)
    assert cut.finished is False
    (limit,) = [line for line in derive_limitations(report, cut) if line.startswith("Trained on CPU")]
    assert "the run stopped at 1.00 h of its 1.5 h wall-clock budget, before its last epoch" in limit

    (folder / "metrics.json").write_text("{}", encoding="utf-8")
    done = read_training_summary(folder)
    assert done.finished is True
    (limit,) = [line for line in derive_limitations(report, done) if line.startswith("Trained on CPU")]
    assert "stopped by its 1.5 h wall-clock budget" in limit and "before its last epoch" not in limit
