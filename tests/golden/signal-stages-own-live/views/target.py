"""The `target` view: how its chart is drawn.

This file is yours: dashsignal wrote it once and never rewrites it.
This view is independent: `compute(filters)` makes its own data, cached apart from the shared
query and run once per distinct filter state, and `render` draws it.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
import plotly.io as pio
from plotly.graph_objects import Figure, Scatter

# The axis title of each column the chart draws.
LABELS = {"period": "Month", "amount": "Amount"}
# What hovering a point shows: each axis's title and value.
HOVER = LABELS["period"] + "=%{x}<br>" + LABELS["amount"] + "=%{y}<extra></extra>"
# The plotly_white look, built once: a template named in a figure is copied and checked on
# every call, with its defaults for every kind of trace (that costs more than the chart itself).
TEMPLATE = {"layout": pio.templates["plotly_white"].layout}
MARGIN = {"l": 40, "r": 16, "t": 16, "b": 40}

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
            "period": months,
            "amount": np.linspace(20_000.0, 32_000.0, len(months)).round(2),
        }
    )


def render(data: pd.DataFrame) -> Figure:
    """Amount per month."""
    # Per day first (a quick groupby on the dates), then the few daily sums per month: turning
    # every row's date into its month (dt.to_period) would cost more than both.
    daily = data.groupby("period")["amount"].sum()
    monthly = daily.groupby(daily.index.to_period("M").to_timestamp()).sum()
    trace = Scatter(x=monthly.index, y=monthly, mode="lines+markers", hovertemplate=HOVER)
    layout = {
        "template": TEMPLATE,
        "margin": MARGIN,
        "xaxis_title": LABELS["period"],
        "yaxis_title": LABELS["amount"],
    }
    return Figure(trace, layout=layout)
