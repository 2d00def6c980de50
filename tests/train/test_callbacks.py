from types import SimpleNamespace

from bonefrac.train.callbacks import training_callbacks
from bonefrac.train.config import build_train_config
from bonefrac.train.progress import EpochSummary


class Recorder:
    def __init__(self) -> None:
        self.events: list[object] = []

    def start(self, run_name: str, first_epoch: int, epochs: int, batches_per_epoch: int) -> None:
        self.events.append(("start", run_name, first_epoch, epochs, batches_per_epoch))

    def batch_done(self) -> None:
        self.events.append("batch")

    def epoch_done(self, summary: EpochSummary) -> None:
        self.events.append(summary)

    def close(self) -> None:
        self.events.append("close")


def test_callbacks_report_each_trained_epoch_once_and_use_all_threads():
    import torch

    config = build_train_config({"data": "d.yaml", "name": "r"}, "t")
    recorder = Recorder()
    hooks = training_callbacks(config, 1, recorder)
    trainer = SimpleNamespace(
        start_epoch=0,
        epochs=2,
        train_loader=[0, 1],
        epoch=0,
        epoch_time=1.5,
        metrics={"metrics/mAP50(B)": 0.5, "metrics/mAP50-95(B)": 0.25},
    )
    before = torch.get_num_threads()
    try:
        hooks["on_train_start"](trainer)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    hooks["on_train_batch_end"](trainer)
    hooks["on_train_epoch_end"](trainer)
    hooks["on_fit_epoch_end"](trainer)
    trainer.epoch = 1  # ultralytics' final validation fires on_fit_epoch_end with epoch + 1
    hooks["on_fit_epoch_end"](trainer)
    assert recorder.events == [
        ("start", "r", 0, 2, 2),
        "batch",
        EpochSummary(epoch=1, epochs=2, seconds=1.5, map50=0.5, map50_95=0.25),
    ]


def test_results_csv_is_read_without_polars_where_it_is_missing(tmp_path, monkeypatch):
    import importlib.util

    import pytest

    from bonefrac.train.callbacks import results_csv_without_polars
    from bonefrac.ultralytics_env import prepare_ultralytics

    prepare_ultralytics()
    import ultralytics.engine.trainer as trainer_module

    csv_file = tmp_path / "results.csv"
    csv_file.write_text("epoch,time,train/box_loss,metrics/mAP50(B)\n1,2.5,1.25,0.1\n2,5.0,1.0,0.2\n")
    trainer = SimpleNamespace(csv=csv_file)
    original = trainer_module.BaseTrainer.read_results_csv
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "polars" else real_find_spec(name, *a)
    )
    with results_csv_without_polars():
        read = trainer_module.BaseTrainer.read_results_csv(trainer)  # type: ignore[arg-type]
    assert read == {
        "epoch": [1.0, 2.0],
        "time": [2.5, 5.0],
        "train/box_loss": [1.25, 1.0],
        "metrics/mAP50(B)": [0.1, 0.2],
    }
    assert trainer_module.BaseTrainer.read_results_csv is original
    if real_find_spec("polars") is None:
        pytest.skip("polars is not installed: nothing to compare with")
    assert original(trainer) == read  # what ultralytics' polars reader returns (1 == 1.0)
