"""The demo's sales data (dashsignal.demo): the same rows in every process, within their declared
bounds, stored with their types in SQLite, DuckDB and PostgreSQL, and each database created
exactly once when gunicorn's workers all start at the same moment, never seen half-written,
even when its creator is killed midway."""

from __future__ import annotations

import datetime as dt
import os
import signal
import sqlite3
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from dashsignal.demo import Choice, Dates, DemoSales, Numbers, Years
from dashsignal.sql import Database, DuckDatabase
from dashsignal_cli.render import demo_columns, render
from dashsignal_cli.specfile import SPEC_FILENAME, load_spec

from sql_helpers import at_once

NO_VARIABLE = "DASHSIGNAL_TEST_NO_SUCH_VARIABLE"
COLUMNS = (
    Choice("region", ("North", "South", "East", "West")),
    Choice("product", ("Basic", "Plus", "Pro")),
    Years("year", 2019, 2025),
    Numbers("score", 0, 100),
    Dates("period", "2025-01-01", "2025-12-31"),
)
NAMES = ["region", "product", "year", "score", "period", "day", "units", "amount"]


def demo(rows: int = 5_000, **options: Any) -> DemoSales:
    return DemoSales(*COLUMNS, rows=rows, **options)


# --- the rows ---------------------------------------------------------------------------------


def test_two_processes_make_the_same_frame() -> None:
    # Each child declares the demo anew: nothing is inherited but the code.
    first, second = at_once([lambda: demo().frame(), lambda: demo().frame()])
    pd.testing.assert_frame_equal(first, second)
    pd.testing.assert_frame_equal(first, demo().frame())
    # The rows depend on the seed (a frame that ignored it would pass the checks above).
    assert not demo(seed=8).frame().equals(first)


GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize(
    ("project", "columns"),
    [
        ("demo", COLUMNS[:3]),
        ("memoize-redis", (Choice("channel", ("Online", "Retail")), Numbers("price", 0, 100))),
        (
            "signal-stages-own-live",
            (
                Choice("region", ("North", "South", "East")),
                Dates("period", "2024-01-01", "2025-12-31"),
            ),
        ),
    ],
)
def test_the_frame_is_the_inline_demo_of_todays_generated_data_py(
    project: str, columns: tuple[Any, ...]
) -> None:
    # A project moving from its inline demo (the data.py of a project made before [data], which
    # render still writes for one) to DemoSales keeps the very same rows.
    spec = load_spec(GOLDEN / project / SPEC_FILENAME)
    record = {k: v for k, v in demo_columns(spec).items() if k != "columns"}
    text = render(spec, record)["data.py"].text
    assert "def _demo_table()" in text
    module = ModuleType(f"golden_{project}")
    exec(compile(text, f"golden_{project}/data.py", "exec"), module.__dict__)  # noqa: S102
    inline = module._demo_table()
    pd.testing.assert_frame_equal(DemoSales(*columns, rows=module.DEMO_ROWS).frame(), inline)


def test_the_frame_is_made_once_per_declaration() -> None:
    sales = demo()
    assert sales.frame() is sales.frame()


def test_the_columns_are_declared_ones_then_day_units_amount_within_their_bounds() -> None:
    frame = demo(rows=20_000).frame()
    assert list(frame.columns) == NAMES
    assert len(frame) == 20_000
    assert set(frame["region"]) == {"North", "South", "East", "West"}
    assert set(frame["product"]) == {"Basic", "Plus", "Pro"}
    assert set(frame["year"]) == set(range(2019, 2026))
    # Each row's day lies in its year, and every day of a year can come up (leap days too).
    assert (frame["day"].dt.year == frame["year"]).all()
    assert {(day.month, day.day) for day in frame["day"]} >= {(1, 1), (12, 31), (2, 29)}
    assert pd.api.types.is_integer_dtype(frame["score"])
    assert frame["score"].between(0, 100).all() and {0, 100} <= set(frame["score"])
    assert pd.api.types.is_datetime64_dtype(frame["period"])
    assert frame["period"].min() == pd.Timestamp("2025-01-01")
    assert frame["period"].max() == pd.Timestamp("2025-12-31")
    assert pd.api.types.is_integer_dtype(frame["units"])
    assert frame["units"].min() == 1 and frame["units"].max() == 19
    assert frame["amount"].dtype == np.float64 and (frame["amount"] > 0).all()
    assert (frame["amount"] == frame["amount"].round(2)).all()


