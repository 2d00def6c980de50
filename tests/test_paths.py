"""Where the default model and the data folder are, and that a refused start leaves no folder behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from bonefrac import paths
from bonefrac.errors import ModelError


@pytest.fixture()
def no_model_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(paths.MODEL_PATH_ENV, raising=False)


def test_shipped_model_is_the_checkouts_deploy_model():
    assert paths.SHIPPED_MODEL == Path(__file__).resolve().parents[1] / "deploy" / "model" / "model.onnx"
    assert paths.shipped_model() == paths.SHIPPED_MODEL


def test_option_wins_over_variable_and_shipped_model(tmp_path, monkeypatch):
    given, from_env = tmp_path / "given.onnx", tmp_path / "env.onnx"
    given.write_bytes(b"x")
    from_env.write_bytes(b"x")
    monkeypatch.setenv(paths.MODEL_PATH_ENV, str(from_env))
    assert paths.choose_model(given) == paths.ModelChoice(given, "--model")
    assert paths.choose_model(None) == paths.ModelChoice(from_env, paths.MODEL_PATH_ENV)


def test_shipped_model_is_the_default(no_model_env):
    choice = paths.choose_model(None)
    assert choice.path == paths.SHIPPED_MODEL and choice.source == "the shipped model"
    assert "--model or BONEFRAC_MODEL_PATH to change" in choice.describe()


def test_missing_model_names_where_it_came_from(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.MODEL_PATH_ENV, str(tmp_path / "gone.onnx"))
    with pytest.raises(ModelError, match=r"model file not found: .*gone.onnx \(from BONEFRAC_MODEL_PATH\)"):
        paths.choose_model(None)


def test_install_without_shipped_model_says_what_to_give(tmp_path, monkeypatch, no_model_env):
    monkeypatch.setattr(paths, "SHIPPED_MODEL", tmp_path / "deploy" / "model" / "model.onnx")
    with pytest.raises(ModelError, match="give --weights path/to/model.onnx or set BONEFRAC_MODEL_PATH"):
        paths.choose_model(None, option="--weights")


def test_data_dir_variable_then_xdg_then_home(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(tmp_path / "mine"))
    assert paths.data_dir() == tmp_path / "mine"
    monkeypatch.delenv(paths.DATA_DIR_ENV)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert paths.data_dir() == tmp_path / "xdg" / "bonefrac"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")  # the XDG spec ignores relative paths
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert paths.data_dir() == tmp_path / "home" / ".local" / "share" / "bonefrac"
    home_data = tmp_path / "home" / ".local" / "share" / "bonefrac"
    assert paths.default_audit_db_url() == f"sqlite:///{home_data / 'audit.db'}"
    assert not (tmp_path / "home").exists()  # asking where is not creating


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:////var/lib/bonefrac/audit.db", Path("/var/lib/bonefrac/audit.db")),
        ("sqlite:///rel/audit.db?mode=rwc", Path("rel/audit.db")),
        ("sqlite:///:memory:", None),
        ("postgresql+psycopg://u@db/bonefrac", None),
    ],
)
def test_sqlite_file_of_url(url, expected):
    assert paths.sqlite_file(url) == expected


def test_sqlite_folder_is_made_and_kept_when_the_block_works(tmp_path):
    with paths.sqlite_folder(f"sqlite:///{tmp_path / 'a' / 'b' / 'audit.db'}"):
        assert (tmp_path / "a" / "b").is_dir()
    assert (tmp_path / "a" / "b").is_dir()


def test_sqlite_folder_is_removed_when_the_block_fails(tmp_path):
    (tmp_path / "kept").mkdir()
    url = f"sqlite:///{tmp_path / 'kept' / 'new' / 'x' / 'a.db'}"
    with pytest.raises(RuntimeError), paths.sqlite_folder(url):
        raise RuntimeError("refused")
    assert [p.name for p in tmp_path.iterdir()] == ["kept"] and not any((tmp_path / "kept").iterdir())
