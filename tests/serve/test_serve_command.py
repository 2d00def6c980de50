"""`bonefrac serve` refuses to start on bad settings with a clear message and exit code 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _serve(tmp_path: Path, args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BONEFRAC_") or k == "BONEFRAC_CACHE"}
    return subprocess.run(
        [sys.executable, "-m", "bonefrac", "serve", *args],
        env={**clean, "PYTHONPATH": str(REPO / "src"), **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("args", "env", "words"),
    [
        (["--model", "absent.onnx"], {}, "model file not found: absent.onnx"),
        (["--model", "m.onnx"], {"BONEFRAC_ENV": "production"}, "requires API keys"),
        (["--model", "m.onnx"], {"BONEFRAC_QUEUE_LENGTH": "lots"}, "queue_length"),
        (
            ["--model", "m.onnx", "--engine", "tensorrt"],
            {},
            "unknown engine 'tensorrt'; accepted: onnxruntime, openvino",
        ),
        (["--model", "m.onnx"], {"BONEFRAC_ENGINE": "tensorrt"}, "engine"),
    ],
    ids=[
        "missing model",
        "production without keys",
        "bad setting",
        "unknown engine",
        "unknown engine setting",
    ],
)
def test_command_refuses_bad_settings(tmp_path, args, env, words):
    (tmp_path / "m.onnx").write_bytes(b"not really a model")
    result = _serve(tmp_path, args, **env)
    assert result.returncode == 2, result.stderr
    assert words in " ".join(result.stderr.split()), result.stderr
