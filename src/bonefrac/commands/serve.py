"""`bonefrac serve`: the HTTP service (FastAPI + uvicorn) over an ONNX model."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from bonefrac.infer.engines import ENGINE_HELP

console = Console(stderr=True)
PORT_CHANGE = "--port {port} (or BONEFRAC_PORT={port}, which make run reads too)"


def serve(
    model: Path | None = typer.Option(
        None,
        "--model",
        help="ONNX model to serve (default: $BONEFRAC_MODEL_PATH, else the shipped deploy/model/model.onnx).",
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0 in a container)."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, envvar="BONEFRAC_PORT", help="TCP port."),
    engine: str | None = typer.Option(
        None,
        "--engine",
        help=f"{ENGINE_HELP} Default: $BONEFRAC_ENGINE, else onnxruntime.",
    ),
) -> None:
    """Serve fracture detection over HTTP (the shipped model unless --model or BONEFRAC_MODEL_PATH).

    Routes: /v1/detect, /v1/detect/annotated, /v1/model, /healthz, /readyz, /metrics, /docs. Every other
    setting comes from BONEFRAC_* variables (see docs/serve.md); the audit database goes to the data folder
    ($BONEFRAC_DATA, default ~/.local/share/bonefrac)."""
    from bonefrac.card.record import card_path_for, read_model_card
    from bonefrac.infer.engines import check_engine
    from bonefrac.paths import choose_model, sqlite_folder
    from bonefrac.ports import ensure_port_free
    from bonefrac.serve.app import create_app
    from bonefrac.serve.json_logging import configure_service_logging
    from bonefrac.serve.server import run_server
    from bonefrac.serve.settings import load_settings

    chosen = choose_model(model)  # before anything is created: a refused start leaves nothing behind
    settings = load_settings(model_path=chosen.path, engine=None if engine is None else check_engine(engine))
    ensure_port_free(host, port, change=PORT_CHANGE)
    configure_service_logging(settings.log_json)
    with sqlite_folder(settings.audit_db_url):
        app = create_app(settings)
    card_file = card_path_for(settings.model_path)
    card = read_model_card(card_file) if card_file.is_file() else None
    if card is not None and card.stand_in:
        console.print(
            "[bold yellow]STAND-IN MODEL:[/] trained on synthetic images, not radiographs; "
            "its boxes mean nothing. For demonstration of the service only.",
            highlight=False,
        )
    if card is not None:
        classifier = (
            f"classifier {card.classifier.file} ({card.classifier.version})"
            if card.classifier
            else "no classifier"
        )
        console.print(
            f"model: {card.name} {card.version}, {classifier}; engine {settings.engine}", highlight=False
        )
    console.print(f"model file: {chosen.describe()}", highlight=False)
    auth = "API keys required" if settings.api_keys else "no API keys"
    console.print(
        f"bonefrac service: http://{host}:{port}  (docs http://{host}:{port}/docs; {settings.env}, {auth})",
        highlight=False,
    )
    run_server(app, settings, host, port)


def register(app: typer.Typer) -> None:
    """Add `serve` to the root app."""
    app.command("serve")(serve)
