"""The `rows` view: which rows and columns its table shows.

This file is yours: dashsignal wrote it once and never rewrites it.
`summarise(data)` receives the DataFrame returned by data.expensive_query for the current
filters (possibly empty) and reduces it to what this view shows. It runs once per filter state,
in the compute step, and its result is cached for this view: keep it small and never None.
`render(summary)` receives that cached summary on every request of this view and draws it: keep
it cheap.
`render` returns the frame to show: keep it small, since every row is sent to the browser.
"""

from __future__ import annotations

import pandas as pd

# Part of this view's summary cache keys, beside a digest of this file (an edit here needs no
# bump): bump it when what summarise returns changes for a reason outside this file.
VERSION = "1"

MAX_ROWS = 500


def summarise(data: pd.DataFrame) -> pd.DataFrame:
    """The MAX_ROWS rows with the largest amounts, largest first (nlargest: no need to sort
    every row)."""
    if data.empty:
        # Nothing to rank; and a SQL result without rows has untyped columns nlargest refuses.
        return data
    return data.nlargest(MAX_ROWS, "amount")


def render(summary: pd.DataFrame) -> pd.DataFrame:
    """The rows to show: the summary already is them (select columns here to show fewer)."""
    return summary
