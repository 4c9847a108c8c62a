"""The `ticker` view: the one number its card shows.

This file is yours: dashsignal wrote it once and never rewrites it.
This view is live: every 2 s, `compute(filters)` fetches fresh data (not cached) and
`render` draws it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

# A live view runs compute on every tick of its interval, uncached: keep it quick.
FEED_SECONDS = 60


def compute(filters: dict[str, Any]) -> pd.DataFrame:
    """The latest minute of a live feed (a random demo feed: replace it with yours)."""
    now = pd.Timestamp.now().floor("s")
    rng = np.random.default_rng(int(now.timestamp()))
    return pd.DataFrame(
        {
            "period": pd.date_range(end=now, periods=FEED_SECONDS, freq="s"),
            "amount": rng.gamma(2.0, 60.0, size=FEED_SECONDS).round(2),
        }
    )


def render(data: pd.DataFrame) -> str:
    """The average amount per row, with two decimals ("No rows" when there are none)."""
    average = data["amount"].mean()
    return f"{average:,.2f}" if len(data) else "No rows"
