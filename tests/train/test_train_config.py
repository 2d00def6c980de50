from pathlib import Path

import pytest
import yaml

from bonefrac.errors import ConfigError
from bonefrac.train.config import (
    build_train_config,
    builtin_model_names,
    dump_config,
    load_train_config,
    nest_dotted,
    read_saved_config,
    to_ultralytics_args,
)

DATA = {"data": "some/data.yaml"}


def test_config_defaults_and_run_dir():
    config = build_train_config(DATA, "t")
    assert config.model == "yolo11n.yaml"
    assert config.run_dir == Path("runs/default/yolo11n-s0")
    assert config.device_string() == "cpu"


@pytest.mark.parametrize(
    ("data", "pattern"),
    [
        ({"epoch": 3}, r"unknown key 'epoch'; did you mean 'epochs'\?"),
        ({"augment": {"degress": 10}}, r"unknown key 'augment.degress'; did you mean 'degrees'\?"),
        ({"loss": {"dfll": 2.0}}, r"unknown key 'loss.dfll'; did you mean 'dfl'\?"),
        ({"optimizer": {"cos": True}}, r"unknown key 'optimizer.cos'; did you mean 'cos_lr'\?"),
        ({"imgsz": 16}, r"imgsz: .*greater than or equal to 32"),
        ({"background_ratio": 1.5}, r"background_ratio: .*less than or equal to 1"),
        ({"model": "yolo11q.yaml"}, r"model must be one of .*did you mean 'yolo11x.yaml'"),
        ({"device": "cuda"}, r"device must be 'cpu', a GPU index"),
        ({"device": [0, 0]}, r"distinct GPU indices"),
        ({"optimizer": {"name": "adam"}}, r"optimizer.name"),
        ({"name": "../escape"}, r"folder-safe name"),
        ({"freeze": -1}, r"freeze: .*greater than or equal to 0"),
        ({"freeze": 2.5}, r"freeze: .*valid integer"),
        ({"freeze": [0, 1]}, r"freeze: .*valid integer"),
    ],
)
def test_config_invalid_values_fail_with_clear_message(data, pattern):
    with pytest.raises(ConfigError, match=pattern):
        build_train_config({**DATA, **data}, "t.yaml")


def test_config_needs_exactly_one_data_source():
    with pytest.raises(ConfigError, match="exactly one data source"):
        build_train_config({}, "t.yaml")
    with pytest.raises(ConfigError, match="exactly one data source"):
        build_train_config({**DATA, "synthetic": {"images": 10}}, "t.yaml")


@pytest.mark.parametrize(
    ("device", "expected", "gpus"),
    [("cpu", "cpu", []), ("CPU", "cpu", []), (0, "0", [0]), ("1", "1", [1]), ([0, 1], "0,1", [0, 1])],
)
def test_config_device_forms(device, expected, gpus):
    config = build_train_config({**DATA, "device": device}, "t")
    assert config.device_string() == expected
    assert config.gpu_indices() == gpus


@pytest.mark.parametrize("model", [*builtin_model_names(), "runs/x/weights/best.pt"])
def test_config_accepts_builtin_models_and_pt_paths(model):
    assert build_train_config({**DATA, "model": model}, "t").model == model


def test_config_file_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("data: d.yaml\nepochs: 5\nloss: {dfl: 2.0}\n")
    config = load_train_config(path, ["epochs=7", "loss.box=5", "augment.degrees=10", "device=[0, 1]"])
    assert (config.epochs, config.loss.dfl, config.loss.box, config.augment.degrees) == (7, 2.0, 5.0, 10.0)
    assert config.device == [0, 1]


def test_config_bad_override_is_a_config_error(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("data: d.yaml\n")
    with pytest.raises(ConfigError, match="key=value"):
        load_train_config(path, ["epochs"])


def test_to_ultralytics_args_maps_every_block():
    config = build_train_config(
        {
            **DATA,
            "budget_hours": 0.5,
            "optimizer": {"name": "AdamW", "lr0": 0.002, "cos_lr": True, "warmup_epochs": 1},
            "augment": {"degrees": 15, "flipud": 0.5},
            "loss": {"dfl": 2.5},
            "multi_scale": 0.5,
            "cache": "ram",
        },
        "t",
    )
    args = to_ultralytics_args(config)
    assert args["time"] == 0.5
    assert (args["optimizer"], args["lr0"], args["cos_lr"], args["warmup_epochs"]) == (
        "AdamW",
        0.002,
        True,
        1,
    )
    assert (args["degrees"], args["flipud"], args["dfl"], args["multi_scale"]) == (15, 0.5, 2.5, 0.5)
    assert args["cache"] == "ram"
    assert args["amp"] is False  # AMP only on GPUs
    assert args["pretrained"] is False  # random init from the yaml, nothing downloaded


def test_nest_dotted_merges_nested_keys():
    assert nest_dotted({"loss.dfl": 2, "loss": {"box": 5}, "a": 1}) == {"loss": {"dfl": 2, "box": 5}, "a": 1}


def test_to_ultralytics_args_starts_from_pt_weights():
    assert to_ultralytics_args(build_train_config({**DATA, "model": "w/best.pt"}, "t"))["pretrained"] is True


def test_freeze_reaches_ultralytics_and_defaults_to_nothing_frozen():
    assert to_ultralytics_args(build_train_config({**DATA, "freeze": 10}, "t"))["freeze"] == 10
    assert to_ultralytics_args(build_train_config(DATA, "t"))["freeze"] is None  # ultralytics' default


def test_saved_config_from_before_new_keys_compares_equal(tmp_path):
    """A run folder written before `freeze` and `augment.photometric` existed resumes and is not 'changed'."""
    config = build_train_config({**DATA, "augment": {"degrees": 10}}, "t")
    old = dump_config(config)
    del old["freeze"]
    del old["augment"]["photometric"]
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(old))
    assert read_saved_config(path) == dump_config(config)
    path.write_text(yaml.safe_dump({**old, "removed_key": 1}))  # no longer valid: compared as written
    assert read_saved_config(path)["removed_key"] == 1


def test_shipped_train_config_loads():
    path = Path(__file__).resolve().parents[2] / "configs" / "train" / "fracatlas_yolo11n.yaml"
    config = load_train_config(path, ["device=0"])
    assert (config.model, config.imgsz, config.device_string()) == ("yolo11n.yaml", 640, "0")
