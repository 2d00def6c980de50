"""`bonefrac ui`: start the Streamlit UI against a running service or an ONNX model in-process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import typer
from rich.console import Console

from bonefrac.errors import BonefracError, ConfigError
from bonefrac.paths import choose_model
from bonefrac.ports import ensure_port_free

console = Console()
PORT_CHANGE = "--port {port} (or BONEFRAC_UI_PORT={port}, which make run reads too)"
APP_SCRIPT = Path(__file__).resolve().parents[1] / "ui" / "streamlit_app.py"


def streamlit_command(host: str, port: int, max_upload_mb: int) -> list[str]:
    """The `streamlit run` command line: headless, no usage statistics, no file watcher, no browser."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP_SCRIPT),
        "--server.headless",
        "true",
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.fileWatcherType",
        "none",
        "--server.maxUploadSize",
        str(max_upload_mb),
        "--browser.gatherUsageStats",
        "false",
        "--global.developmentMode",
        "false",
        "--client.toolbarMode",
        "minimal",
        "--theme.base",
        "light",
    ]


def ui(
    api_url: str | None = typer.Option(
        None,
        "--api-url",
        envvar="BONEFRAC_API_URL",
        help="Address of a running bonefrac service (e.g. http://127.0.0.1:8000). Without it: in-process.",
    ),
    model: Path | None = typer.Option(
        None,
        "--model",
        envvar="BONEFRAC_MODEL_PATH",
        help="ONNX model to run in-process when no --api-url is given (model_card.json beside it; "
        "default: the shipped model).",
    ),
    port: int = typer.Option(
        8501, "--port", min=1, max=65535, envvar="BONEFRAC_UI_PORT", help="Port the UI listens on."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address the UI listens on (0.0.0.0: all)."),
    max_upload_mb: int = typer.Option(20, "--max-upload-mb", min=1, help="Largest file the page accepts."),
    demo_dir: Path | None = typer.Option(
        None,
        "--demo-dir",
        envvar="BONEFRAC_DEMO_DIR",
        help="Folder of demo radiographs offered beside the upload (`bonefrac data demo` writes one).",
    ),
) -> None:
    """Start the web UI: upload radiographs, see fracture boxes, download the results."""
    env = dict(os.environ)
    if api_url:
        if not api_url.startswith(("http://", "https://")):
            raise ConfigError(f"--api-url must start with http:// or https://, got {api_url!r}")
        env["BONEFRAC_API_URL"] = api_url
        env.pop("BONEFRAC_MODEL_PATH", None)
        backend = f"the service at {api_url}"
    else:
        chosen = choose_model(model)
        env.pop("BONEFRAC_API_URL", None)
        env["BONEFRAC_MODEL_PATH"] = str(chosen.path.resolve())
        backend = f"{chosen.describe()} in-process"
    env.pop("BONEFRAC_DEMO_DIR", None)
    if demo_dir is not None:
        if not demo_dir.is_dir():
            raise ConfigError(f"--demo-dir must be a folder of radiographs, got {demo_dir} (not a folder)")
        env["BONEFRAC_DEMO_DIR"] = str(demo_dir.resolve())
    env["STREAMLIT_BROWSER_GATHER_USAGE_STATS"] = "false"
    ensure_port_free(host, port, change=PORT_CHANGE)
    console.print(f"bonefrac UI on http://{host}:{port} using {backend} (Ctrl-C stops it)")
    process = subprocess.Popen(streamlit_command(host, port, max_upload_mb), env=env)
    signal.signal(signal.SIGTERM, _interrupt)  # a stop request ends streamlit too, not only this process
    try:
        code = process.wait()
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: stop streamlit, then let the CLI exit with 130
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        raise
    if code:
        raise BonefracError(f"streamlit exited with code {code}; its messages are above")


def register(app: typer.Typer) -> None:
    """Add `ui` to the root app."""
    app.command("ui")(ui)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
