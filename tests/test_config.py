import pytest

from bonefrac.config import StrictModel, build_config, deep_merge, load_config, parse_overrides
from bonefrac.errors import ConfigError


class Optim(StrictModel):
    lr0: float = 0.01
    lrf: float = 0.01


class Example(StrictModel):
    epochs: int = 1
    optimizer: Optim = Optim()


def test_unknown_key_suggests_closest_name():
    with pytest.raises(ConfigError, match=r"unknown key 'epoch'; did you mean 'epochs'\?"):
        build_config(Example, {"epoch": 3}, "test.yaml")


def test_unknown_nested_key_suggests_closest_name():
    with pytest.raises(ConfigError, match=r"unknown key 'optimizer.lr_0'; did you mean 'lr0'\?"):
        build_config(Example, {"optimizer": {"lr_0": 0.1}}, "test.yaml")


def test_wrong_type_says_what_arrived():
    with pytest.raises(ConfigError, match=r"epochs: .*got 'many'"):
        build_config(Example, {"epochs": "many"}, "test.yaml")


def test_overrides_are_parsed_as_yaml_and_nested():
    assert parse_overrides(["epochs=3", "optimizer.lr0=0.5", "name=abc"]) == {
        "epochs": 3,
        "optimizer": {"lr0": 0.5},
        "name": "abc",
    }


@pytest.mark.parametrize("bad", ["novalue", "=3"])
def test_overrides_reject_malformed_pairs(bad):
    with pytest.raises(ConfigError, match="override"):
        parse_overrides([bad])


def test_deep_merge_does_not_change_inputs():
    base = {"a": {"b": 1, "c": 2}}
    merged = deep_merge(base, {"a": {"b": 5}})
    assert merged == {"a": {"b": 5, "c": 2}} and base == {"a": {"b": 1, "c": 2}}


def test_load_config_applies_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("epochs: 2\noptimizer:\n  lr0: 0.1\n")
    cfg = load_config(Example, path, ["optimizer.lrf=0.5"])
    assert cfg.epochs == 2 and cfg.optimizer.lr0 == 0.1 and cfg.optimizer.lrf == 0.5


def test_load_config_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(Example, tmp_path / "nope.yaml")
