"""The `daily` stage: what it derives from the result of `query`.

This file is yours: dashsignal wrote it once and never rewrites it. `derive` receives the DataFrame
of its source for the current filters (read from the cache, possibly empty) and returns a new
one. It runs once per distinct filter state; the views that read this stage share its result.
"""

from __future__ import annotations

import pandas as pd

# Part of this stage's cache keys: bump it when derive changes, so old results are not reused.
VERSION = "1"

# The demo totals per day and category keep the columns the demo views draw from.
KEYS = ["period", "region"]
TOTALS = ["units", "amount"]


def derive(data: pd.DataFrame) -> pd.DataFrame:
    """Totals per day and category."""
    return data.groupby(KEYS, as_index=False, observed=True)[TOTALS].sum()
