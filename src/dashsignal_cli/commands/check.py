"""`dashsignal check`: is the project valid, in line with its spec, and safe? For CI."""

from __future__ import annotations

from dashsignal_cli.commands._common import ProjectOption

EPILOG = "Example (in CI):\n\n  dashsignal check --project ."


def check(project: ProjectOption = None) -> None:
    """Report anything off and exit non-zero: invalid spec, stale or hand-edited generated code,
    modules of removed views, risky configuration."""
    from pathlib import Path

    from dashsignal_cli.checks import find_problems
    from dashsignal_cli.errors import CheckFailed
    from dashsignal_cli.project import find_project
    from dashsignal_cli.report import report_check
    from dashsignal_cli.sync import plan_sync

    findings = find_problems(plan_sync(find_project(project, Path.cwd())))
    report_check(findings)
    if findings:
        raise CheckFailed(
            f"{len(findings)} problem(s) found",
            hint="`dashsignal regenerate` fixes what is out of date; the rest needs your decision.",
        )
