"""The expensive query behind every view: replace the demo's SQL with your own.

This file is yours: dashsignal wrote it once and never rewrites it. `expensive_query` receives
validated filter values keyed by filter id (see signaling/filters.py for each kind's form) and
returns a pandas DataFrame. It runs once per distinct filter state; every view reads its result
from the cache.

The declared filters become the query's conditions at `{conditions}`: each one a condition on
its column (dashsignal.toml: `column`, default the filter's id) whose value is a bound
parameter, never SQL text. So a filter added with `dashsignal add-filter` narrows the rows at
once. Never format a filter value into the SQL yourself (`dashsignal check` looks for it).

[app] scope = "user": each signed-in user gets results of their own, cached apart from
everyone else's. `expensive_query` also receives the `user` (dashsignal.auth.User: its `id`
and the attributes of the users file, or what auth.current_user returns).
The demo's rule: a user sees the rows whose `region` is their `region` attribute.
The attribute is bound as the parameter `:region`; a user without it sees no rows,
since NULL equals nothing in SQL.
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd
from dashsignal.auth import User
from dashsignal.sql import filtered_text

from signaling.filters import FILTERS
from signaling.source import DATABASE

# Part of every cache key: bump it when expensive_query changes, so old results are not reused.
DATA_VERSION = "1"

# Stands in for a remote database's latency, so the signaling pattern can be seen at work: set
# it to 0, or drop it and its sleep, once the query runs against your own database.
DEMO_DELAY_SECONDS = 0.4

QUERY = """
SELECT region, product, year, channel, day, units, amount
FROM sales
WHERE {conditions}
AND region = :region
"""
# The columns that come back as dates (SQLite stores them as text).
DATE_COLUMNS = ("day",)


def expensive_query(filters: dict[str, Any], user: User) -> pd.DataFrame:
    """The user's rows that match `filters`; an empty selection means "no filter"."""
    time.sleep(DEMO_DELAY_SECONDS)
    text = filtered_text(QUERY, FILTERS, filters)
    mine = {"region": user.get("region")}
    return DATABASE.read(text, mine, dates=DATE_COLUMNS)


# The data's version (see data_version): cheap next to QUERY. The amounts are summed as whole
# cents: a sum of floating-point numbers depends on the order the database adds them in (a
# parallel scan), and a version that changes by itself recomputes everything.
VERSION_QUERY = """
SELECT count(*) AS row_count, sum(CAST(round(amount * 100) AS BIGINT)) AS cents
FROM sales
"""


def data_version() -> tuple[object, ...]:
    """A cheap probe of the data, run at most every [cache] version_check seconds per process:
    when what it returns changes, every cached result of the old data is unreachable at once
    (for every worker) and the next page load computes afresh. The demo's: the row count and
    the sum of the amounts in cents, so a changed amount shows and a region moved does not; on
    a table with an `updated_at` column, `SELECT max(updated_at) FROM ...` sees every change.
    For changes a probe cannot see, run `python -m signaling invalidate` after loading them."""
    return tuple(DATABASE.read(VERSION_QUERY).iloc[0].tolist())
