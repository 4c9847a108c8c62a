"""The `weekly_rows` view: which rows and columns its table shows.

This file is yours: dashsignal wrote it once and never rewrites it.
`render` receives the DataFrame derived by stages/weekly.py for the current filters
(possibly empty).
`render` returns the frame to show: keep it small, since every row is sent to the browser.
"""

from __future__ import annotations

import pandas as pd

MAX_ROWS = 500


def render(data: pd.DataFrame) -> pd.DataFrame:
    """The rows with the largest amounts first (nlargest: no need to sort every row)."""
    return data.nlargest(MAX_ROWS, "amount")
