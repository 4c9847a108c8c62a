"""The `dashsignal` command: composes the commands and turns typed errors into exit codes.

This is the only place that reports a `DashsignalError`: one red line saying what is wrong, one
line saying what to do, and the error's exit code. Heavy modules (Jinja, tomlkit, Rich rendering)
are imported inside the commands, so `dashsignal --help` starts fast.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from dashsignal_cli import __version__
from dashsignal_cli.commands import check, filters, graph, new, regenerate, stages, views
from dashsignal_cli.errors import DashsignalError

__all__ = ["app", "main"]

app = typer.Typer(
    name="dashsignal",
    help="Generate and grow Plotly Dash projects built on a correct signaling pattern.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        print(f"dashsignal {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Generate and grow Plotly Dash projects built on a correct signaling pattern."""


app.command(name="new", epilog=new.EPILOG)(new.new)
app.command(name="add-view", epilog=views.ADD_EPILOG)(views.add_view)
app.command(name="remove-view", epilog=views.REMOVE_EPILOG)(views.remove_view)
app.command(name="add-filter", epilog=filters.ADD_EPILOG)(filters.add_filter)
app.command(name="remove-filter", epilog=filters.REMOVE_EPILOG)(filters.remove_filter)
app.command(name="add-stage", epilog=stages.ADD_EPILOG)(stages.add_stage)
app.command(name="remove-stage", epilog=stages.REMOVE_EPILOG)(stages.remove_stage)
app.command(name="regenerate", epilog=regenerate.EPILOG)(regenerate.regenerate)
app.command(name="check", epilog=check.EPILOG)(check.check)
app.command(name="graph", epilog=graph.EPILOG)(graph.graph)


def main() -> None:
    """Console-script entry point."""
    try:
        app(prog_name="dashsignal")
    except DashsignalError as error:
        report_error(error)
        raise SystemExit(error.exit_code) from None
    except OSError as error:
        # The library turns the file system errors it expects into a WriteError; one it did not
        # expect still gets the one line and hint every user error gets, never a traceback.
        report_error(_os_error(error))
        raise SystemExit(1) from None


def _os_error(error: OSError) -> DashsignalError:
    where = f" {error.filename}" if error.filename else ""
    return DashsignalError(
        f"cannot access{where}: {error.strerror or error}",
        hint="Check the path, its permissions and the free disk space, then run the command again.",
    )


def report_error(error: DashsignalError) -> None:
    """Print an error as one line, and its hint as a second."""
    from rich.markup import escape

    from dashsignal_cli.console import err

    sys.stdout.flush()  # what was reported so far comes first when both streams are piped
    console = err()
    console.print(f"[bold red]error:[/] {escape(_one_line(error.message))}")
    hint = error.hint or "Run the command with --help to see how it is used."
    console.print(f"[dim]hint:[/] {escape(_one_line(hint))}")


def _one_line(text: str) -> str:
    return " ".join(text.split())
