"""The connections of the SQL sources hold up in production (dashsignal.sql): a forked child
(a gunicorn worker) opens its own and leaves its parent's alone, every statement has a time
limit, DuckDB reads through one cursor per thread, and the URL comes from the environment."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlalchemy as sa

from dashsignal.sql import Database, DuckDatabase

from sql_helpers import at_once, duckdb_source

NO_VARIABLE = "DASHSIGNAL_TEST_NO_SUCH_VARIABLE"
# Statements that run for many seconds unless they are stopped.
SLOW = {
    "sqlite": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000000) "
    "SELECT count(*) FROM n",
    "postgresql": "SELECT pg_sleep(60)",
    "duckdb": "SELECT sum(hash(i)) FROM range(10000000000) t(i)",
}


def in_child(work: Callable[[], Any]) -> Any:
    """What `work` returns in a forked child (which then exits as a worker would, collecting
    its garbage first), or the child's error as an AssertionError."""
    (result,) = at_once([work], timeout=30)
    return result


def _scalar(read: Callable[..., Any], sql: str) -> Any:
    return read(sql).iloc[0, 0]


# --- fork -------------------------------------------------------------------------------------


def test_a_forked_child_opens_its_own_postgresql_connections(postgres_url: str) -> None:
    database = Database(postgres_url, env=NO_VARIABLE)
    backend = _scalar(database.read, "SELECT pg_backend_pid()")
    engine = database.engine

    def child() -> tuple[bool, int]:
        return database.engine is engine, int(_scalar(database.read, "SELECT pg_backend_pid()"))

    same_engine, child_backend = in_child(child)
    assert not same_engine
    assert child_backend != backend
    # The parent's connection outlived the child: the same server process still serves it
    # (had the child closed it, pool_pre_ping would have opened another one, silently).
    assert _scalar(database.read, "SELECT pg_backend_pid()") == backend
    assert in_child(child)[1] != backend


def test_a_forked_child_opens_its_own_sqlite_connections(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'data.db'}", env=NO_VARIABLE)
    with database.engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        connection.exec_driver_sql("INSERT INTO t VALUES (1), (2)")
        parent_connection = connection.connection.dbapi_connection
    engine = database.engine

    def child() -> tuple[bool, bool, int]:
        with database.engine.connect() as connection:
            raw = connection.connection.dbapi_connection
        return (
            database.engine is engine,
            raw is parent_connection,
            _scalar(database.read, "SELECT sum(x) FROM t"),
        )

    assert in_child(child) == (False, False, 3)
    with database.engine.connect() as connection:
        assert connection.connection.dbapi_connection is parent_connection
    assert _scalar(database.read, "SELECT sum(x) FROM t") == 3


def test_a_forked_child_opens_its_own_duckdb_connection(tmp_path: Path) -> None:
    source = duckdb_source(tmp_path / "sales.duckdb")
    database = DuckDatabase(tmp_path / "sales.duckdb", env=NO_VARIABLE)
    count = _scalar(database.read, "SELECT count(*) FROM sales")
    cursor = database.cursor()

    def child() -> tuple[bool, int]:
        return database.cursor() is cursor, int(
            _scalar(database.read, "SELECT count(*) FROM sales")
        )

    assert in_child(child) == (False, count)
    assert database.cursor() is cursor
    assert _scalar(source.read, "SELECT count(*) FROM sales") == count
    assert _scalar(database.read, "SELECT count(*) FROM sales") == count


# --- statement timeouts ---------------------------------------------------------------------------


def _times_out(read: Callable[..., Any], sql: str, error: type[BaseException]) -> float:
    start = time.monotonic()
    with pytest.raises(error):
        read(sql)
    return time.monotonic() - start


def test_postgresql_cancels_a_statement_past_its_timeout(postgres_url: str) -> None:
    database = Database(postgres_url, env=NO_VARIABLE, timeout=0.3)
    assert _scalar(database.read, "SHOW statement_timeout") == "300ms"
    elapsed = _times_out(database.read, SLOW["postgresql"], sa.exc.OperationalError)
    assert 0.25 < elapsed < 5
    # The limit survives the pool's rollback, and the connection serves the next statement.
    assert _scalar(database.read, "SHOW statement_timeout") == "300ms"
    assert _scalar(database.read, "SELECT 1") == 1


