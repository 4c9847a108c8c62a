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
    derive() for a stage, compute() for an own or a live view; that the cache is not risky;
    that no write was interrupted (one is finished or undone first, and reported), no
    temporary file is left over, and no path leads outside the project through a link.
    """
    from dashsignal_cli.checks import Finding, find_problems
    from dashsignal_cli.commands._common import find_project_root
    from dashsignal_cli.errors import CheckFailed, DashsignalError, InterruptedWriteError
    from dashsignal_cli.report import report_check, report_check_json
    from dashsignal_cli.sync import plan_sync
    from dashsignal_cli.writer import project_lock, recover

    root = find_project_root(project)
    findings: list[Finding] = []
    with project_lock(root):
        try:
            # Like every command, check first finishes or undoes an interrupted write, so that
            # what it checks is one whole state; then it reports that there was one.
            recovery = recover(root)
            if recovery is not None:
                findings.append(Finding("interrupted", ".dashsignal/", recovery.summary))
            findings.extend(find_problems(plan_sync(root)))
        except InterruptedWriteError as error:
            if not as_json:
                raise
            findings.append(Finding("interrupted", ".dashsignal/", error.message))
        except DashsignalError as error:
            if not as_json:
                raise
            findings.append(Finding("invalid-spec", "dashsignal.toml", error.message))
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
