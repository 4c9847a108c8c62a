"""The pandas source: the declared filters applied to the project's own DataFrame.

The same conditions as the SQL sources (dashsignal.sql), on the frame's columns: equality for a
dropdown or radio (a dropdown at None keeps every row), membership for a multi or checklist (an
empty selection keeps every row), an inclusive range for a range, and a half-open range of days
for dates (the end day is included whatever the time of day, the next day is not; a None bound
keeps every row on that side). As in SQL, a missing value (None, NaN, NaT) matches no condition.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from dashsignal.columns import filter_columns

if TYPE_CHECKING:
    from dashsignal.filters import Filters

__all__ = ["apply_filters"]


def apply_filters(
    frame: pd.DataFrame,
    filters: Filters,
    values: Mapping[str, Any],
    columns: Mapping[str, str | None] | None = None,
) -> pd.DataFrame:
    """The rows of `frame` that the filters' values keep, in their order, with their index.

    `values` are validated again with `filters.canonical` (InvalidFilters if one is not
    declared); `columns` maps a filter id to its column, or to None for a filter that is not a
    condition. ValueError for a bad column name or a column the frame does not have.
    """
    mapped = filter_columns(filters, columns)
    canonical = filters.canonical(values)
    missing = sorted({column for column in mapped.values() if column not in frame.columns})
    if missing:
        raise ValueError(f"the frame has no column {', '.join(missing)}")
    keep = pd.Series(True, index=frame.index)
    for filter_id, column in mapped.items():
        keep &= _keep(filters[filter_id].kind, frame[column], canonical[filter_id])
    return frame[keep]


def _keep(kind: str, series: pd.Series, value: Any) -> pd.Series:
    everything = pd.Series(True, index=series.index)
    if kind in ("dropdown", "radio"):
        return everything if value is None else (series == value).fillna(False).astype(bool)
    if kind in ("multi", "checklist"):
        return series.isin(value) if value else everything
    if kind == "range":
        low, high = value
        return series.between(low, high).fillna(False).astype(bool)
    start, end = value
    moments = _moments(series)
    keep = everything
    if start is not None:
        keep &= (moments >= _bound(start, moments)).fillna(False).astype(bool)
    if end is not None:
        # The next calendar day, then its midnight in the column's zone: a day is not always
        # 24 hours long (a change to or from summer time).
        next_day = (dt.date.fromisoformat(end) + dt.timedelta(days=1)).isoformat()
        keep &= (moments < _bound(next_day, moments)).fillna(False).astype(bool)
    return keep


def _moments(series: pd.Series) -> pd.Series:
    # Dates, datetimes or ISO strings alike; a time zone, if the column has one, is kept.
    if isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(series):
        return series
    return pd.to_datetime(series, format="ISO8601")


def _bound(day: str, moments: pd.Series) -> pd.Timestamp:
    bound = pd.Timestamp(day)
    zone = getattr(moments.dtype, "tz", None)
    return bound.tz_localize(zone) if zone is not None else bound
