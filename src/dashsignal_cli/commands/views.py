"""`dashsignal add-view` and `remove-view`."""

from __future__ import annotations

from typing import Annotated

import typer

from dashsignal_cli.commands._common import DryRunOption, ForceOption, ProjectOption, sync_project
from dashsignal_cli.kinds import DEFAULT_VIEW_KIND, view_kinds_help

ADD_EPILOG = (
    "Examples:\n\n  dashsignal add-view chart3\n\n"
    '  dashsignal add-view rows --kind table --title "Latest rows"\n\n'
    "  dashsignal add-view trend --source daily\n\n"
    "  dashsignal add-view forecast --source own\n\n"
    "  dashsignal add-view ticker --kind indicator --source live --interval 10"
)
REMOVE_EPILOG = "Example:\n\n  dashsignal remove-view chart3 --dry-run"


def add_view(
    view_id: Annotated[str, typer.Argument(metavar="ID", help="The new view's id, e.g. chart3.")],
    kind: Annotated[
        str,
        typer.Option(
            "--kind", "-k", metavar="KIND", help=view_kinds_help(marked=False, last=" or ") + "."
        ),
    ] = DEFAULT_VIEW_KIND,
    title: Annotated[
        str | None,
        typer.Option("--title", metavar="TEXT", help="The card's title. Default: from ID."),
    ] = None,
    source: Annotated[
        str,
        typer.Option(
            "--source",
            "-s",
            metavar="SOURCE",
            help="Where the view's data comes from: query (the shared query), the id of a stage, "
            "own (its own cached computation, compute() in views/ID.py) or live (recomputed on "
            "an interval, not cached).",
        ),
    ] = "query",
    interval: Annotated[
        str | None,
        typer.Option(
            "--interval",
            metavar="SECONDS",
            help="Seconds between refreshes of a live view (0.5 to 86400). Default: 5.",
        ),
    ] = None,
    project: ProjectOption = None,
    dry_run: DryRunOption = False,
    force: ForceOption = False,
) -> None:
    """Add a view: its entry in dashsignal.toml, its module views/ID.py, its consumer callback."""
    from dashsignal_cli.answers import view_from_flags
    from dashsignal_cli.spec_edit import AddEntry

    entry = view_from_flags(view_id, kind, title=title, source=source, interval=interval)
    sync_project(project, AddEntry(entry), dry_run=dry_run, force=force)


def remove_view(
    view_id: Annotated[str, typer.Argument(metavar="ID", help="The id of the view to remove.")],
    project: ProjectOption = None,
    dry_run: DryRunOption = False,
    force: ForceOption = False,
) -> None:
    """Remove a view from dashsignal.toml and its wiring; its module views/ID.py stays yours."""
    from dashsignal_cli.spec_edit import RemoveEntry

    sync_project(project, RemoveEntry("views", view_id), dry_run=dry_run, force=force)
