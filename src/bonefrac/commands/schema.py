"""`bonefrac schema`: the JSON Schema of one image's result (predict's JSON, /v1/detect, the UI download)."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def schema(
    out: Path | None = typer.Option(None, "--out", help="Write the schema to this file instead of stdout."),
) -> None:
    """Print the JSON Schema of one image's result, the document predict, the API and the UI all give."""
    from bonefrac.infer.result_schema import result_json_schema

    text = json.dumps(result_json_schema(), indent=2) + "\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}", err=True)


def register(app: typer.Typer) -> None:
    """Add `schema` to the root app."""
    app.command("schema")(schema)
