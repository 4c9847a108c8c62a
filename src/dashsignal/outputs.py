"""What views show: before their data arrives, when it cannot be shown, and what a view's render
makes of its data (its summary, or a frame) turned into what its component takes (a figure, AG
Grid rows and columns, a text)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pandas as pd
from dash import html
from dash.development.base_component import Component
from plotly.graph_objects import Figure

__all__ = [
    "EMPTY_TEXT",
    "TablePayload",
    "draw_graph",
    "empty_figure",
    "failed_figure",
    "failed_table",
    "failed_text",
    "failure_message",
    "fill_table",
    "show_indicator",
    "table_payload",
]

EMPTY_TEXT = "—"
# What a table view's callback returns: AG Grid's rowData, then its columnDefs.
TablePayload = tuple[list[dict[str, Any]], list[dict[str, Any]]]

# plotly express shares its template objects between threads and is not safe to call from two at
# once ("Invalid value"): threaded servers (python app.py, gunicorn --threads) draw one at a time.
_PLOTLY = threading.Lock()


def empty_figure(message: str = "Waiting for data…") -> Figure:
    """A blank chart with a short message, for first load and for refused filter values."""
    figure = Figure()
    figure.update_layout(
        xaxis={"visible": False},
        yaxis={"visible": False},
        annotations=[{"text": message, "showarrow": False, "font": {"size": 14}}],
        margin={"l": 20, "r": 20, "t": 20, "b": 20},
    )
    return figure


def draw_graph(render: Callable[[Any], Figure], data: Any) -> Figure:
    """A graph view's figure from its data; the empty chart before its first signal (None)."""
    if data is None:
        return empty_figure()
    with _PLOTLY:
        return render(data)


def fill_table(render: Callable[[Any], pd.DataFrame], data: Any) -> TablePayload:
    """A table view's rows and columns from its data; none before its first signal (None)."""
    return ([], []) if data is None else table_payload(render(data))


def show_indicator(render: Callable[[Any], str | Component], data: Any) -> str | Component:
    """An indicator view's value from its data; a dash before its first signal (None)."""
    return EMPTY_TEXT if data is None else render(data)


def failure_message(kind: str, view_id: str | None = None) -> str:
    """One line for a view's card: what failed, and where the details are."""
    if kind == "StillComputing":
        return "Still computing this data: it shows on the next change, or reload the page."
    if kind == "TooManyComputations":
        return "Too many new filter choices this minute: try again in a minute."
    if view_id is None:
        return f"Could not compute the data ({kind}). The server log has the details."
    return f"Could not draw this view ({kind}). The server log has the details (view {view_id})."


def failed_figure(message: str) -> Figure:
    """A graph's card when its data or its figure failed."""
    return empty_figure(f"⚠ {message}")


def failed_table(message: str) -> TablePayload:
    """A table's card when its data or its rows failed: no rows, the message as its header."""
    return [], [{"headerName": f"⚠ {message}", "field": "failed", "flex": 1}]


def failed_text(message: str) -> html.Span:
    """An indicator's card when its data or its value failed."""
    return html.Span(f"⚠ {message}", className="ds-failed")


def table_payload(frame: pd.DataFrame) -> TablePayload:
    """AG Grid rowData and columnDefs for a frame; dates and numpy types become plain JSON."""
    frame = frame.copy()
    for name in frame.select_dtypes(include="datetime").columns:
        column = frame[name]
        # Whole days read better as 2025-01-31 than as 2025-01-31T00:00:00.000.
        if (column.dropna() == column.dropna().dt.normalize()).all():
            frame[name] = column.dt.strftime("%Y-%m-%d")
    rows = json.loads(frame.to_json(orient="records", date_format="iso"))
    columns = [{"field": str(name)} for name in frame.columns]
    return rows, columns
