"""The expensive computation behind every view: replace the demo with your own.

This file is yours: dashsignal wrote it once and never rewrites it. `expensive_query` receives
validated filter values keyed by filter id (see signaling/filters.py for each kind's form) and
returns a pandas DataFrame. It runs once per distinct filter state; every view reads its result
from the cache.

`apply_filters` keeps the rows that every declared filter keeps, each on its column
(dashsignal.toml: `column`, default the filter's id), so a filter added with `dashsignal
add-filter` narrows the rows at once.
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd
from dashsignal.frames import apply_filters

from signaling.filters import FILTERS
from signaling.source import DEMO

# Part of every cache key: bump it when expensive_query changes, so old results are not reused.
DATA_VERSION = "1"

# Stands in for a slow database, so the signaling pattern can be seen at work.
DEMO_DELAY_SECONDS = 0.4


def expensive_query(filters: dict[str, Any]) -> pd.DataFrame:
    """The rows that match `filters`; an empty selection means "no filter"."""
    time.sleep(DEMO_DELAY_SECONDS)
    return apply_filters(DEMO.frame(), FILTERS, filters).reset_index(drop=True)
