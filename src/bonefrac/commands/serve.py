"""`bonefrac serve`: the HTTP service (FastAPI + uvicorn) over an ONNX model."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

console = Console(stderr=True)


def serve(
    model: Path | None = typer.Option(
        None, "--model", help="ONNX model to serve (default: $BONEFRAC_MODEL_PATH, else model.onnx)."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0 in a container)."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port."),
) -> None:
    """Serve fracture detection over HTTP: /v1/detect, /v1/detect/annotated, /v1/model, /healthz, /readyz,
    /metrics, /docs. Every other setting comes from BONEFRAC_* variables (see docs/serve.md)."""
    from bonefrac.card.record import card_path_for, read_model_card
    from bonefrac.serve.app import create_app
    from bonefrac.serve.json_logging import configure_service_logging
    from bonefrac.serve.server import run_server
    from bonefrac.serve.settings import load_settings

    settings = load_settings(model_path=model)
    configure_service_logging(settings.log_json)
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
            f"model: {card.name} {card.version} ({settings.model_path}), {classifier}", highlight=False
        )
    auth = "API keys required" if settings.api_keys else "no API keys"
    console.print(
        f"bonefrac service: http://{host}:{port}  (docs http://{host}:{port}/docs; {settings.env}, {auth})",
        highlight=False,
    )
    run_server(app, settings, host, port)
