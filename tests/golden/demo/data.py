"""The expensive computation behind every view: replace the demo with your own query.

This file is yours: dashsignal wrote it once and never rewrites it. `expensive_query` receives
validated filter values keyed by filter id (see signaling/filters.py for each kind's form) and
returns a pandas DataFrame. It runs once per distinct filter state; every view reads its result
from the cache.
"""

from __future__ import annotations

import functools
import time
from typing import Any

import numpy as np
import pandas as pd

# Part of every cache key: bump it when expensive_query changes, so old results are not reused.
DATA_VERSION = "1"

DEMO_ROWS = 200_000
# Stands in for a slow database, so the signaling pattern can be seen at work.
DEMO_DELAY_SECONDS = 0.4


def expensive_query(filters: dict[str, Any]) -> pd.DataFrame:
    """The rows that match `filters`; an empty selection means "no filter"."""
    time.sleep(DEMO_DELAY_SECONDS)
    frame = _demo_table()
    mask = pd.Series(True, index=frame.index)
    if (value := filters.get("region")) is not None:
        mask &= frame["region"] == value
    if value := filters.get("product"):
        mask &= frame["product"].isin(value)
    if (value := filters.get("year")) is not None:
        mask &= frame["year"].between(*value)
    return frame[mask].reset_index(drop=True)


@functools.cache
def _demo_table() -> pd.DataFrame:
    """Deterministic demo sales, made in memory: the app runs offline."""
    rng = np.random.default_rng(seed=7)
    n = DEMO_ROWS
    years = rng.integers(2019, 2025, size=n, endpoint=True)
    return pd.DataFrame(
        {
            "region": rng.choice(np.array(["North", "South", "East", "West"], dtype=object), n),
            "product": rng.choice(np.array(["Basic", "Plus", "Pro"], dtype=object), n),
            # Each row's year is the year of its day, so a choice of years shows those years.
            "year": years,
            "day": _days_in_years(rng, years),
            "units": rng.integers(1, 20, size=n),
            "amount": rng.gamma(2.0, 60.0, size=n).round(2),
        }
    )


def _days_in_years(rng: np.random.Generator, years: np.ndarray) -> pd.Series:
    """A random day of each of `years`."""
    first = pd.to_datetime(pd.DataFrame({"year": years, "month": 1, "day": 1}))
    length = np.where(first.dt.is_leap_year, 366, 365)
    offsets = (rng.random(len(years)) * length).astype(int)
    return first + pd.to_timedelta(offsets, unit="D")