def test_sqlite_interrupts_a_statement_past_its_timeout(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'data.db'}", env=NO_VARIABLE, timeout=0.3)
    connections: list[object] = []
    sa.event.listen(database.engine, "connect", lambda dbapi, _record: connections.append(dbapi))
    elapsed = _times_out(database.read, SLOW["sqlite"], sa.exc.OperationalError)
    assert 0.25 < elapsed < 5
    # Once the connection is back in the pool its deadline is gone: idle time does not count
    # against the next statement.
    time.sleep(0.5)
    assert _scalar(database.read, "SELECT 1") == 1
    # A statement that finishes in time is not interrupted while its rows are fetched.
    rows = database.read(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
        "WHERE i < 50000) SELECT i FROM n"
    )
    assert len(rows) == 50000
    # All on one connection: the pool's rollback after the interrupted statement was not
    # interrupted too (which would have made the pool throw the connection away).
    assert len(connections) == 1


def test_a_sqlite_deadline_ends_with_its_connection_checkout(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'data.db'}", env=NO_VARIABLE, timeout=0.2)
    assert _scalar(database.read, "SELECT 1") == 1
    time.sleep(0.3)
    # The driver's own cursor (SQLAlchemy's events do not see it) on the same pooled
    # connection: the last statement's deadline, long past, must not interrupt it.
    with database.engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        assert raw is not None
        rows = raw.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) "
            "SELECT count(*) FROM n"
        ).fetchall()
    assert rows == [(20000,)]


def test_duckdb_interrupts_a_statement_past_its_timeout(tmp_path: Path) -> None:
    database = DuckDatabase(":memory:", env=NO_VARIABLE, timeout=0.3)
    elapsed = _times_out(database.read, SLOW["duckdb"], duckdb.InterruptException)
    assert 0.25 < elapsed < 5
    assert _scalar(database.read, "SELECT 1") == 1
    # A timer that fires after its statement ended interrupts nothing.
    time.sleep(0.5)
    assert _scalar(database.read, "SELECT 2") == 2


def test_a_dialect_without_a_known_timeout_is_refused() -> None:
    with pytest.raises(ValueError, match="no statement timeout is known for mysql"):
        _ = Database("mysql://user@localhost/db", env=NO_VARIABLE).engine
    assert Database("mysql+pymysql://u@h/db", env=NO_VARIABLE, timeout=None).url.startswith("mysql")


# --- DuckDB: one cursor per thread -----------------------------------------------------------


def test_duckdb_reads_through_one_cursor_per_thread(tmp_path: Path) -> None:
    duckdb_source(tmp_path / "sales.duckdb")
    database = DuckDatabase(tmp_path / "sales.duckdb", env=NO_VARIABLE)
    expected = {
        store: _scalar(database.read, f"SELECT count(*) FROM sales WHERE store = {store}")
        for store in (1, 2, 3)
    }
    threads = 6
    start = threading.Barrier(threads)

    def work(index: int) -> tuple[Any, bool, list[int]]:
        start.wait()
        cursor = database.cursor()
        store = index % 3 + 1
        counts = [
            int(
                _scalar(
                    lambda sql: database.read(sql, {"store": store}),
                    "SELECT count(*) FROM sales WHERE store = :store",
                )
            )
            for _ in range(20)
        ]
        return cursor, database.cursor() is cursor, counts

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(work, range(threads)))
    assert all(same for _, same, _ in results)
    assert len({id(cursor) for cursor, _, _ in results}) == threads
    for index, (_, _, counts) in enumerate(results):
        assert counts == [expected[index % 3 + 1]] * 20


def test_duckdb_opens_the_file_read_only(tmp_path: Path) -> None:
    duckdb_source(tmp_path / "sales.duckdb")
    database = DuckDatabase(tmp_path / "sales.duckdb", env=NO_VARIABLE)
    with pytest.raises(duckdb.Error, match="read-only"):
        database.read("DELETE FROM sales")


# --- where the URL comes from -------------------------------------------------------------------


def test_the_url_comes_from_the_environment_else_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    default, chosen = tmp_path / "default.db", tmp_path / "chosen.db"
    monkeypatch.setenv("SALES_DATABASE_URL", "")
    database = Database(f"sqlite:///{default}", env="SALES_DATABASE_URL")
    assert database.url == f"sqlite:///{default}"
    monkeypatch.setenv("SALES_DATABASE_URL", f"sqlite:///{chosen}")
    assert database.url == f"sqlite:///{chosen}"
    database.read("SELECT 1")
    assert chosen.exists() and not default.exists()
    monkeypatch.setenv("SALES_DUCKDB", str(tmp_path / "missing.duckdb"))
    with pytest.raises(duckdb.Error):
        DuckDatabase(tmp_path / "default.duckdb", env="SALES_DUCKDB").read("SELECT 1")
