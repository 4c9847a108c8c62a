"""The `feed` view: how its chart is drawn.

This file is yours: dashsignal wrote it once and never rewrites it.
This view is live: every 5 s, `compute(filters)` fetches fresh data (not cached) and
`render` draws it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.io as pio
from plotly.graph_objects import Figure, Scatter

# The axis title of each column the chart draws.
LABELS = {"day": "Time", "amount": "Amount"}
# What hovering a point shows: each axis's title and value.
HOVER = LABELS["day"] + "=%{x}<br>" + LABELS["amount"] + "=%{y}<extra></extra>"
# The plotly_white look, built once: a template named in a figure is copied and checked on
# every call, with its defaults for every kind of trace (that costs more than the chart itself).
TEMPLATE = {"layout": pio.templates["plotly_white"].layout}
MARGIN = {"l": 40, "r": 16, "t": 16, "b": 40}

# A live view runs compute on every tick of its interval, uncached: keep it quick.
FEED_SECONDS = 60


def compute(filters: dict[str, Any]) -> pd.DataFrame:
    """The latest minute of a live feed (a random demo feed: replace it with yours)."""
    now = pd.Timestamp.now().floor("s")
    rng = np.random.default_rng(int(now.timestamp()))
    return pd.DataFrame(
        {
            "day": pd.date_range(end=now, periods=FEED_SECONDS, freq="s"),
            "amount": rng.gamma(2.0, 60.0, size=FEED_SECONDS).round(2),
        }
    )


def render(data: pd.DataFrame) -> Figure:
    """Amount per second."""
    trace = Scatter(x=data["day"], y=data["amount"], mode="lines", hovertemplate=HOVER)
    layout = {
        "template": TEMPLATE,
        "margin": MARGIN,
        "xaxis_title": LABELS["day"],
        "yaxis_title": LABELS["amount"],
    }
    return Figure(trace, layout=layout)
