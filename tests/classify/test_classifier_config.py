"""The classifier config: defaults, overrides, and clear errors for bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from bonefrac.classify.config import ClassifierConfig, load_classifier_config
from bonefrac.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_shipped_config_loads_with_overrides() -> None:
    config = load_classifier_config(REPO_ROOT / "configs/classify/fracatlas_lite0.yaml", ["epochs=3"])
    assert config.epochs == 3
    assert config.imgsz == 320
    assert config.subset is not None and config.subset.drop_duplicates_of_train
    assert config.run_dir == Path("runs/classifier/lite0-320-s0")


def test_default_run_name_names_size_and_seed() -> None:
    assert ClassifierConfig(data="d.yaml", imgsz=320, seed=2).run_name == "lite0-320-s2"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("data: d.yaml\nimgsz: 16\n", "imgsz"),
        ("data: d.yaml\nepoch: 3\n", "did you mean 'epochs'"),
        ("data: d.yaml\naugment: {gamma: [1.5, 0.5]}\n", "0 < low <= high"),
        ("data: d.yaml\nbatch: 32\nepoch_images: 8\n", "at least batch"),
        ("data: d.yaml\nname: ../escape\n", "folder-safe"),
        ("imgsz: 320\n", "data"),
    ],
)
def test_bad_config_says_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_classifier_config(path)


@pytest.mark.parametrize(
    ("given", "device"), [("cpu", "cpu"), ("0", "cuda:0"), (1, "cuda:1"), ("CUDA", "cuda")]
)
def test_device_names_normalise(given: object, device: str) -> None:
    assert ClassifierConfig(data="d.yaml", device=given).device == device


def test_unknown_device_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("data: d.yaml\ndevice: tpu\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="device must be"):
        load_classifier_config(path)


def test_budget_plans_fewer_epochs_when_they_do_not_fit() -> None:
    from bonefrac.classify.trainer import planned_epochs

    config = ClassifierConfig(data="d.yaml", epochs=30, budget_hours=0.5)
    assert planned_epochs(config, 0, 0.0) == 30
    assert planned_epochs(config, 2, 600.0) == 6  # 300 s an epoch: six fit in 30 minutes
    assert planned_epochs(config, 8, 600.0) == 24  # faster than planned: more, up to `epochs`
    assert planned_epochs(config, 5, 100_000.0) == 5  # past the budget: stop after this epoch
    assert planned_epochs(ClassifierConfig(data="d.yaml", epochs=7), 3, 1e9) == 7
