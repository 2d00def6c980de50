"""`bonefrac ui`: options, errors, and a real start and stop of streamlit."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from bonefrac.commands.ui import APP_SCRIPT, streamlit_command


def test_streamlit_command_is_headless_without_usage_stats():
    command = streamlit_command("0.0.0.0", 8600, 20)
    options = dict(zip(command[5::2], command[6::2], strict=True))
    assert command[1:5] == ["-m", "streamlit", "run", str(APP_SCRIPT)]
    assert options["--server.headless"] == "true"
    assert options["--browser.gatherUsageStats"] == "false"
    assert options["--server.address"] == "0.0.0.0"
    assert options["--server.port"] == "8600"
    assert options["--server.maxUploadSize"] == "20"
    assert APP_SCRIPT.is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--model", "does/not/exist.onnx"), "model file not found: does/not/exist.onnx"),
        (("--api-url", "127.0.0.1:8000"), "--api-url must start with http:// or https://"),
        (
            ("--api-url", "http://127.0.0.1:9", "--demo-dir", "no/such/folder"),
            "--demo-dir must be a folder of radiographs, got no/such/folder",
        ),
    ],
)
def test_ui_command_refuses_bad_options(subprocess_env, args, message):
    result = subprocess.run(
        [sys.executable, "-m", "bonefrac", "ui", *args],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=60,
    )
    assert result.returncode == 2
    assert message in " ".join(result.stderr.split())


def test_ui_command_starts_and_stops_streamlit(launched, free_port, subprocess_env):
    port = free_port()
    command = [sys.executable, "-m", "bonefrac", "ui", "--api-url", "http://127.0.0.1:9", "--port", str(port)]
    process = launched.start("ui", command, subprocess_env())
    launched.wait_http(process, f"http://127.0.0.1:{port}/_stcore/health")
    assert "bonefrac UI on http://127.0.0.1:" in launched.log_of(process)
    assert launched.stop(process) == 130
    with pytest.raises(httpx.TransportError):  # streamlit went down with the command
        httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
