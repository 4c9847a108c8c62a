"""The `daily_total` view: the one number its card shows.

This file is yours: dashsignal wrote it once and never rewrites it.
`render` receives the DataFrame derived by stages/daily.py for the current filters
(possibly empty).
"""

from __future__ import annotations

import pandas as pd


def render(data: pd.DataFrame) -> str:
    """The total amount, with two decimals."""
    total = data["amount"].sum()
    return f"{total:,.2f}"
