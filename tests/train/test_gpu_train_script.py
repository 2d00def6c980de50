"""scripts/gpu_train.sh: its recipe, its input checks, its dry run (the same path on CPU, tiny settings)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bonefrac.train.config import load_train_config
from bonefrac.train.starts import load_known_starts

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "gpu_train.sh"
RECIPE = REPO / "configs" / "train" / "gpu_640.yaml"
SHARED_START = REPO.parent / "shared" / "pretrained" / "coco_yolov5nu_backbone_neck.pt"
OUT_FILES = {
    "best.pt",
    "results.csv",
    "metrics.json",
    "config.yaml",
    "environment.json",
    "eval_val.json",
    "eval_test.json",
    "train.log",
}


def run_script(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GPU_TRAIN_")}
    environment.update(
        PYTHON=sys.executable,
        GPU_TRAIN_RUNS=str(tmp_path / "runs"),
        GPU_TRAIN_WHEELS=str(tmp_path / "no-wheels"),
        **env,
    )
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_gpu_recipe_is_the_described_one():
    config = load_train_config(RECIPE)
    assert (config.imgsz, config.device_string(), config.workers, config.cache) == (640, "0", 8, "ram")
    assert 32 <= config.batch <= 64 and config.amp
    assert config.budget_hours is not None and config.budget_hours * 60 < 9
    assert config.background_ratio == 0.25 and config.subset is not None
    assert config.optimizer.cos_lr and config.augment.close_mosaic > 0
    assert (config.augment.hsv_h, config.augment.hsv_s) == (0.0, 0.0)  # grey radiographs
    assert config.data == ".data/fracatlas/data.yaml"
    known_names = {start.name for start in load_known_starts().values() if start.trainable}
    assert Path(config.model).name in known_names and config.model.startswith(".data/pretrained/")


@pytest.mark.parametrize(
    ("args", "message"), [((), "usage: scripts/gpu_train.sh"), (("--fast", "o"), "unknown option")]
)
def test_gpu_script_usage_errors(tmp_path, args, message):
    result = run_script(tmp_path, *args)
    assert result.returncode == 2 and message in result.stderr


def test_gpu_script_checks_its_inputs_before_training(tmp_path):
    fake = tmp_path / "coco_yolov5nu_backbone_neck.pt"
    fake.write_bytes(b"not the known start")
    result = run_script(
        tmp_path,
        str(tmp_path / "out"),
        GPU_TRAIN_DATA=str(tmp_path / "absent" / "data.yaml"),
        GPU_TRAIN_WEIGHTS=str(fake),
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "no usable data at" in output and "fracatlas-640-gray.tar" in output
    expected = next(s.sha256 for s in load_known_starts().values() if s.name == fake.name)
    assert f"expected the known start's {expected}" in output
    assert "inputs not ready" in output and "nothing was trained" in output
    if "GPU:" not in output:
        assert "torch sees no CUDA GPU" in output
    assert not (tmp_path / "runs").exists()
    assert (tmp_path / "out" / "train.log").is_file()


def check_dry_run_out(out: Path) -> dict:  # type: ignore[type-arg]
    files = {p.name for p in out.iterdir()}
    assert files == OUT_FILES
    assert all(p.is_file() and p.stat().st_size < 16 * 2**20 for p in out.iterdir())
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert (config["imgsz"], config["device"], config["epochs"], config["experiment"]) == (
        64,
        "cpu",
        1,
        "gpu",
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) >= {"val", "test", "start"}
    for split in ("val", "test"):
        evaluation = json.loads((out / f"eval_{split}.json").read_text())
        assert evaluation["operating_point"]["split"] == split
    val_threshold = json.loads((out / "eval_val.json").read_text())["operating_point"]["threshold"]
    test_point = json.loads((out / "eval_test.json").read_text())["operating_point"]
    assert test_point["rule"] == "fixed" and test_point["threshold"] == pytest.approx(val_threshold)
    assert "done:" in (out / "train.log").read_text()
    return metrics


@pytest.mark.slow
def test_gpu_script_dry_run_writes_the_out_files(tmp_path):
    result = run_script(
        tmp_path, str(tmp_path / "out"), GPU_TRAIN_DRY_RUN="1", GPU_TRAIN_WEIGHTS=str(tmp_path / "absent.pt")
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    metrics = check_dry_run_out(tmp_path / "out")
    assert metrics["start"]["model"] == "yolov5n.yaml" and metrics["start"]["init"] == "random"
    assert "yolov5n.yaml (random init, the start's architecture) stands in" in result.stdout


@pytest.mark.slow
@pytest.mark.shared
def test_gpu_script_dry_run_from_the_shared_start(tmp_path):
    if not SHARED_START.is_file():
        pytest.skip(f"starting weights not found at {SHARED_START} (place shared/ beside the repo)")
    result = run_script(tmp_path, "--dry-run", str(tmp_path / "out"), GPU_TRAIN_WEIGHTS=str(SHARED_START))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    start = check_dry_run_out(tmp_path / "out")["start"]
    assert start["known"] and start["credit"].startswith(
        "backbone and neck initialised from Ultralytics YOLOv5n"
    )
    environment = json.loads((tmp_path / "out" / "environment.json").read_text())
    assert environment["start"]["sha256"] == start["sha256"]
