"""Real training of a tiny YOLO11n on synthetic data on CPU (imgsz 64, 1-2 epochs)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from bonefrac.cli import app
from bonefrac.errors import TrainingError
from bonefrac.train.config import build_train_config
from bonefrac.train.progress import EpochSummary
from bonefrac.train.registry import run_state
from bonefrac.train.runner import train_model

TINY = {
    "experiment": "t",
    "synthetic": {"images": 12, "size": 64, "seed": 0},
    "imgsz": 64,
    "epochs": 1,
    "batch": 8,
    "augment": {"mosaic": 0.0, "close_mosaic": 0},
    "optimizer": {"warmup_epochs": 0},
}
SPLIT_KEYS = {"images", "precision", "recall", "map50", "map50_95", "wall_time_s"}


@pytest.fixture
def lookups(monkeypatch):
    """Every non-loopback name lookup (the first step of any download) is recorded and refused."""
    attempts: list[str] = []
    real = socket.getaddrinfo

    def recording_getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host not in (None, "localhost") and not str(host).startswith(("127.", "::1")):
            attempts.append(str(host))
            raise OSError(f"name lookup of {host} refused in tests")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", recording_getaddrinfo)
    return attempts


def files_under(root: Path) -> set[Path]:
    return {p.relative_to(root) for p in root.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_train_cli_writes_a_complete_run_folder(tmp_path, monkeypatch, lookups):
    monkeypatch.chdir(tmp_path)
    Path("tiny.yaml").write_text(yaml.safe_dump({**TINY, "epochs": 3}))
    result = CliRunner().invoke(app, ["train", "tiny.yaml", "--set", "epochs=1", "--set", "name=cli"])
    assert result.exit_code == 0, result.output
    run_dir = tmp_path / "runs" / "t" / "cli"
    for name in (
        "config.yaml",
        "dataset.json",
        "environment.json",
        "results.csv",
        "epochs.jsonl",
        "weights/best.pt",
        "weights/last.pt",
        "metrics.json",
        "status.json",
    ):
        assert (run_dir / name).is_file(), name

    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["schema_version"] == 1
    assert (metrics["experiment"], metrics["name"], metrics["seed"], metrics["epochs_completed"]) == (
        "t",
        "cli",
        0,
        1,
    )
    assert metrics["weights"] == "weights/best.pt"
    assert metrics["code_version"].startswith("bonefrac ")
    assert metrics["train_wall_time_s"] > 0
    for split in ("val", "test"):
        assert set(metrics[split]) == SPLIT_KEYS
        assert metrics[split]["images"] > 0
        assert all(0.0 <= metrics[split][k] <= 1.0 for k in ("precision", "recall", "map50", "map50_95"))

    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["epochs"] == 1 and config["name"] == "cli"  # the resolved config, overrides applied
    dataset = json.loads((run_dir / "dataset.json").read_text())
    assert dataset["trained"]["fingerprint"] == metrics["dataset_fingerprint"]
    environment = json.loads((run_dir / "environment.json").read_text())
    assert environment["device"] == "cpu" and environment["torch_threads"] >= 1
    assert {"torch", "ultralytics", "bonefrac"} <= set(environment)
    assert len((run_dir / "epochs.jsonl").read_text().splitlines()) == 1

    # nothing downloaded, nothing written outside runs/ (the synthetic data lives in runs/t/_data)
    assert lookups == []
    outside = {p for p in files_under(tmp_path) if p.parts[0] != "runs" and p != Path("tiny.yaml")}
    assert outside == set()


class InterruptAfterFirstEpoch:
    """A progress reporter that presses Ctrl-C once the first epoch (and its checkpoint) is done."""

    def start(self, run_name: str, first_epoch: int, epochs: int, batches_per_epoch: int) -> None:
        self.started = (first_epoch, epochs)

    def batch_done(self) -> None:
        pass

    def epoch_done(self, summary: EpochSummary) -> None:
        if summary.epoch == 1:
            raise KeyboardInterrupt

    def close(self) -> None:
        pass


@pytest.mark.slow
def test_interrupted_run_resumes_from_its_checkpoint(tmp_path, lookups):
    config = build_train_config({**TINY, "epochs": 2, "runs_dir": str(tmp_path / "runs")}, "t")
    with pytest.raises(KeyboardInterrupt):
        train_model(config, progress=InterruptAfterFirstEpoch())
    run_dir = config.run_dir
    assert run_state(run_dir) == "interrupted"
    assert json.loads((run_dir / "status.json").read_text())["state"] == "interrupted"

    with pytest.raises(TrainingError, match="--resume"):
        train_model(config)
    changed = build_train_config(
        {**TINY, "epochs": 2, "runs_dir": str(tmp_path / "runs"), "loss": {"dfl": 2}}, "t"
    )
    with pytest.raises(TrainingError, match=r"differs in \['loss'\]"):
        train_model(changed, resume=True)

    result = train_model(config, resume=True)
    assert result.resumed and result.epochs_completed == 2
    assert run_state(run_dir) == "finished"
    assert set(result.metrics) == {"val", "test"}
    assert result.best_weights.is_file()
    epochs = [json.loads(line)["epoch"] for line in (run_dir / "epochs.jsonl").read_text().splitlines()]
    assert epochs == [1, 2]

    with pytest.raises(TrainingError, match="already finished"):
        train_model(config)
    assert lookups == []


@pytest.mark.slow
def test_experiment_cli_skips_finished_cells_and_lists_runs(tmp_path, monkeypatch, lookups):
    monkeypatch.chdir(tmp_path)
    matrix = {
        "experiment": "mx",
        "base": {k: v for k, v in TINY.items() if k != "experiment"},
        "variants": {"baseline": {}, "bg0": {"background_ratio": 0.0}},
    }
    Path("m.yaml").write_text(yaml.safe_dump(matrix))
    runner = CliRunner()
    first = runner.invoke(app, ["experiment", "run", "m.yaml", "--only", "baseline"])
    assert first.exit_code == 0, first.output
    assert run_state(tmp_path / "runs" / "mx" / "baseline-s0") == "finished"
    assert not (tmp_path / "runs" / "mx" / "bg0-s0").exists()

    again = runner.invoke(app, ["experiment", "run", "m.yaml", "--only", "baseline"])
    assert again.exit_code == 0, again.output
    assert "0 run(s) trained or resumed, 1 skipped" in again.output

    listed = runner.invoke(app, ["runs", "compare", "runs/mx", "--csv", "board.csv", "--plot", "board.png"])
    assert listed.exit_code == 0, listed.output
    assert "comparison" in listed.output
    assert Path("board.csv").read_text().splitlines()[1].startswith("mx,baseline,")
    assert Path("board.png").read_bytes()[:4] == b"\x89PNG"
    assert lookups == []


@pytest.mark.slow
def test_pretrained_start_is_recorded_frozen_and_photometric(tmp_path, lookups):
    """A .pt start (built here, unknown to the registry) with freeze 10 and the photometric block on."""
    import torch

    from bonefrac.hashing import file_sha256
    from bonefrac.ultralytics_env import prepare_ultralytics

    prepare_ultralytics()
    from ultralytics.nn.tasks import DetectionModel

    torch.manual_seed(0)
    start = tmp_path / "coco_like_start.pt"  # 80 classes, as a COCO start has; the data has one
    torch.save(
        {"model": DetectionModel("yolov5n.yaml", nc=80, verbose=False).half(), "train_args": {}}, start
    )
    photometric = {
        "brightness_contrast": 0.3,
        "gamma": 0.3,
        "jpeg_quality": [40, 95],
        "blur": 3,
        "noise": 0.02,
    }
    config = build_train_config(
        {
            **TINY,
            "runs_dir": str(tmp_path / "runs"),
            "model": str(start),
            "freeze": 10,
            "augment": {**TINY["augment"], "photometric": photometric},
        },
        "t",
    )
    result = train_model(config)
    run_dir = result.run_dir

    for record in ("environment.json", "metrics.json"):
        recorded = json.loads((run_dir / record).read_text())["start"]
        assert (recorded["kind"], recorded["init"], recorded["path"]) == ("weights", "pretrained", str(start))
        assert (recorded["sha256"], recorded["size_bytes"]) == (file_sha256(start), start.stat().st_size)
        assert (recorded["known"], recorded["credit"], recorded["layers"], recorded["classes"]) == (
            False,
            None,
            25,
            80,
        )

    before = torch.load(start, weights_only=False)["model"].state_dict()
    last = torch.load(run_dir / "weights" / "last.pt", weights_only=False)
    after = (last.get("ema") or last["model"]).state_dict()  # the final checkpoint keeps the EMA as model
    frozen, trained = "model.0.conv.weight", "model.13.cv1.conv.weight"  # backbone layer 0; a neck layer
    assert torch.allclose(before[frozen].float(), after[frozen].float(), rtol=0, atol=1e-6)
    assert (before[trained].float() - after[trained].float()).abs().max() > 1e-4

    args = yaml.safe_load((run_dir / "args.yaml").read_text())
    assert args["freeze"] == 10
    names = [t["transform"]["__class_fullname__"] for t in args["augmentations"]]
    assert names == [
        "RandomBrightnessContrast",
        "RandomGamma",
        "GaussianBlur",
        "GaussNoise",
        "ImageCompression",
    ]
    assert lookups == []
