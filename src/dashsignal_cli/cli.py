"""The `dashsignal` command: composes the commands and turns typed errors into exit codes.

This is the only place that reports a `DashsignalError`: one red line saying what is wrong, one
line saying what to do, and the error's exit code. Heavy modules (Jinja, tomlkit, Rich rendering)
are imported inside the commands, so `dashsignal --help` starts fast; and a command line that
names a command runs an app of that command only, so `dashsignal new` does not pay for
building the nine others.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Sequence
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


def _version(value: bool) -> None:
    if value:
        print(f"dashsignal {__version__}")
        raise typer.Exit()


def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Generate and grow Plotly Dash projects built on a correct signaling pattern."""


# Each command's function and epilog, in the order of `dashsignal --help`.
_COMMANDS: dict[str, tuple[Callable[..., None], str]] = {
    "new": (new.new, new.EPILOG),
    "add-view": (views.add_view, views.ADD_EPILOG),
    "remove-view": (views.remove_view, views.REMOVE_EPILOG),
    "add-filter": (filters.add_filter, filters.ADD_EPILOG),
    "remove-filter": (filters.remove_filter, filters.REMOVE_EPILOG),
    "add-stage": (stages.add_stage, stages.ADD_EPILOG),
    "remove-stage": (stages.remove_stage, stages.REMOVE_EPILOG),
    "regenerate": (regenerate.regenerate, regenerate.EPILOG),
    "check": (check.check, check.EPILOG),
    "graph": (graph.graph, graph.EPILOG),
}


def _compose(names: Iterable[str]) -> typer.Typer:
    """The `dashsignal` app with the commands `names`."""
    composed = typer.Typer(
        name="dashsignal",
        cls=_Group,
        help="Generate and grow Plotly Dash projects built on a correct signaling pattern.",
        no_args_is_help=True,
        add_completion=True,
        pretty_exceptions_enable=False,
    )
    composed.callback()(_root)
    for name in names:
        function, epilog = _COMMANDS[name]
        composed.command(name=name, cls=_Command, epilog=epilog)(function)
    return composed


# Every command: what `--help` lists (and what the tests drive).
app = _compose(_COMMANDS)


def _app_for(args: Sequence[str]) -> typer.Typer:
    """Only the command `args` start with, when they start with one and no shell completion is
    asked for; every command otherwise (`--help`, an unknown command and its suggestions).

    Typer builds every command of the app it runs, about 2 ms apiece: `new` alone is one.
    """
    if args and args[0] in _COMMANDS and "_DASHSIGNAL_COMPLETE" not in os.environ:
        return _compose([args[0]])
    return app


def main(args: Sequence[str] | None = None) -> None:
    """Console-script entry point; `args` defaults to the command line (tests pass their own)."""
    argv = sys.argv[1:] if args is None else list(args)
    try:
        _app_for(argv)(args=argv, prog_name="dashsignal")
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
