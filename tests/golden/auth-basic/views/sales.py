"""The `sales` view: how its chart is drawn.

This file is yours: dashsignal wrote it once and never rewrites it.
`summarise(data)` receives the DataFrame returned by data.expensive_query for the current
filters (possibly empty) and reduces it to what this view shows. It runs once per filter state,
in the compute step, and its result is cached for this view: keep it small and never None.
`render(summary)` receives that cached summary on every request of this view and draws it: keep
it cheap.
"""

from __future__ import annotations

import pandas as pd
import plotly.io as pio
from plotly.graph_objects import Figure, Scatter

# Part of this view's summary cache keys, beside a digest of this file (an edit here needs no
# bump): bump it when what summarise returns changes for a reason outside this file.
VERSION = "1"

# The axis title of each column the chart draws.
LABELS = {"day": "Month", "amount": "Amount"}
# What hovering a point shows: each axis's title and value.
HOVER = LABELS["day"] + "=%{x}<br>" + LABELS["amount"] + "=%{y}<extra></extra>"
# The plotly_white look, built once: a template named in a figure is copied and checked on
# every call, with its defaults for every kind of trace (that costs more than the chart itself).
TEMPLATE = {"layout": pio.templates["plotly_white"].layout}
MARGIN = {"l": 40, "r": 16, "t": 16, "b": 40}


def summarise(data: pd.DataFrame) -> pd.Series:
    """Amount per month, indexed by each month's first day."""
    # Per day first (a quick groupby on the dates), then the few daily sums per month: turning
    # every row's date into its month (dt.to_period) would cost more than both.
    daily = data.groupby("day")["amount"].sum()
    return daily.groupby(daily.index.to_period("M").to_timestamp()).sum()


def render(summary: pd.Series) -> Figure:
    """The monthly amounts as a line."""
    trace = Scatter(x=summary.index, y=summary, mode="lines+markers", hovertemplate=HOVER)
    layout = {
        "template": TEMPLATE,
        "margin": MARGIN,
        "xaxis_title": LABELS["day"],
        "yaxis_title": LABELS["amount"],
    }
    return Figure(trace, layout=layout)
