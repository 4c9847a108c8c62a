"""`dashsignal add-stage` and `remove-stage`."""

from __future__ import annotations

from typing import Annotated

import typer

from dashsignal_cli.commands._common import DryRunOption, ForceOption, ProjectOption, sync_project

ADD_EPILOG = (
    "Examples:\n\n  dashsignal add-stage daily\n\n"
    '  dashsignal add-stage weekly --source daily --title "Weekly totals"\n\n'
    "  then: dashsignal add-view trend --source weekly"
)
REMOVE_EPILOG = "Example:\n\n  dashsignal remove-stage weekly --dry-run"


def add_stage(
    stage_id: Annotated[str, typer.Argument(metavar="ID", help="The new stage's id, e.g. daily.")],
    source: Annotated[
        str,
        typer.Option(
            "--source",
            "-s",
            metavar="SOURCE",
            help='What it derives from: "query" (the shared query) or another stage\'s id.',
        ),
    ] = "query",
    title: Annotated[
        str | None,
        typer.Option("--title", metavar="TEXT", help="What the stage computes. Default: from ID."),
    ] = None,
    project: ProjectOption = None,
    dry_run: DryRunOption = False,
    force: ForceOption = False,
) -> None:
    """Add a computed stage: its entry in dashsignal.toml and its module stages/ID.py."""
    from dashsignal_cli.answers import stage_from_flags
    from dashsignal_cli.spec_edit import AddEntry

    entry = stage_from_flags(stage_id, source, title)
    sync_project(project, AddEntry(entry), dry_run=dry_run, force=force)


def remove_stage(
    stage_id: Annotated[str, typer.Argument(metavar="ID", help="The id of the stage to remove.")],
    project: ProjectOption = None,
    dry_run: DryRunOption = False,
    force: ForceOption = False,
) -> None:
    """Remove a stage no view or stage reads; its module stages/ID.py stays yours."""
    from dashsignal_cli.spec_edit import RemoveEntry

    sync_project(project, RemoveEntry("stages", stage_id), dry_run=dry_run, force=force)
