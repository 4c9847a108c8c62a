"""`dashsignal add-filter` and `remove-filter`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from dashsignal_cli.commands._common import DryRunOption, ForceOption, ProjectOption, sync_project
from dashsignal_cli.kinds import DEFAULT_FILTER_KIND, filter_kinds_help

if TYPE_CHECKING:
    from dashsignal_cli.sync import SyncPlan

ADD_EPILOG = (
    "Examples:\n\n  dashsignal add-filter channel --kind multi --option Online --option Retail\n\n"
    "  dashsignal add-filter channel --kind checklist --column sales_channel\n\n"
    "  dashsignal add-filter price --kind range --min 0 --max 500"
)
REMOVE_EPILOG = "Example:\n\n  dashsignal remove-filter channel"


def add_filter(
    filter_id: Annotated[str, typer.Argument(metavar="ID", help="The new filter's id.")],
    kind: Annotated[
        str,
        typer.Option(
            "--kind",
            "-k",
            metavar="KIND",
            help=filter_kinds_help(marked=False, last=" or ") + ".",
        ),
    ] = DEFAULT_FILTER_KIND,
    label: Annotated[
        str | None,
        typer.Option("--label", metavar="TEXT", help="The control's label. Default: from ID."),
    ] = None,
    options: Annotated[
        list[str] | None,
        typer.Option(
            "--option",
            metavar="VALUE",
            help=f"An option of a {filter_kinds_help(choice=True, last=' or ')} filter; repeat "
            "for more (whole numbers stay numbers). Default: demo options.",
        ),
    ] = None,
    minimum: Annotated[
        str | None,
        typer.Option(
            "--min",
            metavar="X",
            help="Lower bound of a range (number) or dates (YYYY-MM-DD) filter.",
        ),
    ] = None,
    maximum: Annotated[
        str | None,
        typer.Option(
            "--max",
            metavar="Y",
            help="Upper bound of a range (number) or dates (YYYY-MM-DD) filter.",
        ),
    ] = None,
    column: Annotated[
        str | None,
        typer.Option(
            "--column",
            metavar="NAME",
            help="The column of the data it filters (letters, digits, _; optionally table.NAME). "
            "Default: ID.",
        ),
    ] = None,
    options_from: Annotated[
        str | None,
        typer.Option(
            "--options-from",
            metavar="column|SQL",
            help="Its options come from the database when the app starts: `column`, the distinct "
            "values of its column, or one SELECT whose first column holds them (dropdown and "
            "multi, on the duckdb and sql sources).",
        ),
    ] = None,
    project: ProjectOption = None,
    dry_run: DryRunOption = False,
    force: ForceOption = False,
) -> None:
    """Add a filter: its entry in dashsignal.toml, its control, its input to the compute step."""
    from dashsignal_cli.answers import filter_from_flags
    from dashsignal_cli.spec_edit import AddEntry

    entry = filter_from_flags(
        filter_id,
        kind,
        label=label,
        options=options,
        minimum=minimum,
        maximum=maximum,
        column=column,
        options_from=options_from,
    )
    sync_project(
        project,
        AddEntry(entry),
        dry_run=dry_run,
        force=force,
        after=lambda result: _say_if_unread(result, filter_id),
    )


def _say_if_unread(result: SyncPlan, filter_id: str) -> None:
    """data.py is the user's: a filter added later reaches expensive_query, which ignores it."""
    from dashsignal_cli.checks import QUERY_MODULE, applies_declared_filters, mentions
    from dashsignal_cli.commands.report import report_unread_filter

    query = result.plan.read_before(QUERY_MODULE)
    spec = next(f for f in result.spec.filters if f.id == filter_id)
    if query is None or applies_declared_filters(query):
        return
    if not mentions(query, filter_id):
        report_unread_filter(spec)


def remove_filter(
    filter_id: Annotated[str, typer.Argument(metavar="ID", help="The id of the filter to remove.")],
    project: ProjectOption = None,
    dry_run: DryRunOption = False,
    force: ForceOption = False,
) -> None:
    """Remove a filter from dashsignal.toml, the page and the compute callback."""
    from dashsignal_cli.spec_edit import RemoveEntry

    sync_project(
        project,
        RemoveEntry("filters", filter_id),
        dry_run=dry_run,
        force=force,
    )
