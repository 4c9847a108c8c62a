"""The `dashsignal` command: composes the commands and turns typed errors into exit codes.

This is the only place that reports a `DashsignalError`: one red line saying what is wrong, one
line saying what to do, and the error's exit code. Heavy modules (Jinja, tomlkit, Rich rendering)
are imported inside the commands, so `dashsignal --help` starts fast.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer
from typer.core import TyperCommand, TyperGroup, TyperOption

from dashsignal_cli import __version__
from dashsignal_cli.commands import check, filters, graph, new, regenerate, stages, views
from dashsignal_cli.errors import DashsignalError

if TYPE_CHECKING:
    # Typer vendors click; its types are only needed to annotate the two overrides.
    from typer._click.core import Context, Parameter

__all__ = ["app", "main"]


def _plain_flags(params: list[Parameter]) -> list[Parameter]:
    """Flags show no `<bool>` type in the help: `--yes` takes no value."""
    for param in params:
        if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""
    return params


class _Command(TyperCommand):
    """Typer's command, with help as the README writes it: flags show no `<bool>` type, and
    the usage line names a required argument `NAME`, not `{NAME}`."""

    def get_params(self, ctx: Context) -> list[Parameter]:
        return _plain_flags(super().get_params(ctx))

    def collect_usage_pieces(self, ctx: Context) -> list[str]:
        return [
            piece[1:-1] if piece.startswith("{") and piece.endswith("}") else piece
            for piece in super().collect_usage_pieces(ctx)
        ]


class _Group(TyperGroup):
    """The root command: its flags (--version, --install-completion) without `<bool>` too."""

    def get_params(self, ctx: Context) -> list[Parameter]:
        return _plain_flags(super().get_params(ctx))


app = typer.Typer(
    name="dashsignal",
    cls=_Group,
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


app.command(name="new", cls=_Command, epilog=new.EPILOG)(new.new)
app.command(name="add-view", cls=_Command, epilog=views.ADD_EPILOG)(views.add_view)
app.command(name="remove-view", cls=_Command, epilog=views.REMOVE_EPILOG)(views.remove_view)
app.command(name="add-filter", cls=_Command, epilog=filters.ADD_EPILOG)(filters.add_filter)
app.command(name="remove-filter", cls=_Command, epilog=filters.REMOVE_EPILOG)(filters.remove_filter)
app.command(name="add-stage", cls=_Command, epilog=stages.ADD_EPILOG)(stages.add_stage)
app.command(name="remove-stage", cls=_Command, epilog=stages.REMOVE_EPILOG)(stages.remove_stage)
app.command(name="regenerate", cls=_Command, epilog=regenerate.EPILOG)(regenerate.regenerate)
app.command(name="check", cls=_Command, epilog=check.EPILOG)(check.check)
app.command(name="graph", cls=_Command, epilog=graph.EPILOG)(graph.graph)


def main(args: Sequence[str] | None = None) -> None:
    """Console-script entry point; `args` defaults to the command line (tests pass their own)."""
    try:
        app(args=args, prog_name="dashsignal")
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

    from dashsignal_cli.commands.console import err

    sys.stdout.flush()  # what was reported so far comes first when both streams are piped
    console = err()
    console.print(f"[bold red]error:[/] {escape(_one_line(error.message))}")
    hint = error.hint or "Run the command with --help to see how it is used."
    console.print(f"[dim]hint:[/] {escape(_one_line(hint))}")


def _one_line(text: str) -> str:
    return " ".join(text.split())
