"""Your tests of this dashboard: dashsignal wrote this file once and never rewrites it.

dashsignal's pytest plugin gives every test here the app's fixtures: `endpoint` calls the
callbacks over HTTP as the browser does (`endpoint.change(filters)` runs what a filter change
runs), `computations` counts every computation that runs, `signaling` is the dashboard's runtime
(its filters, computations and cache). tests/test_signaling.py and tests/test_browser.py are
dashsignal's and are rewritten on `dashsignal regenerate`.
"""

from __future__ import annotations

from typing import Any

import data
from signaling.filters import FILTERS


def test_the_query_returns_a_frame_for_the_default_filters(computations: Any) -> None:
    frame = data.expensive_query(FILTERS.defaults())
    assert list(frame.columns)


def test_the_default_filters_fill_every_view(endpoint: Any, computations: Any) -> None:
    results = endpoint.change(FILTERS.defaults())
    assert results
    assert {result.status for result in results.values()} == {200}
