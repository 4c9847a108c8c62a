"""Your tests of this dashboard: dashsignal wrote this file once and never rewrites it.

dashsignal's pytest plugin gives every test here the app's fixtures: `endpoint` calls the
callbacks over HTTP as the browser does (`endpoint.change(filters)` runs what a filter change
runs), `computations` counts every computation that runs, `signaling` is the dashboard's runtime
(its filters, computations and cache). tests/test_signaling.py and tests/test_browser.py are
dashsignal's and are rewritten on `dashsignal regenerate`.
"""

from __future__ import annotations

import importlib
from typing import Any

import pandas as pd
import pytest

import data
from signaling.filters import FILTERS

# Each view that summarises cached data, with what it reads: the query, or a stage.
SUMMARISED = {
    "sales": "query",
    "share": "query",
    "rows": "query",
    "total": "query",
}


def test_the_query_returns_a_frame_for_the_default_filters(
    computations: Any, dashsignal_user: Any
) -> None:
    frame = data.expensive_query(FILTERS.defaults(), dashsignal_user)
    assert list(frame.columns)


def test_the_default_filters_fill_every_view(endpoint: Any, computations: Any) -> None:
    results = endpoint.change(FILTERS.defaults())
    assert results
    assert {result.status for result in results.values()} == {200}


def frame_of(
    signaling: Any, source: str, filters: dict[str, Any], dashsignal_user: Any
) -> pd.DataFrame:
    """What a view of `source` receives: the query's frame, or a stage's derived from it."""
    query, *stages = signaling.computations.lineage(source)
    frame: pd.DataFrame = query.function(filters, dashsignal_user)
    for stage in stages:
        frame = stage.function(frame)
    return frame


@pytest.mark.parametrize(("view_id", "source"), SUMMARISED.items(), ids=list(SUMMARISED))
def test_each_view_renders_its_summary_of_the_defaults_and_of_no_rows(
    signaling: Any, computations: Any, view_id: str, source: str, dashsignal_user: Any
) -> None:
    view = importlib.import_module(f"views.{view_id}")
    frame = frame_of(signaling, source, FILTERS.defaults(), dashsignal_user)
    for rows in (frame, frame.iloc[:0]):  # a filter state may match no row at all
        # A view module written before summaries has render(data) alone: it draws the frame.
        summary = view.summarise(rows) if hasattr(view, "summarise") else rows
        assert summary is not None
        assert view.render(summary) is not None
