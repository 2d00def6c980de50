"""The `bonefrac` command line: one typer app; the only place that turns errors into exit codes."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from types import ModuleType

import typer
from rich.console import Console
from typer.core import TyperGroup

from bonefrac import __version__
from bonefrac.commands import (
    bench,
    card,
    classify,
    compare,
    data,
    dicom,
    evaluate,
    export,
    imaging,
    predict,
    schema,
    serve,
    train,
    ui,
)
from bonefrac.errors import BonefracError
from bonefrac.logging_setup import configure_logging

# Pipeline order: `bonefrac --help` lists the commands as each module registers them, in this order.
COMMAND_MODULES: tuple[ModuleType, ...] = (
    data,  # data
    train,  # train, experiment, runs
    evaluate,  # evaluate
    export,  # export
    predict,  # predict
    serve,  # serve
    ui,  # ui
    dicom,  # dicom listen, dicom process
    classify,  # classify
    compare,  # compare
    card,  # model-card
    imaging,  # image
    bench,  # bench
    schema,  # schema
)


def _registered_names(app: typer.Typer) -> list[str]:
    commands = [str(info.name) for info in app.registered_commands]
    return commands + [str(info.name) for info in app.registered_groups]


def register_commands(app: typer.Typer, modules: Sequence[ModuleType]) -> tuple[str, ...]:
    """Let each module add its commands (`register(app)`); the names in the order they came."""
    order: list[str] = []
    for module in modules:
        module.register(app)
        order += [name for name in _registered_names(app) if name not in order]
    return tuple(order)


class PipelineOrderGroup(TyperGroup):
    """The root group: commands and command groups listed in registration order (typer puts groups last)."""

    def list_commands(self, ctx: typer.Context) -> list[str]:  # type: ignore[override]
        rank = {name: index for index, name in enumerate(COMMAND_ORDER)}
        return sorted(super().list_commands(ctx), key=lambda name: rank.get(name, len(rank)))


app = typer.Typer(
    name="bonefrac",
    help="Find bone fractures on radiographs: check data, train, evaluate, export, predict, serve.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=PipelineOrderGroup,
)
COMMAND_ORDER = register_commands(app, COMMAND_MODULES)

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
