"""`dashsignal check`: is the project valid, in line with its spec, and safe? For CI."""

from __future__ import annotations

from typing import Annotated

import typer

from dashsignal_cli.commands._common import ProjectOption

EPILOG = "Examples (in CI):\n\n  dashsignal check --project .\n\n  dashsignal check --json | jq ."


def check(
    project: ProjectOption = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help='Print {"ok": ..., "problems": [{"code", "path", "message"}]} for scripts; '
            "the exit code is the same.",
        ),
    ] = False,
) -> None:
    """Exit non-zero with a report when the project is off its spec, edited, or risky.

    Checks that the spec is valid and the generated code in line with it;
    that no generated file was edited by hand, and no module of yours belongs to a removed entry;
    that each module of yours has what the wiring calls: render() of its view's kind,
    derive() for a stage, compute() for an own or a live view; that the cache is not risky.
    """
    from pathlib import Path

    from dashsignal_cli.checks import Finding, find_problems
    from dashsignal_cli.errors import CheckFailed, DashsignalError
    from dashsignal_cli.project import find_project
    from dashsignal_cli.report import report_check, report_check_json
    from dashsignal_cli.sync import plan_sync

    root = find_project(project, Path.cwd())
    try:
        findings = find_problems(plan_sync(root))
    except DashsignalError as error:
        if not as_json:
            raise
        findings = [Finding("invalid-spec", "dashsignal.toml", error.message)]
    if as_json:
        report_check_json(findings)
        if findings:
            raise typer.Exit(1)
        return
    report_check(findings)
    if findings:
        raise CheckFailed(
            f"{len(findings)} problem(s) found",
            hint="`dashsignal regenerate` fixes what is out of date; the rest needs your decision.",
        )
