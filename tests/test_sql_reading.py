"""What the SQL sources read (dashsignal.sql): dates as datetime64 from every backend, frames
that keep every column and value, a column's distinct values as filter options (bounded, its
name checked and quoted), and the default database created on a process's first use."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
import sqlalchemy as sa

from dashsignal.demo import Choice, DemoSales, Years
from dashsignal.sql import Database, DuckDatabase

from sql_helpers import ROWS, at_once, duckdb_source, sqlalchemy_source

NO_VARIABLE = "DASHSIGNAL_TEST_NO_SUCH_VARIABLE"
DEMO = DemoSales(Choice("region", ("North", "South")), Years("year", 2023, 2024), rows=1_000)


def _readers(kind: str, tmp_path: Path, postgres_url: str | None) -> Any:
    """The `read` and `distinct` of a Database or DuckDatabase on the sql_helpers rows."""
    if kind == "duckdb":
        duckdb_source(tmp_path / "sales.duckdb")
        return DuckDatabase(tmp_path / "sales.duckdb", env=NO_VARIABLE)
    url = postgres_url if kind == "postgresql" else f"sqlite:///{tmp_path / 'sales.db'}"
    assert url is not None
    sqlalchemy_source(kind, url)
    return Database(url, env=NO_VARIABLE)


@pytest.fixture(params=["sqlite", "duckdb", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    postgres_url = (
        request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    )
    return _readers(request.param, tmp_path, postgres_url)


# --- dates --------------------------------------------------------------------------------------


def test_the_columns_named_in_dates_come_back_as_datetime64(database: Any) -> None:
    frame = database.read(
        "SELECT id, sold_on, sold_at FROM sales ORDER BY id", dates=("sold_on", "sold_at")
    )
    assert pd.api.types.is_datetime64_dtype(frame["sold_on"])
    assert pd.api.types.is_datetime64_dtype(frame["sold_at"])
    expected_days = [
        pd.NaT if row["sold_on"] is None else pd.Timestamp(row["sold_on"]) for row in ROWS
    ]
    assert frame["sold_on"].tolist() == expected_days
    # Microseconds survive: one row sits at 23:59:59.999999.
    expected_moments = [
        pd.NaT if row["sold_at"] is None else pd.Timestamp(row["sold_at"]) for row in ROWS
    ]
    assert frame["sold_at"].tolist() == expected_moments


def test_without_dates_sqlite_gives_text_and_postgresql_date_objects(
    tmp_path: Path, postgres_url: str
) -> None:
    # What `dates` is for: the same column comes back differently from each driver.
    sqlite = _readers("sqlite", tmp_path, None).read("SELECT sold_on FROM sales WHERE id = 1")
    postgresql = _readers("postgresql", tmp_path, postgres_url).read(
        "SELECT sold_on FROM sales WHERE id = 1"
    )
    assert isinstance(sqlite.iloc[0, 0], str)
    assert isinstance(postgresql.iloc[0, 0], dt.date)


def test_dates_of_an_empty_result_and_bad_dates(database: Any) -> None:
    empty = database.read("SELECT id, sold_on FROM sales WHERE id < 0", dates=("sold_on",))
    assert list(empty.columns) == ["id", "sold_on"] and empty.empty
    assert pd.api.types.is_datetime64_dtype(empty["sold_on"])
    with pytest.raises(ValueError, match="no column missing"):
        database.read("SELECT id FROM sales", dates=("missing",))
    with pytest.raises(TypeError):
        database.read("SELECT sold_on FROM sales", dates="sold_on")


# --- frames -------------------------------------------------------------------------------------


def test_the_frame_holds_every_value_as_from_records_did(tmp_path: Path) -> None:
    database = _readers("sqlite", tmp_path, None)
    names = [column for column in ROWS[0] if column != "sold_at"]
    frame = database.read(f"SELECT {', '.join(names)} FROM sales ORDER BY id")
    with database.engine.connect() as connection:
        result = connection.execute(sa.text(f"SELECT {', '.join(names)} FROM sales ORDER BY id"))
        before = pd.DataFrame.from_records(list(result.all()), columns=names)
    pd.testing.assert_frame_equal(frame, before)
    assert frame["region"].isna().sum() == sum(row["region"] is None for row in ROWS) > 0


def test_two_columns_of_the_same_name_both_stay(tmp_path: Path) -> None:
    database = _readers("sqlite", tmp_path, None)
    frame = database.read("SELECT id, store AS x, region AS x FROM sales ORDER BY id LIMIT 2")
    assert list(frame.columns) == ["id", "x", "x"]
    assert frame.iloc[:, 1].tolist() == [row["store"] for row in ROWS[:2]]
    assert frame.iloc[:, 2].tolist() == [row["region"] for row in ROWS[:2]]


# --- distinct -----------------------------------------------------------------------------------


def test_distinct_gives_the_sorted_values_without_null_as_python_values(database: Any) -> None:
    regions = database.distinct("region", "sales")
    assert regions == ("East", "North", "South", "West")
    assert all(type(region) is str for region in regions)
    stores = database.distinct("store", "sales")
    assert stores == (1, 2, 3) and all(type(store) is int for store in stores)
    assert database.distinct("segment", "sales") == ("business", "retail")


def test_distinct_refuses_more_values_than_its_limit(database: Any) -> None:
    assert database.distinct("store", "sales", limit=3) == (1, 2, 3)
    with pytest.raises(ValueError, match="column store has more than 2 distinct values"):
        database.distinct("store", "sales", limit=2)
    # The default limit is 500: the 400 ids fit, one fewer limit does not.
    assert len(database.distinct("id", "sales")) == len(ROWS) == 400
    with pytest.raises(ValueError, match="column id has more than 399"):
        database.distinct("id", "sales", limit=399)
    with pytest.raises(ValueError, match="limit"):
        database.distinct("store", "sales", limit=0)


@pytest.mark.parametrize(
    ("column", "table"),
    [
        ("region FROM sales; DROP TABLE sales; --", "sales"),
        ('region"', "sales"),
        ("sales.region", "sales"),
        ("region", "sales WHERE 1=1"),
        ("region", "(SELECT 1)"),
        ("", "sales"),
    ],
)
def test_distinct_refuses_a_hostile_name(database: Any, column: str, table: str) -> None:
    with pytest.raises(ValueError, match="invalid"):
        database.distinct(column, table)
    # Nothing ran: the table is whole.
    assert len(database.read("SELECT id FROM sales")) == len(ROWS)


def test_distinct_quotes_names_so_reserved_words_and_case_are_names(
    tmp_path: Path, postgres_url: str
) -> None:
    create = 'CREATE TABLE "order" ("select" INTEGER, "Region" TEXT)'
    insert = """INSERT INTO "order" VALUES (2, 'b'), (1, 'a'), (2, NULL)"""
    for url in (f"sqlite:///{tmp_path / 'q.db'}", postgres_url):
        database = Database(url, env=NO_VARIABLE)
        with database.engine.begin() as connection:
            connection.exec_driver_sql('DROP TABLE IF EXISTS "order"')
            connection.exec_driver_sql(create)
            connection.exec_driver_sql(insert)
        assert database.distinct("select", "order") == (1, 2)
        assert database.distinct("Region", "order") == ("a", "b")
    with duckdb.connect(str(tmp_path / "q.duckdb")) as writer:
        writer.execute(create)
        writer.execute(insert)
    duck = DuckDatabase(tmp_path / "q.duckdb", env=NO_VARIABLE)
    assert duck.distinct("select", "order") == (1, 2)
    assert duck.distinct("Region", "order") == ("a", "b")


def test_distinct_reads_a_table_of_a_schema(postgres_url: str) -> None:
    database = Database(postgres_url, env=NO_VARIABLE)
    with database.engine.begin() as connection:
        connection.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS shop")
        connection.exec_driver_sql("DROP TABLE IF EXISTS shop.items")
        connection.exec_driver_sql("CREATE TABLE shop.items (kind TEXT)")
        connection.exec_driver_sql("INSERT INTO shop.items VALUES ('x'), ('y'), ('x')")
    assert database.distinct("kind", "shop.items") == ("x", "y")


# --- the default database, created on first use ---------------------------------------------


def _counted(create: Callable[[str], object], calls: list[str]) -> Callable[[str], object]:
    def counted(path: str) -> object:
        calls.append(path)
        return create(path)

    return counted


def _calls_after_a_read(database: Any, calls: list[str]) -> int:
    assert database.read("SELECT 1").iloc[0, 0] == 1
    return len(calls)


def test_database_creates_its_default_sqlite_file_once_per_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SALES_URL", "")  # empty counts as unset
    path = tmp_path / "data" / "sales.db"
    calls: list[str] = []
    database = Database(
        f"sqlite:///{path}", env="SALES_URL", create_default=_counted(DEMO.sqlite, calls)
    )
    assert calls == [] and not path.exists()  # nothing before the first use
    assert database.read("SELECT count(*) FROM sales").iloc[0, 0] == 1_000
    database.dispose()
    assert database.read("SELECT count(*) FROM sales").iloc[0, 0] == 1_000
    assert calls == [str(path)]
    # A forked worker runs it in its own process too (finding the file made).
    assert at_once([lambda: _calls_after_a_read(database, calls)]) == [2]
    assert calls == [str(path)]


def test_database_runs_no_create_default_when_the_environment_names_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other.db"
    with sa.create_engine(f"sqlite:///{other}").begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    monkeypatch.setenv("SALES_URL", f"sqlite:///{other}")
    calls: list[str] = []
    database = Database(
        f"sqlite:///{tmp_path / 'default.db'}",
        env="SALES_URL",
        create_default=_counted(DEMO.sqlite, calls),
    )
    assert database.read("SELECT count(*) FROM t").iloc[0, 0] == 0
    assert calls == [] and not (tmp_path / "default.db").exists()


def test_a_failing_create_default_runs_again_at_the_next_use(tmp_path: Path) -> None:
    path = tmp_path / "sales.db"
    attempts: list[str] = []

    def flaky(target: str) -> None:
        attempts.append(target)
        if len(attempts) == 1:
            raise OSError("disk full")
        DEMO.sqlite(target)

    database = Database(f"sqlite:///{path}", env=NO_VARIABLE, create_default=flaky)
    with pytest.raises(OSError, match="disk full"):
        database.read("SELECT 1")
    assert database.read("SELECT count(*) FROM sales").iloc[0, 0] == 1_000
    assert attempts == [str(path), str(path)]


@pytest.mark.parametrize(
    "url", ["sqlite://", "sqlite:///:memory:", "postgresql+psycopg://u@localhost/db"]
)
def test_create_default_needs_a_sqlite_file(url: str) -> None:
    with pytest.raises(ValueError, match="SQLite file"):
        Database(url, create_default=DEMO.sqlite)
    Database(url)  # without it, any URL


def test_duckdatabase_creates_its_default_file_once_per_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SALES_DUCKDB", raising=False)
    path = tmp_path / "sales.duckdb"
    calls: list[str] = []
    database = DuckDatabase(path, env="SALES_DUCKDB", create_default=_counted(DEMO.duckdb, calls))
    assert not path.exists()
    assert database.read("SELECT count(*) FROM sales").iloc[0, 0] == 1_000
    database.close()
    assert database.read("SELECT count(*) FROM sales").iloc[0, 0] == 1_000
    assert calls == [str(path)]
    assert at_once([lambda: _calls_after_a_read(database, calls)]) == [2]


def test_duckdatabase_runs_no_create_default_when_the_environment_names_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other.duckdb"
    DEMO.duckdb(other)
    monkeypatch.setenv("SALES_DUCKDB", str(other))
    calls: list[str] = []
    database = DuckDatabase(
        tmp_path / "default.duckdb",
        env="SALES_DUCKDB",
        create_default=_counted(DEMO.duckdb, calls),
    )
    assert database.read("SELECT count(*) FROM sales").iloc[0, 0] == 1_000
    assert calls == [] and not (tmp_path / "default.duckdb").exists()
    with pytest.raises(ValueError, match="memory"):
        DuckDatabase(":memory:", create_default=DEMO.duckdb)
    assert os.environ["SALES_DUCKDB"] == str(other)
