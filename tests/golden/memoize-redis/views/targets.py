"""The `targets` view: which rows and columns its table shows.

This file is yours: dashsignal wrote it once and never rewrites it.
This view is independent: `compute(filters)` makes its own data, cached apart from the shared
query and run once per distinct filter state, and `render` draws it.
`render` returns the frame to show: keep it small, since every row is sent to the browser.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

MAX_ROWS = 500

# Part of this view's cache keys: bump it when compute changes, so old results are not reused.
VERSION = "1"
# Stands in for a second slow source, so the separate caching can be seen at work.
DEMO_DELAY_SECONDS = 0.2


def compute(filters: dict[str, Any]) -> pd.DataFrame:
    """This view's own data for the filters: monthly targets (demo), cached apart from the query."""
    time.sleep(DEMO_DELAY_SECONDS)
    months = pd.date_range("2024-01-01", "2025-12-01", freq="MS")
    return pd.DataFrame(
        {
            "day": months,
            "amount": np.linspace(20_000.0, 32_000.0, len(months)).round(2),
        }
    )


def render(data: pd.DataFrame) -> pd.DataFrame:
    """The rows with the largest amounts first (nlargest: no need to sort every row)."""
    if data.empty:
        # Nothing to rank; and a SQL result without rows has untyped columns nlargest refuses.
        return data
    return data.nlargest(MAX_ROWS, "amount")
