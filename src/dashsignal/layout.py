"""The page: a title bar, the filters in a side panel (folded away on a phone), the views: the
indicators in a row of cards, then the charts, then the tables. The classes are styled by the
project's assets/dashsignal.css."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

import dash_ag_grid as dag
from dash import dcc, html
from dash.development.base_component import Component

from dashsignal.filters import Filters
from dashsignal.outputs import EMPTY_TEXT, empty_figure

__all__ = ["FILTERS_SWITCH_ID", "graph_card", "indicator_card", "page", "table_card"]

# The switch that unfolds the filters on a phone (ids in dashsignal.toml have no "-").
FILTERS_SWITCH_ID = "ds-filters-switch"
# Every table column at least this wide (px): a narrow screen scrolls the table sideways.
COLUMN_MIN_WIDTH = 120


def page(
    title: str,
    filters: Filters,
    *,
    indicators: Sequence[html.Div] = (),
    charts: Sequence[html.Div] = (),
    tables: Sequence[html.Div] = (),
    stores: Iterable[str] = (),
    intervals: Mapping[str, int] | None = None,
    running_id: str | None = None,
) -> html.Div:
    """The whole page. `stores` are the ids of the signal stores, `intervals` each live view's
    dcc.Interval id with its period (ms), `running_id` what shows while a background job runs."""
    heading: list[Component] = [html.H1(title)]
    if running_id is not None:
        heading.append(html.Span("Computing…", id=running_id, className="ds-running"))
    groups = [
        html.Div(className=name, children=list(cards))
        for name, cards in (("ds-kpis", indicators), ("ds-charts", charts), ("ds-tables", tables))
        if cards
    ]
    return html.Div(
        className="ds-app",
        children=[
            html.Header(className="ds-header", children=heading),
            html.Main(
                className="ds-main",
                children=[
                    html.Aside(className="ds-filters", children=filter_panel(filters)),
                    html.Section(className="ds-views", children=groups),
                ],
            ),
            *(dcc.Store(id=store_id) for store_id in stores),
            *(
                dcc.Interval(id=interval_id, interval=period)
                for interval_id, period in (intervals or {}).items()
            ),
        ],
    )


def filter_panel(filters: Filters) -> list[Component]:
    """The filters, below a "Filters" switch that shows them on a narrow screen, where they
    start folded away so that the first screen shows data. The stylesheet does the folding (no
    callback); on a wide screen the switch is hidden and the filters always shown."""
    return [
        dcc.Checklist(
            id=FILTERS_SWITCH_ID,
            className="ds-filters-switch",
            options=[{"label": "Filters", "value": "shown"}],
            value=[],
        ),
        html.Div(
            className="ds-filters-body",
            children=[_field(spec.label, spec.control()) for spec in filters.values()],
        ),
    ]


def graph_card(view_id: str, title: str) -> html.Div:
    """A graph view's card; it shows a loading indicator while it waits for its data."""
    graph = dcc.Graph(
        id=view_id,
        figure=empty_figure(),
        config={"displaylogo": False},
        responsive=True,
        className="ds-graph",
    )
    return _card(title, graph)


def table_card(view_id: str, title: str, *, money_columns: Sequence[str] = ()) -> html.Div:
    """A table view's card: AG Grid, paginated, `money_columns` with two decimals and
    thousands separators."""
    # dash-ag-grid evaluates this in the browser: a subset of JavaScript (no typeof, no
    # globals), with `params` and `d3` at hand.
    money_format = (
        f"{json.dumps(list(money_columns))}.includes(params.colDef.field)"
        " && params.value != null ? d3.format(',.2f')(params.value) : params.value"
    )
    grid = dag.AgGrid(
        id=view_id,
        rowData=[],
        columnDefs=[],
        columnSize="responsiveSizeToFit",
        defaultColDef={
            "minWidth": COLUMN_MIN_WIDTH,
            # No inferred cell types: their formatters would replace the money format.
            "cellDataType": False,
            "valueFormatter": {"function": money_format},
        },
        dashGridOptions={"pagination": True, "paginationPageSize": 20},
    )
    return _card(title, grid)


def indicator_card(view_id: str, title: str) -> html.Div:
    """An indicator view's card: one number in the row of cards at the top."""
    value = html.Div(id=view_id, className="ds-indicator", children=EMPTY_TEXT)
    return _card(title, value, kpi=True)


def _field(label: str, control: Component) -> html.Div:
    # The label has a class of its own: Dash's checklists, radio items and dropdown options are
    # <label> elements too, and must keep their own look.
    return html.Div(
        className="ds-field", children=[html.Label(label, className="ds-field-label"), control]
    )


def _card(title: str, body: Component, *, kpi: bool = False) -> html.Div:
    return html.Div(
        className="ds-card ds-kpi" if kpi else "ds-card",
        children=[html.H2(title), dcc.Loading(body, type="dot", delay_show=150)],
    )
