"""`dashsignal graph`: the project's data flow, as a tree, a Mermaid diagram or JSON."""

from __future__ import annotations

from typing import Annotated

import typer

from dashsignal_cli.commands._common import ProjectOption

EPILOG = (
    "Examples:\n\n  dashsignal graph\n\n"
    "  dashsignal graph --format mermaid >> README.md\n\n"
    "  dashsignal graph --format json | jq '.views | map({id, source, inputs})'"
)


def graph(
    project: ProjectOption = None,
    output_format: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            metavar="FORMAT",
            help="tree (Rich, for people), mermaid (a diagram for a README) or json (for scripts).",
        ),
    ] = "tree",
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
) -> None:
    """Print the data flow: filters -> compute step -> signal stores -> stages and views.

    Own views compute from the filters; live views on an interval, from the filters.
    In the memoize pattern there is no signal store: each view reads the memoized query.
    """
    from dashsignal_cli.commands._common import find_project_root, recover_project
    from dashsignal_cli.commands.report import report_flow
    from dashsignal_cli.errors import UsageError
    from dashsignal_cli.project import ProjectFiles
    from dashsignal_cli.specfile import parse_spec_text
    from dashsignal_cli.writer import project_lock

    chosen = "json" if as_json else output_format
    if chosen not in ("tree", "mermaid", "json"):
        raise UsageError(f"unknown format {chosen!r}; allowed: tree, mermaid, json")
    root = find_project_root(project)
    with project_lock(root):
        recover_project(root)  # the spec may be one of the files an interrupted write left
        spec = parse_spec_text(ProjectFiles(root).spec_text)
    report_flow(spec, chosen)
