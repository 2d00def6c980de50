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


def usage_line(exc: typer.TyperException) -> str:
    """A usage error (unknown command or option, missing or bad value) as one plain line: the command, what
    was wrong (with typer's closest valid choice when it offers one) and where the options are listed."""
    ctx = getattr(exc, "ctx", None)
    command = getattr(ctx, "command_path", "") or "bonefrac"
    message = " ".join(exc.format_message().split())
    return f"error: {command}: {message} (see '{command} --help')"


def main() -> None:
    """Console-script entry: run the app; library errors and usage errors end in one line and an exit code.

    typer (>= 0.29) carries its own copy of click, so its usage errors derive from `typer.TyperException`,
    not from `click.ClickException`."""
    try:
        # typer.Exit(n) and Ctrl-C (130) come back as a return value
        code = app(prog_name="bonefrac", standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except BonefracError as exc:
        error_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        error_console.print("aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        logging.getLogger(__name__).warning("interrupted")
        sys.exit(130)
    except typer.TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # a group called alone: its help, as click shows it
            print(exc.format_message(), file=sys.stderr)
        else:
            print(usage_line(exc), file=sys.stderr)
        sys.exit(exc.exit_code)
