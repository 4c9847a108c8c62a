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
    if (value := filters.get("period")) is not None:
        start, end = value
        if start is not None:
            mask &= frame["period"] >= pd.Timestamp(start)
        if end is not None:
            mask &= frame["period"] <= pd.Timestamp(end)
    return frame[mask].reset_index(drop=True)


@functools.cache
def _demo_table() -> pd.DataFrame:
    """Deterministic demo sales, made in memory: the app runs offline."""
    rng = np.random.default_rng(seed=7)
    n = DEMO_ROWS
    return pd.DataFrame(
        {
            "region": rng.choice(np.array(["North", "South", "East"], dtype=object), n),
            "period": _random_days(rng, n, "2024-01-01", "2025-12-31"),
            "day": _random_days(rng, n, "2024-01-01", "2025-12-31"),
            "units": rng.integers(1, 20, size=n),
            "amount": rng.gamma(2.0, 60.0, size=n).round(2),
        }
    )


def _random_days(rng: np.random.Generator, n: int, first: str, last: str) -> pd.Series:
    start, end = pd.Timestamp(first), pd.Timestamp(last)
    offsets = rng.integers(0, (end - start).days, size=n, endpoint=True)
    return pd.Series(start + pd.to_timedelta(offsets, unit="D"))
