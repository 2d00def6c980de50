import subprocess
import sys

from typer.testing import CliRunner

from bonefrac.cli import app

runner = CliRunner()


def test_help_lists_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0 and "data" in result.output


def test_data_synth_command_writes_a_dataset(tmp_path):
    result = runner.invoke(app, ["data", "synth", "--out", str(tmp_path), "--images", "6", "--size", "64"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "data.yaml").is_file() and "wrote" in result.output


def test_library_error_becomes_exit_code_and_message(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "bonefrac", "data", "synth", "--out", str(tmp_path), "--size", "8"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "size must be in 32..4096" in proc.stderr


def test_help_does_not_import_torch():
    code = "import sys; from bonefrac.cli import app; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
