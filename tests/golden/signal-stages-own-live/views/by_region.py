"""The `by_region` view: how its chart is drawn.

This file is yours: dashsignal wrote it once and never rewrites it.
`render` receives the DataFrame derived by stages/daily.py for the current filters
(possibly empty).
"""

from __future__ import annotations

import pandas as pd
import plotly.express as px
from plotly.graph_objects import Figure

# The axis title of each column the chart draws.
LABELS = {"region": "Region", "amount": "Amount"}


def render(data: pd.DataFrame) -> Figure:
    """Amount per region."""
    totals = data.groupby("region")["amount"].sum().reset_index()
    figure = px.bar(totals, x="region", y="amount", labels=LABELS)
    figure.update_layout(template="plotly_white", margin={"l": 40, "r": 16, "t": 16, "b": 40})
    return figure
