import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bonefrac.cli import app

runner = CliRunner()


PIPELINE_ORDER = [
    "data",
    "train",
    "experiment",
    "runs",
    "evaluate",
    "export",
    "quantize",
    "predict",
    "serve",
    "ui",
    "dicom",
    "classify",
    "compare",
    "model-card",
    "image",
    "bench",
    "schema",
]


def test_help_lists_every_command_in_pipeline_order():
    result = runner.invoke(app, ["--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    panel = result.output.split("Commands")[1]
    listed = [line.split()[1] for line in panel.splitlines() if line.startswith("│ ") and line[2] != " "]
    assert listed == PIPELINE_ORDER


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


SRC = str(Path(__file__).resolve().parents[1] / "src")

# (arguments, words the one line must hold): each a mistake a new user makes
USAGE_MISTAKES = [
    (["predcit", "x.png"], ["No such command 'predcit'", "Did you mean 'predict'"]),
    (["data", "sinth"], ["No such command 'sinth'", "'synth'"]),
    (["data", "synth"], ["Missing option '--out'"]),
    (["predict", "x.png", "--conf", "3"], ["'--conf'", "less than or equal to 1"]),
    (["predict", "x.png", "--wieghts", "m.onnx"], ["No such option: --wieghts", "--weights"]),
    (["serve", "--port", "abc"], ["'--port'", "valid integer"]),
    (["serve", "--port", "70000"], ["'--port'", "65535"]),
    (["export"], ["Missing option '--weights'"]),
    (["evaluate", "--bogus"], ["No such option: --bogus"]),
    (["--no-such-flag"], ["No such option: --no-such-flag"]),
]


@pytest.mark.parametrize(("arguments", "words"), USAGE_MISTAKES, ids=[" ".join(a) for a, _ in USAGE_MISTAKES])
def test_usage_mistake_ends_in_one_line_and_exit_2(tmp_path, arguments, words):
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run(
        [sys.executable, "-m", "bonefrac", *arguments],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: bonefrac")
    for word in words:
        assert word in lines[0]
    assert list(tmp_path.iterdir()) == []  # a refused command leaves nothing behind
