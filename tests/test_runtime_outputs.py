"""What views show (dashsignal.outputs) and the page they sit on (dashsignal.layout): the empty
states before the first signal, the failure cards, and a frame as AG Grid rows in plain JSON."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from plotly.graph_objects import Figure

from dashsignal.layout import FILTERS_SWITCH_ID, graph_card, indicator_card, page, table_card
from dashsignal.outputs import (
    EMPTY_TEXT,
    draw_graph,
    failed_figure,
    failed_table,
    failed_text,
    failure_message,
    fill_table,
    show_indicator,
    table_payload,
)

from runtime_helpers import FILTERS, SIGNALS


def test_a_frame_becomes_plain_json_rows_with_whole_days_as_dates() -> None:
    frame = pd.DataFrame(
        {
            "day": pd.to_datetime(["2025-01-31", "2025-02-01", None]),
            "at": pd.to_datetime(["2025-01-31 10:30", "2025-02-01 00:00", "2025-02-02 00:00"]),
            "units": np.array([1, 2, 3], dtype=np.int64),
            "amount": [1.5, float("nan"), 3.0],
            7: ["a", "b", "c"],
        }
    )
    before = frame.copy()
    rows, columns = table_payload(frame)
    assert columns == [{"field": name} for name in ("day", "at", "units", "amount", "7")]
    assert rows[0] == {
        "day": "2025-01-31",
        "at": "2025-01-31T10:30:00.000",
        "units": 1,
        "amount": 1.5,
        "7": "a",
    }
    assert rows[1]["amount"] is None and rows[2]["day"] is None
    json.dumps(rows, allow_nan=False)  # what the browser can read
    pd.testing.assert_frame_equal(frame, before)  # the view's frame is left alone


def test_before_the_first_signal_each_view_shows_its_empty_state() -> None:
    def never(frame: pd.DataFrame) -> None:
        raise AssertionError("rendered without a frame")

    figure = draw_graph(never, None)
    assert isinstance(figure, Figure)
    assert figure.layout.annotations[0].text == "Waiting for data…"
    assert fill_table(never, None) == ([], [])
    assert show_indicator(never, None) == EMPTY_TEXT
    frame = pd.DataFrame({"a": [1]})
    assert fill_table(lambda f: f, frame) == ([{"a": 1}], [{"field": "a"}])
    assert show_indicator(lambda f: str(len(f)), frame) == "1"


def test_failure_cards_say_what_failed_and_where_the_details_are() -> None:
    assert failure_message("StillComputing") == (
        "Still computing this data: it shows on the next change, or reload the page."
    )
    assert failure_message("TooManyComputations") == (
        "Too many new filter choices this minute: try again in a minute."
    )
    assert failure_message("RuntimeError") == (
        "Could not compute the data (RuntimeError). The server log has the details."
    )
    assert failure_message("KeyError", "sales") == (
        "Could not draw this view (KeyError). The server log has the details (view sales)."
    )
    assert failed_figure("broken").layout.annotations[0].text == "⚠ broken"
    assert failed_table("broken") == (
        [],
        [{"headerName": "⚠ broken", "field": "failed", "flex": 1}],
    )
    text = failed_text("broken")
    assert text.children == "⚠ broken" and text.className == "ds-failed"


def _ids(component: object) -> list[str]:
    found = []
    pending = [component]
    while pending:
        node = pending.pop()
        if isinstance(node, list | tuple):
            pending.extend(node)
            continue
        node_id = getattr(node, "id", None)
        if isinstance(node_id, str):
            found.append(node_id)
        children = getattr(node, "children", None)
        if children is not None and not isinstance(children, str):
            pending.append(children)
    return found


def test_the_page_holds_every_filter_view_store_and_interval() -> None:
    layout = page(
        "Sales",
        FILTERS,
        indicators=[indicator_card("total", "Total")],
        charts=[graph_card("sales", "Sales")],
        tables=[table_card("daily", "Daily", money_columns=["amount"])],
        stores=SIGNALS.values(),
        intervals={"live-interval": 5000},
        running_id="running",
    )
    ids = _ids(layout)
    expected = [*FILTERS, "total", "sales", "daily", *SIGNALS.values(), "live-interval"]
    expected += ["running", FILTERS_SWITCH_ID]
    assert sorted(ids) == sorted(expected)
    grid = table_card("daily", "Daily", money_columns=["amount", "cost"])
    formatter = grid.children[1].children.defaultColDef["valueFormatter"]["function"]
    assert formatter.startswith('["amount", "cost"].includes(params.colDef.field)')
