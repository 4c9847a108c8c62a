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
import plotly.express as px
from plotly.graph_objects import Figure

# The axis title of each column the chart draws.
LABELS = {"period": "Month", "amount": "Amount"}

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
    month = data["period"].dt.to_period("M").dt.to_timestamp()
    monthly = data.groupby(month)["amount"].sum().reset_index()
    figure = px.line(monthly, x="period", y="amount", markers=True, labels=LABELS)
    figure.update_layout(template="plotly_white", margin={"l": 40, "r": 16, "t": 16, "b": 40})
    return figure
