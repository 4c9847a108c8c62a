"""A sales table on SQLite, DuckDB and PostgreSQL, the filters declared on it, and a plain-Python
reference of which rows each filter state keeps.

The rows are made to sit on the edges of the filters: the first and last day of a dates filter,
a moment one microsecond before midnight and one at midnight, the bounds of each range, and
missing values (NULL), which no condition matches. The reference states what a filter means
(a day is in a dates filter when start <= its day <= end), not how the SQL says it.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import pickle
import random
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from dashsignal import Filter, Filters
from dashsignal.frames import apply_filters
from dashsignal.sql import Database, DuckDatabase, filtered_text, where

FILTERS = Filters(
    Filter("region", "dropdown", "Region", options=("North", "South", "East", "West")),
    Filter("store", "dropdown", "Store", options=(1, 2, 3)),
    Filter("channels", "multi", "Channels", options=("web", "shop", "phone")),
    Filter("segments", "checklist", "Segments", options=("retail", "business")),
    Filter("tier", "radio", "Tier", options=("gold", "silver", "bronze"), default="gold"),
    Filter("year", "range", "Year", min=2019, max=2025, step=1, default=[2019, 2025]),
    Filter("discount", "range", "Discount", min=0.0, max=0.5, step=0.05, default=[0.0, 0.5]),
    Filter("period", "dates", "Period", min="2024-01-01", max="2024-12-31", default=[None, None]),
    Filter("moment", "dates", "Moment", min="2024-01-01", max="2024-12-31", default=[None, None]),
)
# The filters whose id is not their column's name.
COLUMNS: dict[str, str | None] = {
    "channels": "channel",
    "segments": "segment",
    "period": "sold_on",
    "moment": "sold_at",
}
# Every filter at the value that is no condition, and the radio (always one) left out.
NO_CONDITION = {
    "region": None,
    "store": None,
    "channels": [],
    "segments": [],
    "tier": "gold",
    "year": [2019, 2025],
    "discount": [0.0, 0.5],
    "period": [None, None],
    "moment": [None, None],
}
ONLY_CHOICES_AND_DATES = {**COLUMNS, "tier": None, "year": None, "discount": None}

EDGE_DAYS = ["2024-01-01", "2024-03-30", "2024-03-31", "2024-04-01", "2024-06-15", "2024-12-31"]
_ROW_DAYS = [dt.date(2023, 12, 31), dt.date(2025, 1, 1)] + [
    dt.date.fromisoformat(day) for day in EDGE_DAYS
]
_ROW_TIMES = [dt.time(0), dt.time(23, 59, 59, 999_999), dt.time(12, 30)]


def _discount(step: int) -> float:
    # The way Filter.canonical computes a float range's values.
    return float(round(0.0 + step * 0.05, 9))


def _rows() -> list[dict[str, Any]]:
    pick = random.Random(16)
    rows = []
    for row_id in range(1, 401):
        day = pick.choice(_ROW_DAYS)
        moment = dt.datetime.combine(pick.choice(_ROW_DAYS), pick.choice(_ROW_TIMES))
        rows.append(
            {
                "id": row_id,
                "region": pick.choice(["North", "South", "East", "West", None]),
                "store": pick.choice([1, 2, 3]),
                "channel": pick.choice(["web", "shop", "phone"]),
                "segment": pick.choice(["retail", "business", None]),
                "tier": pick.choice(["gold", "silver", "bronze"]),
                "year": pick.randint(2018, 2026),
                "discount": _discount(pick.randint(0, 10)),
                "sold_on": day if row_id % 17 else None,
                "sold_at": moment if row_id % 13 else None,
            }
        )
    return rows


ROWS = _rows()

METADATA = sa.MetaData()
SALES = sa.Table(
    "sales",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("region", sa.String(20)),
    sa.Column("store", sa.Integer),
    sa.Column("channel", sa.String(20)),
    sa.Column("segment", sa.String(20)),
    sa.Column("tier", sa.String(20)),
    sa.Column("year", sa.Integer),
    sa.Column("discount", sa.Double),
    sa.Column("sold_on", sa.Date),
    sa.Column("sold_at", sa.DateTime),
)
DUCKDB_SALES = """CREATE TABLE sales (
    id INTEGER PRIMARY KEY, region VARCHAR, store INTEGER, channel VARCHAR, segment VARCHAR,
    tier VARCHAR, year INTEGER, discount DOUBLE, sold_on DATE, sold_at TIMESTAMP)"""


def reference(values: Mapping[str, Any], columns: Mapping[str, str | None] = COLUMNS) -> set[int]:
    """The ids of the rows the filter state keeps, by the meaning of each kind of filter."""
    values = FILTERS.canonical(values)
    kept = set()
    for row in ROWS:
        if all(_keeps(spec, row, values[spec.id], columns) for spec in FILTERS.values()):
            kept.add(row["id"])
    return kept


def _keeps(spec: Filter, row: dict[str, Any], value: Any, columns: Mapping[str, Any]) -> bool:
    column = columns.get(spec.id, spec.id)
    if column is None:
        return True
    cell = row[column]
    if spec.kind in ("dropdown", "radio"):
        return value is None or cell == value
    if spec.kind in ("multi", "checklist"):
        return not value or cell in value
    if spec.kind == "dates" and value == [None, None]:
        return True
    if cell is None:
        return False
    if spec.kind == "range":
        return bool(value[0] <= cell <= value[1])
    day = cell.date() if isinstance(cell, dt.datetime) else cell
    start, end = value
    return (start is None or dt.date.fromisoformat(start) <= day) and (
        end is None or day <= dt.date.fromisoformat(end)
    )


@dataclass
class Source:
    """One backend holding the sales rows, and every statement it was sent."""

    name: str
    read: Callable[..., pd.DataFrame]
    statements: list[tuple[str, Any]] = field(default_factory=list, repr=False)

    def ids(
        self, values: Mapping[str, Any], columns: Mapping[str, str | None] = COLUMNS, *, core: bool
    ) -> set[int]:
        """The ids the conditions select, through the SQL text or the Core form."""
        if core:
            query: Any = sa.select(SALES.c.id).where(where(FILTERS, values, columns))
        else:
            query = filtered_text(
                "SELECT id FROM sales WHERE {conditions}", FILTERS, values, columns
            )
        return set(self.read(query)["id"].tolist())


def log_statements(database: Database, statements: list[tuple[str, Any]]) -> None:
    """Record every statement the database's engine sends, with its parameters."""

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        statements.append((statement, parameters))

    sa.event.listen(database.engine, "before_cursor_execute", record)


