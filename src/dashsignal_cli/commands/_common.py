"""Options and the run loop shared by the commands that change a project."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from dashsignal_cli.sync import SpecChange, SyncPlan

ProjectOption = Annotated[
    Path | None,
    typer.Option(
        "--project",
        "-p",
        metavar="PATH",
        help="The project folder. Default: the nearest folder with a dashsignal.toml, from "
        "here up.",
        show_default=False,
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
    project: Path | None,
    change: SpecChange | None,
    *,
    dry_run: bool,
    force: bool,
    after: Callable[[SyncPlan], None] | None = None,
) -> SyncPlan:
    """Change the spec (if asked), plan, write (unless a dry run), report; exit 3 on conflicts.

    `after` reports what the command adds to the plan's report, before a conflict's error.
    """
    from dashsignal_cli.commands.report import report_plan
    from dashsignal_cli.errors import ConflictError
    from dashsignal_cli.sync import plan_sync
    from dashsignal_cli.writer import apply_plan, check_plan_inside, project_lock

    root = find_project_root(project)
    with project_lock(root):
        if dry_run:
            refuse_pending_write(root)
        else:
            recover_project(root)
        result = plan_sync(root, change=change, force=force)
        check_plan_inside(root, result.plan)
        if not dry_run and not result.plan.touches_nothing:
            apply_plan(root, result.plan)
    report_plan(result.plan, dry_run=dry_run, then=after and (lambda: after(result)))
    if result.plan.conflicts:
        raise ConflictError([c.path for c in result.plan.conflicts], written=not dry_run)
    return result


def find_project_root(project: Path | None) -> Path:
    """The project of `--project`, or the nearest one from the current folder up."""
    from dashsignal_cli.project import find_project

    return find_project(project, Path.cwd())


def recover_project(root: Path) -> None:
    """Finish or undo a write an earlier command left unfinished, and say so (on stderr)."""
    from dashsignal_cli.commands.report import report_recovery
    from dashsignal_cli.writer import recover

    recovery = recover(root)
    if recovery is not None:
        report_recovery(recovery)


def refuse_pending_write(root: Path) -> None:
    """A dry run changes nothing, so it cannot finish an interrupted write: say what to do."""
    from dashsignal_cli.errors import DashsignalError
    from dashsignal_cli.project import pending_journal

    journal = pending_journal(root)
    if journal is not None:
        raise DashsignalError(
            f"{journal}: an earlier command was interrupted while writing the project, and a "
            "dry run changes nothing, so it cannot finish that write",
            hint="Run `dashsignal regenerate` (or any command without --dry-run): it finishes "
            "or undoes that write first.",
        )
