"""`dashsignal regenerate`: bring the generated code in line with dashsignal.toml."""

from __future__ import annotations

from dashsignal_cli.commands._common import DryRunOption, ForceOption, ProjectOption, sync_project

EPILOG = (
    "Example: edit dashsignal.toml, then\n\n"
    "  dashsignal regenerate --dry-run\n\n"
    "  dashsignal regenerate"
)


def regenerate(
    project: ProjectOption = None, dry_run: DryRunOption = False, force: ForceOption = False
) -> None:
    """Bring the generated code in line with dashsignal.toml, keeping every edit of yours."""
    sync_project(project, None, dry_run=dry_run, force=force)