def sqlalchemy_source(name: str, url: str) -> Source:
    """The sales rows in a fresh `sales` table at `url`, read through a Database."""
    database = Database(url, env="DASHSIGNAL_TEST_NO_SUCH_VARIABLE")
    with database.engine.begin() as connection:
        METADATA.drop_all(connection)
        METADATA.create_all(connection)
        connection.execute(SALES.insert(), ROWS)
    source = Source(name, database.read)
    log_statements(database, source.statements)
    return source


def duckdb_source(path: Path) -> Source:
    """The sales rows in a DuckDB file, read through a (read-only) DuckDatabase."""
    import duckdb

    with duckdb.connect(str(path)) as writer:
        writer.execute(DUCKDB_SALES)
        columns = [column.name for column in SALES.columns]
        marks = ", ".join("?" for _ in columns)
        writer.executemany(
            f"INSERT INTO sales VALUES ({marks})", [[row[c] for c in columns] for row in ROWS]
        )
    statements: list[tuple[str, Any]] = []
    database = DuckDatabase(
        path,
        env="DASHSIGNAL_TEST_NO_SUCH_VARIABLE",
        log=lambda sql, params: statements.append((sql, params)),
    )
    return Source("duckdb", database.read, statements)


def frame() -> pd.DataFrame:
    """The sales rows as the pandas source's own code would return them."""
    rows = pd.DataFrame(ROWS)
    rows["sold_at"] = pd.to_datetime(rows["sold_at"])
    return rows


def pandas_ids(
    values: Mapping[str, Any], columns: Mapping[str, str | None] = COLUMNS, data: Any = None
) -> set[int]:
    """The ids apply_filters keeps."""
    kept = apply_filters(frame() if data is None else data, FILTERS, values, columns)
    return set(kept["id"].tolist())


def at_once(works: list[Callable[[], Any]], timeout: float = 60) -> list[Any]:
    """What each of `works` returns, each in its own forked child, all started together (they
    wait on one pipe that the parent fills only when all are forked); a child's error is an
    AssertionError."""
    start_reader, start_writer = os.pipe()
    children = []
    for work in works:
        reader, writer = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            os.close(reader)
            os.close(start_writer)
            os.read(start_reader, 1)
            try:
                payload = pickle.dumps(("ok", work()))
            except BaseException as error:
                payload = pickle.dumps(("error", repr(error)))
            os.write(writer, payload)
            os.close(writer)
            gc.collect()
            os._exit(0)
        os.close(writer)
        children.append((pid, reader))
    os.write(start_writer, b"x" * len(works))
    os.close(start_writer)
    os.close(start_reader)
    results = []
    deadline = time.monotonic() + timeout
    for pid, reader in children:
        with os.fdopen(reader, "rb") as pipe:
            data = pipe.read()
        while (done := os.waitpid(pid, os.WNOHANG)) == (0, 0):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise AssertionError("a child did not exit")
            time.sleep(0.01)
        assert os.waitstatus_to_exitcode(done[1]) == 0, f"a child ended with {done[1]}"
        status, result = pickle.loads(data)
        assert status == "ok", result
        results.append(result)
    return results
