"""The `share` view: how its chart is drawn.

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
from plotly.graph_objects import Bar, Figure

# Part of this view's summary cache keys, beside a digest of this file (an edit here needs no
# bump): bump it when what summarise returns changes for a reason outside this file.
VERSION = "1"

# The axis title of each column the chart draws.
LABELS = {"region": "Region", "amount": "Amount"}
# What hovering a bar shows: each axis's title and value.
HOVER = LABELS["region"] + "=%{x}<br>" + LABELS["amount"] + "=%{y}<extra></extra>"
# The plotly_white look, built once: a template named in a figure is copied and checked on
# every call, with its defaults for every kind of trace (that costs more than the chart itself).
TEMPLATE = {
    "layout": pio.templates["plotly_white"].layout,
    "data": {"bar": pio.templates["plotly_white"].data.bar},
}
MARGIN = {"l": 40, "r": 16, "t": 16, "b": 40}


def summarise(data: pd.DataFrame) -> pd.Series:
    """Amount per region."""
    # observed=True: a categorical column gets bars for the categories present only.
    return data.groupby("region", observed=True)["amount"].sum()


def render(summary: pd.Series) -> Figure:
    """One bar per region."""
    trace = Bar(x=summary.index, y=summary, hovertemplate=HOVER)
    layout = {
        "template": TEMPLATE,
        "margin": MARGIN,
        "xaxis_title": LABELS["region"],
        "yaxis_title": LABELS["amount"],
    }
    return Figure(trace, layout=layout)
