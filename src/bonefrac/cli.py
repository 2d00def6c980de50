"""The `bonefrac` command line: one typer app; the only place that turns errors into exit codes."""

from __future__ import annotations

import logging
import sys

import typer
from rich.console import Console

from bonefrac import __version__
from bonefrac.commands import card as card_commands
from bonefrac.commands import classify as classify_commands
from bonefrac.commands import data as data_commands
from bonefrac.commands import dicom as dicom_commands
from bonefrac.commands import evaluate as evaluate_commands
from bonefrac.commands import imaging as imaging_commands
from bonefrac.commands import infer as infer_commands
from bonefrac.commands import serve as serve_commands
from bonefrac.commands import train as train_commands
from bonefrac.commands.ui import ui as ui_command
from bonefrac.errors import BonefracError
from bonefrac.logging_setup import configure_logging

app = typer.Typer(
    name="bonefrac",
    help="Find bone fractures on radiographs: check data, train YOLO11, evaluate clinically, export, serve.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(data_commands.app, name="data")
app.add_typer(classify_commands.app, name="classify")
evaluate_commands.register(app)
card_commands.register(app)
infer_commands.register(app)
app.add_typer(imaging_commands.app, name="image")
app.command("ui")(ui_command)
app.command("serve")(serve_commands.serve)
app.add_typer(dicom_commands.app, name="dicom")
train_commands.register(app)

error_console = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"bonefrac {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show debug logs."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
) -> None:
    configure_logging(verbose)


def main() -> None:
    """Console-script entry: run the app, turning library errors into a message and an exit code."""
    try:
        code = app(standalone_mode=False)  # typer.Exit(n) and Ctrl-C (130) come back as a return value
        if isinstance(code, int) and code:
            sys.exit(code)
    except BonefracError as exc:
        error_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        error_console.print("aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        logging.getLogger(__name__).warning("interrupted")
        sys.exit(130)
    except Exception as exc:  # click usage errors carry their own exit code
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
