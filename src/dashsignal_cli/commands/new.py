"""`dashsignal new`: read the flags, ask for the rest (or take the defaults), render, write."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dashsignal_cli.errors import NonInteractiveError
from dashsignal_cli.kinds import filter_kinds_help, filter_values_help, view_kinds_help

if TYPE_CHECKING:
    from dashsignal_cli.answers import NewProject
    from dashsignal_cli.spec import Spec

EPILOG = (
    "Examples:\n\n"
    "  dashsignal new myapp --yes\n\n"
    "  dashsignal new myapp --view sales:graph --view rows:table "
    "--filter region:dropdown=North,South --filter year:range=2019..2025 --cache redis --yes\n\n"
    "  dashsignal new myapp --stage daily --view trend:graph@daily --view forecast:graph@own "
    "--view ticker:indicator@live/10 --yes\n\n"
    "  dashsignal new myapp --pattern memoize --yes"
)

NameArgument = Annotated[
    str | None,
    typer.Argument(
        metavar="NAME",
        help="Project name: a Python identifier such as my_dashboard; also the folder "
        "created. Asked for when left out (in a terminal, without --yes).",
        show_default=False,
    ),
]
ViewsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--view",
        metavar="ID[:KIND][@SOURCE]",
        help=f"A view to create; repeat for more. KIND: {view_kinds_help()}. "
        "SOURCE, where its data comes from: query (default; the shared query), the id of a "
        "--stage, own (its own cached computation, in views/ID.py) or live or live/SECONDS "
        "(recomputed every SECONDS, default 5, not cached).",
        show_default=False,
    ),
]
StagesOption = Annotated[
    list[str] | None,
    typer.Option(
        "--stage",
        metavar="ID[:SOURCE]",
        help="A computed stage, derived in stages/ID.py from SOURCE: query (default) or "
        "another stage's id; views read it with --view VIEW@ID. Repeat for more.",
        show_default=False,
    ),
]
FiltersOption = Annotated[
    list[str] | None,
    typer.Option(
        "--filter",
        metavar="ID[:KIND][=VALUES]",
        help=f"A filter to create; repeat for more. KIND: {filter_kinds_help()}. "
        f"VALUES: {filter_values_help()}; demo values when left out.",
        show_default=False,
    ),
]
CacheOption = Annotated[
    str | None,
    typer.Option(
        "--cache",
        metavar="BACKEND",
        help="Cache backend: filesystem (default; several workers on one host), redis "
        "(several hosts), simple (one process, development), null (no caching).",
        show_default=False,
    ),
]
TimeoutOption = Annotated[
    int | None,
    typer.Option(
        "--timeout",
        metavar="SECONDS",
        help="Cache timeout in seconds; 0 keeps entries until they are evicted. Default: 300.",
        show_default=False,
    ),
]
TitleOption = Annotated[
    str | None,
    typer.Option(
        "--title",
        metavar="TEXT",
        help="Title shown in the dashboard's header. Default: from NAME.",
        show_default=False,
    ),
]
PatternOption = Annotated[
    str | None,
    typer.Option(
        "--pattern",
        metavar="PATTERN",
        help="signal (default): one compute callback runs the query and signals the views "
        "through a dcc.Store; memoize: each view's callback reads the memoized query itself, "
        "no signal store. Asked for only when the other answers are asked for too.",
        show_default=False,
    ),
]
DataOption = Annotated[
    str | None,
    typer.Option(
        "--data",
        metavar="SOURCE",
        help="Where the expensive query's rows come from: duckdb (default; SQL on an embedded "
        "DuckDB file, DUCKDB_DATABASE names another), sql (SQLAlchemy: DATABASE_URL, an "
        "embedded SQLite file without it), pandas (your own Python returns a DataFrame).",
        show_default=False,
    ),
]
AuthOption = Annotated[
    str | None,
    typer.Option(
        "--auth",
        metavar="MODE",
        help="Who may see the dashboard: none (default; anyone who reaches it), basic (the "
        "users of a users file, HTTP basic auth), proxy (the user a trusted reverse proxy names "
        "in a header), custom (your own auth.current_user decides). Never asked for.",
        show_default=False,
    ),
]
ScopeOption = Annotated[
    str | None,
    typer.Option(
        "--scope",
        metavar="SCOPE",
        help="Whose the query's results are: shared (default; one cached result per filter "
        "state for everyone), user (each signed-in user's own; needs --auth), session (each "
        "browser session's own). Never asked for.",
        show_default=False,
    ),
]
BackgroundOption = Annotated[
    bool,
    typer.Option(
        "--background",
        help="Run the compute step as a Dash background callback, for queries that take "
        "longer than a request should (diskcache on one host, Celery with the redis backend).",
    ),
]
YesOption = Annotated[
    bool,
    typer.Option(
        "--yes",
        "-y",
        help="Ask nothing: take the defaults for anything not given by a flag. With no other "
        "flag this is a full demo: 3 filters, 2 charts, a table and an indicator.",
    ),
]
DirectoryOption = Annotated[
    Path,
    typer.Option(
        "--directory",
        "-C",
        metavar="DIR",
        help="Where to create the project folder.",
        file_okay=False,
    ),
]


def new(
    name: NameArgument = None,
    views: ViewsOption = None,
    stages: StagesOption = None,
    filters: FiltersOption = None,
    cache: CacheOption = None,
    timeout: TimeoutOption = None,
    title: TitleOption = None,
    pattern: PatternOption = None,
    data: DataOption = None,
    auth: AuthOption = None,
    scope: ScopeOption = None,
    background: BackgroundOption = False,
    yes: YesOption = False,
    directory: DirectoryOption = Path(),
) -> None:
    """Create a new Dash project that uses the signaling pattern."""
    from dashsignal_cli.answers import NewProject
    from dashsignal_cli.sync import new_project_files
    from dashsignal_cli.writer import create_project

    _refuse_a_missing_name(name, yes=yes)
    request = NewProject.from_flags(
        name,
        title=title,
        pattern=pattern,
        background=background,
        cache=cache,
        timeout=timeout,
        filters=filters,
        stages=stages,
        views=views,
        data=data,
        auth=auth,
        scope=scope,
    )
    interactive = _needs_prompts(request, directory, yes=yes)
    if interactive:
        from dashsignal_cli.commands.prompts import ask_new_project

        request = ask_new_project(request, directory)
    spec = request.spec()
    target = directory / spec.app.name
    if interactive:
        _confirm_or_exit(spec, directory)
    written = create_project(target, new_project_files(spec))

    from dashsignal_cli.commands.report import report_created

    report_created(target, written)


def _refuse_a_missing_name(name: str | None, *, yes: bool) -> None:
    if name is None and (yes or not sys.stdin.isatty()):
        why = "--yes asks nothing" if yes else "standard input is not a terminal"
        raise NonInteractiveError(
            f"missing argument NAME: {why}, so dashsignal cannot ask for the project's name",
            hint="Give the name first: dashsignal new NAME [OPTIONS], e.g. dashsignal new "
            "my_dashboard --yes.",
        )


def _needs_prompts(request: NewProject, directory: Path, *, yes: bool) -> bool:
    """True when answers are to be asked for; refused when standard input cannot answer."""
    from dashsignal_cli.writer import check_target_free

    if request.name is not None:
        check_target_free(directory / request.name)
    missing = request.unanswered()
    interactive = request.name is None or (bool(missing) and not yes)
    if interactive and not sys.stdin.isatty():
        raise NonInteractiveError(
            "standard input is not a terminal, so dashsignal cannot ask for " + ", ".join(missing),
            hint="Pass --yes to take the defaults, or give " + " ".join(missing) + ".",
        )
    return interactive


def _confirm_or_exit(spec: Spec, directory: Path) -> None:
    """Show what will be created; when declined, print the command that makes it, exit 1."""
    from dashsignal_cli.commands.prompts import confirm_write

    if not confirm_write(spec, directory / spec.app.name):
        from dashsignal_cli.answers import command_line
        from dashsignal_cli.commands.report import report_declined

        report_declined(command_line(spec, directory))
        raise typer.Exit(1)
