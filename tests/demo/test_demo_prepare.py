import pytest
from demo_helpers import EXPECTED, write_fake_fracatlas
from typer.testing import CliRunner

from bonefrac.cli import app
from bonefrac.demo.folder import read_demo_manifest
from bonefrac.demo.prepare import prepare_demo
from bonefrac.errors import ConfigError, DatasetError

runner = CliRunner()


def test_fracatlas_from_the_environment_variable(fake_fracatlas, tmp_path):
    env = {"BONEFRAC_FRACATLAS": str(fake_fracatlas)}
    prepared = prepare_demo(tmp_path / "demo", environ=env, cwd=tmp_path)
    assert prepared.manifest.kind == "fracatlas" and "FracAtlas found at" in prepared.reason
    assert [i.file for i in prepared.manifest.images] == EXPECTED


def test_fracatlas_beside_the_checkout(tmp_path):
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    write_fake_fracatlas(tmp_path / "shared" / "data" / "fracatlas")
    prepared = prepare_demo(tmp_path / "demo", environ={}, cwd=checkout)
    assert prepared.manifest.kind == "fracatlas"


def test_synthetic_when_fracatlas_is_absent_saying_where_it_looked(tmp_path):
    prepared = prepare_demo(
        tmp_path / "demo", environ={"BONEFRAC_FRACATLAS": str(tmp_path / "none")}, cwd=tmp_path
    )
    assert prepared.manifest.kind == "synthetic"
    assert (
        prepared.reason == f"no FracAtlas at {tmp_path / 'none'} (no such folder): synthetic images instead"
    )
    prepared = prepare_demo(tmp_path / "demo", environ={}, cwd=tmp_path)
    assert "set $BONEFRAC_FRACATLAS" in prepared.reason and prepared.manifest.kind == "synthetic"


def test_synthetic_on_request_even_with_fracatlas(fake_fracatlas, tmp_path):
    env = {"BONEFRAC_FRACATLAS": str(fake_fracatlas)}
    assert prepare_demo(tmp_path / "demo", synthetic=True, environ=env).manifest.kind == "synthetic"


def test_an_explicit_fracatlas_must_be_one(tmp_path):
    with pytest.raises(DatasetError, match="expected FracAtlas in YOLO layout at"):
        prepare_demo(tmp_path / "demo", fracatlas=tmp_path)
    with pytest.raises(ConfigError, match="not both"):
        prepare_demo(tmp_path / "demo", fracatlas=tmp_path, synthetic=True)


def test_data_demo_command_switches_kinds_in_the_same_folder(fake_fracatlas, tmp_path, monkeypatch):
    out = tmp_path / "demo"
    result = runner.invoke(app, ["data", "demo", "--out", str(out), "--fracatlas", str(fake_fracatlas)])
    assert result.exit_code == 0, result.output
    assert "wrote 4 FracAtlas test images" in result.output
    result = runner.invoke(app, ["data", "demo", "--out", str(out), "--synthetic"])
    assert result.exit_code == 0 and "wrote 5 SYNTHETIC images" in result.output
    assert read_demo_manifest(out).kind == "synthetic"
    assert sorted(p.name for p in out.iterdir() if p.suffix in (".jpg", ".png"))[0] == "synthetic_01.png"
    assert not list(out.glob("*.jpg"))  # the FracAtlas copies went with the old folder
