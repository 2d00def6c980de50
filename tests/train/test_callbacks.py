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