def test_without_years_the_days_lie_in_2024_and_2025_and_float_numbers_have_two_places(
    tmp_path: Path,
) -> None:
    sales = DemoSales(
        Choice("store", (1, 2, 3)), Numbers("discount", 0.0, 0.5), rows=20_000, day="sold_on"
    )
    frame = sales.frame()
    assert list(frame.columns) == ["store", "discount", "sold_on", "units", "amount"]
    assert set(frame["store"]) == {1, 2, 3}
    assert frame["discount"].between(0.0, 0.5).all()
    assert (frame["discount"] == frame["discount"].round(2)).all()
    assert len(set(frame["discount"])) > 40
    assert frame["sold_on"].min() == pd.Timestamp("2024-01-01")
    assert frame["sold_on"].max() == pd.Timestamp("2025-12-31")
    # Whole-number options are stored as integers, float numbers as doubles.
    sales.sqlite(tmp_path / "s.db")
    with sqlite3.connect(tmp_path / "s.db") as connection:
        kinds = connection.execute("SELECT typeof(store), typeof(discount) FROM sales").fetchone()
    assert kinds == ("integer", "real")
    sales.duckdb(tmp_path / "s.duckdb")
    with duckdb.connect(str(tmp_path / "s.duckdb"), read_only=True) as connection:
        declared = [row[:2] for row in connection.execute("DESCRIBE sales").fetchall()][:2]
    assert declared == [("store", "INTEGER"), ("discount", "DOUBLE")]


@pytest.mark.parametrize(
    "make",
    [
        lambda: DemoSales(Choice("region; DROP TABLE sales", ("a",))),
        lambda: DemoSales(Choice('re"gion', ("a",))),
        lambda: DemoSales(Choice("sales.region", ("a",))),
        lambda: DemoSales(Years("1year", 2019, 2020)),
        lambda: DemoSales(table="sales where 1=1"),
        lambda: DemoSales(table="public.sales"),
        lambda: DemoSales(day="day--"),
        lambda: DemoSales(amount=""),
        lambda: DemoSales(Choice("units", ("a",))),
        lambda: DemoSales(Choice("region", ("a",)), Dates("region", "2024-01-01", "2024-02-01")),
        lambda: DemoSales(Years("year", 2019, 2020), Years("season", 2019, 2020)),
        lambda: DemoSales(Choice("region", ())),
        lambda: DemoSales(Choice("region", ("a", 1))),
        lambda: DemoSales(Years("year", 2025, 2019)),
        lambda: DemoSales(Numbers("score", 10, 1)),
        lambda: DemoSales(Dates("period", "2025-12-31", "2025-01-01")),
        lambda: DemoSales(Dates("period", "yesterday", "2025-01-01")),
        lambda: DemoSales(rows=0),
    ],
)
def test_bad_declarations_are_refused(make: Callable[[], DemoSales]) -> None:
    with pytest.raises(ValueError):
        make()


# --- stored with their types --------------------------------------------------------------------


def _expected_rows(sales: DemoSales) -> list[tuple[Any, ...]]:
    frame = sales.frame()
    rows = []
    for row in frame.itertuples(index=False):
        values = list(row)
        for at in (4, 5):
            values[at] = values[at].date()
        rows.append(tuple(values))
    return rows


