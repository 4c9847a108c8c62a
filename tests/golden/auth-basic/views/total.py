"""The `total` view: the one number its card shows.

This file is yours: dashsignal wrote it once and never rewrites it.
`summarise(data)` receives the DataFrame returned by data.expensive_query for the current
filters (possibly empty) and reduces it to what this view shows. It runs once per filter state,
in the compute step, and its result is cached for this view: keep it small and never None.
`render(summary)` receives that cached summary on every request of this view and draws it: keep
it cheap.
"""

from __future__ import annotations

import pandas as pd

# Part of this view's summary cache keys, beside a digest of this file (an edit here needs no
# bump): bump it when what summarise returns changes for a reason outside this file.
VERSION = "1"


def summarise(data: pd.DataFrame) -> float:
    """The total amount (0.0 when there are no rows)."""
    return float(data["amount"].sum())


def render(summary: float) -> str:
    """The total, with two decimals."""
    return f"{summary:,.2f}"
