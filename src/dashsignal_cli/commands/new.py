"""`dashsignal new`: ask (or read flags), validate, render, write, report."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from dashsignal_cli.errors import NonInteractiveError, UsageError

EPILOG = (
    "Examples:\n\n"
    "  dashsignal new myapp --yes\n\n"
    "  dashsignal new myapp --view sales:graph --view rows:table "
    "--filter region:dropdown=North,South --filter year:range=2019..2025 --cache redis --yes\n\n"
    "  dashsignal new myapp --stage daily --view trend:graph@daily --view forecast:graph@own "
    "--view ticker:indicator@live/10 --yes\n\n"
    "  dashsignal new myapp --pattern memoize --yes"
)


def new(
    name: Annotated[
        str | None,
        typer.Argument(
            metavar="NAME",
            help="Project name: a Python identifier such as my_dashboard; also the folder "
            "created. Asked for when left out (in a terminal, without --yes).",
            show_default=False,
        ),
    ] = None,
    views: Annotated[
        list[str] | None,
        typer.Option(
            "--view",
            metavar="ID[:KIND][@SOURCE]",
            help="A view to create; repeat for more. KIND: graph (default), table, indicator. "
            "SOURCE, where its data comes from: query (default; the shared query), the id of a "
            "--stage, own (its own cached computation, in views/ID.py) or live or live/SECONDS "
            "(recomputed every SECONDS, default 5, not cached).",
            show_default=False,
        ),
    ] = None,
    stages: Annotated[
        list[str] | None,
        typer.Option(
            "--stage",
            metavar="ID[:SOURCE]",
            help="A computed stage, derived in stages/ID.py from SOURCE: query (default) or "
            "another stage's id; views read it with --view VIEW@ID. Repeat for more.",
            show_default=False,
        ),
    ] = None,
    filters: Annotated[
        list[str] | None,
        typer.Option(
            "--filter",
            metavar="ID[:KIND][=VALUES]",
            help=(
                "A filter to create; repeat for more. KIND: dropdown (default), multi, checklist, "
                "radio, range, dates. VALUES: A,B,C for choices, MIN..MAX for range, "
                "YYYY-MM-DD..YYYY-MM-DD for dates; demo values when left out."
            ),
            show_default=False,
        ),
    ] = None,
    cache: Annotated[
        str | None,
        typer.Option(
            "--cache",
            metavar="BACKEND",
            help="Cache backend: filesystem (default; several workers on one host), redis "
            "(several hosts), simple (one process, development), null (no caching).",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        int | None,
        typer.Option(
            "--timeout",
            metavar="SECONDS",
            help="Cache timeout in seconds; 0 keeps entries until they are evicted. Default: 300.",
            show_default=False,
        ),
    ] = None,
    title: Annotated[
        str | None,
        typer.Option(
            "--title",
            metavar="TEXT",
            help="Title shown in the dashboard's header. Default: from NAME.",
            show_default=False,
        ),
    ] = None,
    pattern: Annotated[
        str | None,
        typer.Option(
            "--pattern",
            metavar="PATTERN",
            help="signal (default): one compute callback runs the query and signals the views "
            "through a dcc.Store; memoize: each view's callback reads the memoized query itself, "
            "no signal store. Asked for only when the other answers are asked for too.",
            show_default=False,
        ),
    ] = None,
    background: Annotated[
        bool,
        typer.Option(
            "--background",
            help="Run the compute step as a Dash background callback, for queries that take "
            "longer than a request should (diskcache on one host, Celery with the redis backend).",
        ),
    ] = False,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes",
            "-y",
            help="Ask nothing: take the defaults for anything not given by a flag. With no other "
            "flag this is a full demo: 3 filters, 2 charts, a table and an indicator.",
        ),
    ] = False,
    directory: Annotated[
        Path,
        typer.Option(
            "--directory",
            "-C",
            metavar="DIR",
            help="Where to create the project folder.",
            file_okay=False,
        ),
    ] = Path(),
) -> None:
    """Create a new Dash project that uses the signaling pattern."""
    from dashsignal_cli.answers import (
        DEFAULT_FILTERS,
        DEFAULT_VIEWS,
        build_spec_data,
        check_pattern,
        check_sources,
        parse_filter_arg,
        parse_stage_arg,
        parse_view_arg,
    )
    from dashsignal_cli.spec import check_project_name, spec_from_data
    from dashsignal_cli.sync import new_project_files
    from dashsignal_cli.writer import check_target_free, create_project

    if name is None and (yes or not sys.stdin.isatty()):
        why = "--yes asks nothing" if yes else "standard input is not a terminal"
        raise NonInteractiveError(
            f"missing argument NAME: {why}, so dashsignal cannot ask for the project's name",
            hint="Give the name first: dashsignal new NAME [OPTIONS], e.g. dashsignal new "
            "my_dashboard --yes.",
        )
    if name is not None:
        check_project_name(name)
        check_target_free(directory / name)
    if cache is not None:
        _check_backend(cache)
    if pattern is not None:
        check_pattern(pattern)
        if background and pattern != "signal":
            raise UsageError(
                f"--background needs --pattern signal, not {pattern}",
                hint="The memoize pattern has no compute step to run in the background: "
                "leave out --background or --pattern.",
            )
    stage_tables = [parse_stage_arg(s) for s in stages or []]

    missing = [
        flag for flag, value in _prompted(views, filters, cache, timeout, title) if value is None
    ]
    interactive = name is None or (bool(missing) and not yes)
    if interactive and not sys.stdin.isatty():
        raise NonInteractiveError(
            "standard input is not a terminal, so dashsignal cannot ask for " + ", ".join(missing),
            hint="Pass --yes to take the defaults, or give " + " ".join(missing) + ".",
        )

    answers: dict[str, Any]
    if interactive:
        from dashsignal_cli.commands.prompts import ask_new_project, ask_project_name

        if name is None:
            name = ask_project_name(directory)
        answers = ask_new_project(
            name,
            views=views,
            filters=filters,
            cache=cache,
            timeout=timeout,
            title=title,
            # A background compute step needs the signal pattern: nothing to ask then.
            pattern=pattern or ("signal" if background else None),
            stages=stage_tables,
        )
    else:
        answers = {
            "views": [parse_view_arg(v) for v in (views or DEFAULT_VIEWS)],
            "filters": [parse_filter_arg(f) for f in (filters or DEFAULT_FILTERS)],
            "backend": cache or "filesystem",
            "timeout": 300 if timeout is None else timeout,
            "title": title,
            "pattern": pattern or "signal",
        }
    assert name is not None  # asked for above, or refused
    target = directory / name
    check_sources(answers["views"], stage_tables)
    spec = spec_from_data(
        build_spec_data(name=name, background=background, stages=stage_tables, **answers)
    )

    if interactive:
        from dashsignal_cli.commands.prompts import confirm_write

        if not confirm_write(spec, target):
            from dashsignal_cli.answers import command_line
            from dashsignal_cli.commands.report import report_declined

            report_declined(command_line(spec, directory))
            raise typer.Exit(1)

    written = create_project(target, new_project_files(spec))

    from dashsignal_cli.commands.report import report_created

    report_created(target, written)


def _prompted(
    views: list[str] | None,
    filters: list[str] | None,
    cache: str | None,
    timeout: int | None,
    title: str | None,
) -> list[tuple[str, object]]:
    return [
        ("--view", views),
        ("--filter", filters),
        ("--cache", cache),
        ("--timeout", timeout),
        ("--title", title),
    ]


def _check_backend(backend: str) -> None:
    from dashsignal_cli.spec import CACHE_BACKENDS

    if backend not in CACHE_BACKENDS:
        raise UsageError(f"unknown cache backend {backend!r}; allowed: {', '.join(CACHE_BACKENDS)}")