def _dated(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    return [
        (*row[:4], row[4].date(), row[5].date(), *row[6:]) for row in frame.itertuples(index=False)
    ]


def test_sqlite_stores_each_type_and_database_reads_it_back(tmp_path: Path) -> None:
    sales = demo()
    path = tmp_path / "data" / "sales.db"  # the folder is made too
    assert sales.sqlite(path) is True
    with sqlite3.connect(path) as connection:
        declared = [row[1:3] for row in connection.execute("PRAGMA table_info(sales)")]
        kinds = connection.execute(
            "SELECT typeof(region), typeof(product), typeof(year), typeof(score), "
            "typeof(period), typeof(day), typeof(units), typeof(amount) FROM sales LIMIT 1"
        ).fetchone()
        first_day = connection.execute("SELECT day FROM sales LIMIT 1").fetchone()[0]
    sqlite_types = ["TEXT", "TEXT", "INTEGER", "INTEGER", "DATE", "DATE", "INTEGER", "REAL"]
    assert declared == list(zip(NAMES, sqlite_types, strict=True))
    assert kinds == ("text", "text", "integer", "integer", "text", "text", "integer", "real")
    assert dt.date.fromisoformat(first_day).isoformat() == first_day
    database = Database(f"sqlite:///{path}", env=NO_VARIABLE)
    read = database.read("SELECT * FROM sales", dates=("period", "day"))
    assert _dated(read) == _expected_rows(sales)
    assert sales.sqlite(path) is False


def test_duckdb_stores_each_type_and_duckdatabase_reads_it_back(tmp_path: Path) -> None:
    sales = demo()
    path = tmp_path / "sales.duckdb"
    assert sales.duckdb(path) is True
    with duckdb.connect(str(path), read_only=True) as connection:
        declared = connection.execute("DESCRIBE sales").fetchall()
    duckdb_types = ["VARCHAR", "VARCHAR", "INTEGER", "INTEGER", "DATE", "DATE", "INTEGER", "DOUBLE"]
    assert [row[:2] for row in declared] == list(zip(NAMES, duckdb_types, strict=True))
    read = DuckDatabase(path, env=NO_VARIABLE).read("SELECT * FROM sales", dates=("period", "day"))
    assert pd.api.types.is_datetime64_dtype(read["day"])
    assert _dated(read) == _expected_rows(sales)
    # No write-ahead log left behind, under the temporary name or the final one.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sales.duckdb", "sales.duckdb.lock"]
    assert sales.duckdb(path) is False


def _pg_table(_postgres_url: str) -> str:
    # A table of each test's own: the cluster is the session's.
    return f"sales_{uuid.uuid4().hex[:12]}"


def test_postgresql_stores_each_type_and_loads_once(postgres_url: str) -> None:
    table = _pg_table(postgres_url)
    sales = demo(table=table)
    assert sales.load(postgres_url) is True
    assert sales.load(postgres_url) is False
    database = Database(postgres_url, env=NO_VARIABLE)
    kinds = database.read(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = :table ORDER BY ordinal_position",
        {"table": table},
    )
    pg_types = ["text", "text", "integer", "integer", "date", "date", "integer", "double precision"]
    assert list(kinds.itertuples(index=False, name=None)) == list(zip(NAMES, pg_types, strict=True))
    read = database.read(f'SELECT * FROM "{table}"', dates=("period", "day"))
    assert len(read) == 5_000
    assert _dated(read) == _expected_rows(sales)


def test_postgresql_without_copy_inserts_the_same_rows(postgres_url: str) -> None:
    # load takes COPY on psycopg; the chunked INSERTs that other drivers get, on psycopg's.
    table = _pg_table(postgres_url)
    sales = demo(rows=12_345, table=table)  # more than one chunk of 10,000
    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as connection:
            stored = sales._table()
            stored.create(connection)
            sales._insert(connection, stored)
    finally:
        engine.dispose()
    read = Database(postgres_url, env=NO_VARIABLE).read(
        f'SELECT * FROM "{table}"', dates=("period", "day")
    )
    assert _dated(read) == _expected_rows(sales)


def test_concurrent_loads_create_the_table_once(postgres_url: str) -> None:
    table = _pg_table(postgres_url)
    created = at_once([lambda: demo(table=table).load(postgres_url) for _ in range(4)])
    assert sorted(created) == [False, False, False, True]
    count = Database(postgres_url, env=NO_VARIABLE).read(f'SELECT count(*) FROM "{table}"')
    assert count.iloc[0, 0] == 5_000


# --- created once, never seen half-written ------------------------------------------------------


def _open_read_only(kind: str, path: Path, table: str = "sales") -> int:
    if kind == "sqlite":
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            return int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    with duckdb.connect(str(path), read_only=True) as connection:
        row = connection.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert row is not None
        return int(row[0])


@pytest.mark.parametrize("kind", ["sqlite", "duckdb"])
def test_four_workers_starting_at_once_create_the_file_once(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "data" / f"sales.{kind}"
    rows = 100_000  # a creation long enough for the others to arrive while it runs

    def worker() -> tuple[bool, int, int]:
        created = getattr(demo(rows=rows), kind)(path)
        return created, path.stat().st_ino, _open_read_only(kind, path)

    results = at_once([worker] * 4)
    assert sorted(created for created, _, _ in results) == [False, False, False, True]
    # One file ever took the path: one inode, seen by all, complete for all.
    assert {inode for _, inode, _ in results} == {path.stat().st_ino}
    assert [count for _, _, count in results] == [rows] * 4
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name, path.name + ".lock"]


@pytest.mark.parametrize("kind", ["sqlite", "duckdb"])
def test_a_creator_killed_midway_leaves_no_database_and_the_next_call_creates_it(
    tmp_path: Path, kind: str
) -> None:
    path = tmp_path / f"sales.{kind}"
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child, killed before it ends
        try:
            getattr(demo(rows=4_000_000), kind)(path)
        finally:
            os._exit(0)
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(f"{path.name}.tmp-*")):
            assert time.monotonic() < deadline, "the child never started writing"
            assert os.waitpid(pid, os.WNOHANG) == (0, 0), "the child ended before writing"
            time.sleep(0.005)
        time.sleep(0.05)
    finally:
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status), "the child ended before it was killed: make it slower"
    assert not path.exists()
    assert list(tmp_path.glob(f"{path.name}.tmp-*"))  # what the kill left
    # The dead child's lock went with it: the next call is not kept waiting.
    assert getattr(demo(), kind)(path) is True
    assert _open_read_only(kind, path) == 5_000
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name, path.name + ".lock"]


def test_an_existing_file_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "sales.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE mine (x INTEGER)")
    assert demo().sqlite(path) is False
    with sqlite3.connect(path) as connection:
        tables = connection.execute("SELECT name FROM sqlite_master").fetchall()
    assert tables == [("mine",)]
    # The fast path takes no lock: no lock file appears.
    assert not (tmp_path / "sales.db.lock").exists()
