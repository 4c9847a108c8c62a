"""Options and the run loop shared by the commands that change a project."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

ProjectOption = Annotated[
    Path | None,
    typer.Option(
        "--project",
        "-p",
        metavar="PATH",
        help="The project folder.",
        show_default="the nearest folder with a dashsignal.toml, from here up",
        file_okay=False,
    ),
]
DryRunOption = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        help="Show what would be created, updated, deleted or would conflict, with diffs; "
        "change nothing.",
    ),
]
ForceOption = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Where your edits to a generated file clash with the new version, replace the file "
        "instead of writing conflict markers, after saving a backup copy (named in the report).",
    ),
]


def sync_project(
    project: Path | None, edit: Callable[[str], str] | None, *, dry_run: bool, force: bool
) -> None:
    """Edit the spec (if asked), plan, write (unless a dry run), report; exit 3 on conflicts."""
    from dashsignal_cli.errors import ConflictError
    from dashsignal_cli.project import find_project
    from dashsignal_cli.report import report_plan
    from dashsignal_cli.sync import plan_sync
    from dashsignal_cli.writer import apply_plan

    root = find_project(project, Path.cwd())
    result = plan_sync(root, edit, force=force)
    if not dry_run and not result.plan.touches_nothing:
        apply_plan(root, result.plan)
    report_plan(result.plan, dry_run=dry_run)
    if result.plan.conflicts:
        raise ConflictError([c.path for c in result.plan.conflicts], written=not dry_run)
