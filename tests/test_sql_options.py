"""A filter's options from the project's own SQL (`options_from = "SELECT ..."`): the first
column's values in the query's order, without NULLs and repeats, bounded, text or whole numbers
only; on SQLite, DuckDB and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa

from dashsignal.sql import Database, DuckDatabase

NO_VARIABLE = "DASHSIGNAL_TEST_NO_SUCH_VARIABLE"
ROWS = [("Lyon", 3), ("Paris", 1), (None, 2), ("Lyon", 4), ("Nice", 5)]


@pytest.fixture(params=["sqlite", "duckdb", "postgresql"])
def source(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database | DuckDatabase]:
    create = "CREATE TABLE stores (name TEXT, rank INTEGER)"
    if request.param == "duckdb":
        path = tmp_path / "shop.duckdb"
        with duckdb.connect(str(path)) as connection:
            connection.execute(create)
            connection.executemany("INSERT INTO stores VALUES (?, ?)", ROWS)
        database: Database | DuckDatabase = DuckDatabase(path, env=NO_VARIABLE)
        yield database
        database.close()
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'shop.sqlite'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS stores")
        connection.exec_driver_sql(create)
        connection.execute(
            sa.text("INSERT INTO stores VALUES (:name, :rank)"),
            [{"name": name, "rank": rank} for name, rank in ROWS],
        )
    engine.dispose()
    database = Database(url, env=NO_VARIABLE)
    yield database
    database.dispose()


def test_the_first_columns_values_in_the_querys_order_without_nulls_and_repeats(
    source: Database | DuckDatabase,
) -> None:
    assert source.options("SELECT name FROM stores ORDER BY rank") == ("Paris", "Lyon", "Nice")
    assert source.options("SELECT rank, name FROM stores ORDER BY rank DESC") == (5, 4, 3, 2, 1)


def test_past_the_limit_or_a_value_of_another_type_is_refused(
    source: Database | DuckDatabase,
) -> None:
    assert source.options("SELECT name FROM stores", limit=3) != ()
    with pytest.raises(ValueError, match="more than 2 values"):
        source.options("SELECT name FROM stores", limit=2)
    with pytest.raises(ValueError, match="options are text or whole numbers"):
        source.options("SELECT rank * 1.5 AS x FROM stores")
