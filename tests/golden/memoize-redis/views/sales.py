"""The `sales` view: how its chart is drawn.

This file is yours: dashsignal wrote it once and never rewrites it.
`render` receives the DataFrame returned by data.expensive_query for the current filters
(possibly empty).
"""

from __future__ import annotations

import pandas as pd
import plotly.express as px
from plotly.graph_objects import Figure

# The axis title of each column the chart draws.
LABELS = {"day": "Month", "amount": "Amount"}


def render(data: pd.DataFrame) -> Figure:
    """Amount per month."""
    month = data["day"].dt.to_period("M").dt.to_timestamp()
    monthly = data.groupby(month)["amount"].sum().reset_index()
    figure = px.line(monthly, x="day", y="amount", markers=True, labels=LABELS)
    figure.update_layout(template="plotly_white", margin={"l": 40, "r": 16, "t": 16, "b": 40})
    return figure
