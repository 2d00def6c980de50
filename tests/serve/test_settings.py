"""BONEFRAC_* environment variables become typed settings; bad values fail with the field named."""

from __future__ import annotations

from pathlib import Path

import pytest

from bonefrac.errors import ConfigError
from bonefrac.paths import SHIPPED_MODEL
from bonefrac.serve.settings import ServeSettings, load_settings


def test_settings_defaults_are_documented_values(monkeypatch, tmp_path):
    for name in list(__import__("os").environ):
        if name.startswith("BONEFRAC_") and name != "BONEFRAC_CACHE":
            monkeypatch.delenv(name)
    monkeypatch.setenv("BONEFRAC_DATA", str(tmp_path / "data"))
    settings = ServeSettings()
    assert settings.env == "development" and settings.threshold is None
    assert settings.max_upload_bytes == 20 * 1024 * 1024
    assert settings.api_keys == [] and settings.audit_db_url == f"sqlite:///{tmp_path / 'data' / 'audit.db'}"
    assert settings.model_path == SHIPPED_MODEL


def test_settings_read_from_environment(monkeypatch):
    monkeypatch.setenv("BONEFRAC_MODEL_PATH", "/models/m.onnx")
    monkeypatch.setenv("BONEFRAC_API_KEYS", "a:secret-one, secret-two2")
    monkeypatch.setenv("BONEFRAC_CORS_ORIGINS", "http://a.example,http://b.example")
    monkeypatch.setenv("BONEFRAC_THRESHOLD", "0.4")
    monkeypatch.setenv("BONEFRAC_QUEUE_LENGTH", "3")
    settings = load_settings()
    assert settings.model_path == Path("/models/m.onnx")
    assert settings.api_keys == ["a:secret-one", "secret-two2"]
    assert settings.key_ids()["secret-one"] == "a" and settings.key_ids()["secret-two2"].startswith("key-")
    assert settings.cors_origins == ["http://a.example", "http://b.example"]
    assert settings.threshold == 0.4 and settings.queue_length == 3


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("BONEFRAC_THRESHOLD", "1.7", "threshold"),
        ("BONEFRAC_ENV", "prod", "env"),
        ("BONEFRAC_API_KEYS", "short", "at least 8"),
        ("BONEFRAC_MAX_UPLOAD_BYTES", "-1", "max_upload_bytes"),
    ],
)
def test_settings_bad_value_names_the_field(monkeypatch, name, value, words):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=words):
        load_settings()


def test_settings_overrides_win_over_environment(monkeypatch):
    monkeypatch.setenv("BONEFRAC_MODEL_PATH", "/env.onnx")
    assert load_settings(model_path=Path("/cli.onnx")).model_path == Path("/cli.onnx")
