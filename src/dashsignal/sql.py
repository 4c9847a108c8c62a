"""The SQL sources: declared filters as conditions with bound parameters, and the connections
that run them in production.

Filter values never enter SQL text. `conditions` turns the declared filters and their canonical
values into SQLAlchemy Core expressions whose values are bound parameters: equality for a
dropdown or radio (a dropdown at None is no condition), `IN` with one expanding parameter for a
multi or checklist (an empty selection is no condition), `BETWEEN` for a range, and a half-open
range for dates (`column >= start AND column < end + 1 day`, so the end day is included whatever
the time of day; a None bound is no condition on that side). Column names come from the
declarations (see dashsignal.columns), are checked as identifiers and always quoted by the
dialect.

Two ways to use them:

- Core: `select(sales).where(where(FILTERS, values))`.
- The project's own SQL text, with one `{conditions}` placeholder:
  `filtered_text("SELECT region, sum(amount) AS amount FROM sales WHERE {conditions} GROUP BY
  region", FILTERS, values)`. The text around the placeholder is a SQLAlchemy `text()` (its own
  parameters are written `:name` and given to `read`), and the conditions are compiled into the
  placeholder by the same compiler, in one pass: the placeholder is the only thing substituted,
  only ever by SQL built from declared identifiers, and the values stay bound parameters in
  every dialect's own parameter style.

`Database` (SQLAlchemy, for SQLite, PostgreSQL...) and `DuckDatabase` (DuckDB) hold one
connection pool per process, created in the process that uses it: after `os.fork()` (gunicorn
forking its workers) the child never touches its parent's connections, and opens its own. Every
statement has a time limit, and a failing statement raises an ordinary exception.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.engine.default import DefaultDialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement, ColumnElement, TextClause, quoted_name
from sqlalchemy.sql.expression import Executable

from dashsignal.columns import check_column, filter_columns

if TYPE_CHECKING:
    import duckdb

    from dashsignal.filters import Filters

__all__ = [
    "PLACEHOLDER",
    "Database",
    "DuckDatabase",
    "conditions",
    "filtered_text",
    "where",
]

PLACEHOLDER = "{conditions}"
_ONE_DAY = dt.timedelta(days=1)

# --- conditions --------------------------------------------------------------------------------


def conditions(
    filters: Filters, values: Mapping[str, Any], columns: Mapping[str, str | None] | None = None
) -> list[ColumnElement[bool]]:
    """The conditions the filters' values put on their columns, in declaration order.

    `values` are validated again with `filters.canonical` (InvalidFilters if one is not
    declared); `columns` maps a filter id to its column, or to None for a filter that is not a
    condition (see dashsignal.columns.filter_columns: ValueError for a bad column name).
    """
    mapped = filter_columns(filters, columns)
    canonical = filters.canonical(values)
    found: list[ColumnElement[bool]] = []
    for filter_id, name in mapped.items():
        found.extend(_conditions(filters[filter_id].kind, _column(name), canonical[filter_id]))
    return found


def where(
    filters: Filters, values: Mapping[str, Any], columns: Mapping[str, str | None] | None = None
) -> ColumnElement[bool]:
    """All the conditions joined with AND (`true` when there is none), for `.where(...)`."""
    found = conditions(filters, values, columns)
    return sa.and_(*found) if found else sa.true()


def filtered_text(
    sql: str,
    filters: Filters,
    values: Mapping[str, Any],
    columns: Mapping[str, str | None] | None = None,
) -> Executable:
    """The SQL text `sql` with the filters' conditions, in parentheses, at its one `{conditions}`.

    The rest of `sql` is a SQLAlchemy `text()`: its own parameters are written `:name` and their
    values given to `read`. ValueError unless `sql` holds the placeholder exactly once.
    """
    parts = sql.split(PLACEHOLDER)
    if len(parts) != 2:
        raise ValueError(f"the SQL text must hold {PLACEHOLDER} exactly once, not {len(parts) - 1}")
    return _TextWithConditions(
        sa.text(parts[0]), where(filters, values, columns), sa.text(parts[1])
    )


def _column(name: str) -> ColumnElement[Any]:
    # Always quoted: the declared name is the column's exact name, whatever the dialect's
    # reserved words (the name is an identifier: see dashsignal.columns).
    *table, column_name = name.split(".")
    column: sa.ColumnClause[Any] = sa.column(quoted_name(column_name, True))
    if table:
        sa.table(quoted_name(table[0], True), column)
    return column


def _conditions(kind: str, column: ColumnElement[Any], value: Any) -> list[ColumnElement[bool]]:
    if kind in ("dropdown", "radio"):
        return [] if value is None else [column == value]
    if kind in ("multi", "checklist"):
        # One expanding parameter: IN (?, ?, ...) with as many parameters as values.
        return [column.in_(value)] if value else []
    if kind == "range":
        low, high = value
        return [column.between(low, high)]
    start, end = value
    found: list[ColumnElement[bool]] = []
    if start is not None:
        found.append(column >= dt.date.fromisoformat(start))
    if end is not None:
        found.append(column < dt.date.fromisoformat(end) + _ONE_DAY)
    return found


class _TextWithConditions(Executable, ClauseElement):
    """Text, conditions, text: compiled as one statement by the dialect's compiler."""

    # Compiled anew each time rather than cached: the construct has no cache key of its own.
    inherit_cache = False

    def __init__(self, before: TextClause, condition: ColumnElement[bool], after: TextClause):
        self.before = before
        self.condition = condition
        self.after = after


@compiles(_TextWithConditions)
def _compile_text_with_conditions(
    element: _TextWithConditions, compiler: SQLCompiler, **kw: Any
) -> str:
    before = compiler.process(element.before, **kw)
    condition = compiler.process(element.condition, **kw)
    return f"{before}({condition}){compiler.process(element.after, **kw)}"


def _statement(query: str | Executable) -> Executable:
    return sa.text(query) if isinstance(query, str) else query


def _frame(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> pd.DataFrame:
    # Plain tuples: pandas converts a list of tuples in C, but a list of SQLAlchemy rows (not
    # tuples) one row at a time. The frame of 200,000 rows of 8 columns is built in 0.23 s
    # instead of 1.56 s (the rows themselves) or 0.57 s (column by column, zip(*rows)); the
    # whole read, fetch included, takes half the time it took: benchmarks/bench_sources.py.
    return pd.DataFrame(list(map(tuple, rows)), columns=list(columns))


def _with_dates(frame: pd.DataFrame, dates: Sequence[str]) -> pd.DataFrame:
    """`frame` with the columns named in `dates` as datetime64: SQLite gives ISO text,
    PostgreSQL datetime.date objects, DuckDB datetime64 already."""
    if isinstance(dates, str):
        raise TypeError("dates is a sequence of column names, not one name")
    missing = [name for name in dates if name not in frame.columns]
    if missing:
        raise ValueError(f"the result has no column {', '.join(missing)} (named in dates)")
    for name in dates:
        column = frame[name]
        if not pd.api.types.is_datetime64_any_dtype(column):
            # ISO8601: 'YYYY-MM-DD' text and 'YYYY-MM-DD HH:MM:SS' alike; date objects too.
            frame[name] = pd.to_datetime(column, format="ISO8601")
    return frame


def _distinct_query(column: str, table: str, limit: int) -> sa.Select[Any]:
    """The sorted distinct non-null values of `column`, one more than `limit` at most."""
    check_column(column)
    check_column(table)
    if "." in column:
        raise ValueError(f"invalid column name {column!r}: the table is given apart")
    _check_limit(limit)
    *schema, table_name = table.split(".")
    # Quoted always, like the conditions' columns: the declared name is the exact name.
    source = sa.table(
        quoted_name(table_name, True),
        sa.column(quoted_name(column, True)),
        schema=quoted_name(schema[0], True) if schema else None,
    )
    value = source.c[column]
    return sa.select(value).distinct().where(value.is_not(None)).order_by(value).limit(limit + 1)


def _distinct_values(column: str, rows: Sequence[Sequence[Any]], limit: int) -> tuple[Any, ...]:
    if len(rows) > limit:
        raise ValueError(
            f"column {column} has more than {limit} distinct values: too many filter options"
        )
    return tuple(row[0] for row in rows)


def _check_limit(limit: object) -> None:
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise ValueError("limit must be a positive whole number")


def _option_values(rows: Iterator[Sequence[Any]], limit: int) -> tuple[Any, ...]:
    seen: dict[Any, None] = {}
    for row in rows:
        value = row[0]
        if value is None or (type(value), value) in seen:
            continue
        if type(value) not in (str, int):
            raise ValueError(
                f"the options query gave {value!r} ({type(value).__name__}): options are text "
                "or whole numbers (cast it in the SQL)"
            )
        seen[(type(value), value)] = None
        if len(seen) > limit:
            raise ValueError(
                f"the options query gives more than {limit} values: too many filter options"
            )
    return tuple(value for _, value in seen)


# --- one resource per process --------------------------------------------------------------------

_T = TypeVar("_T")
_HOLDERS: weakref.WeakSet[_PerProcess[Any]] = weakref.WeakSet()
# What forked children inherited and must neither use nor close (see _PerProcess.after_fork).
_INHERITED: list[Any] = []


class _PerProcess(Generic[_T]):
    """A resource created on first use in the process that uses it, and again in a forked child.

    In a child, the parent's resource is handed to `abandon` (which must not close what the
    parent still uses), and the lock is new: another thread of the parent may have held it
    at the fork, and nothing in the child would ever release it.
    """

    def __init__(self, create: Callable[[], _T], abandon: Callable[[_T], None]) -> None:
        self._create = create
        self._abandon = abandon
        self._lock = threading.Lock()
        self._value: _T | None = None
        self._pid = os.getpid()
        _HOLDERS.add(self)

    def get(self) -> _T:
        # The pid check also covers a fork that skipped os.register_at_fork's hooks.
        if self._pid != os.getpid():
            self.after_fork()
        value = self._value
        if value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._create()
                value = self._value
        return value

    def close(self, close: Callable[[_T], None]) -> None:
        with self._lock:
            value, self._value = self._value, None
        if value is not None:
            close(value)

    def after_fork(self) -> None:
        self._lock = threading.Lock()
        value, self._value = self._value, None
        self._pid = os.getpid()
        if value is not None:
            self._abandon(value)


def _after_fork_in_child() -> None:
    for holder in list(_HOLDERS):
        holder.after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


# --- SQLAlchemy --------------------------------------------------------------------------------


class Database:
    """One SQLAlchemy engine per process, on the URL in an environment variable.

    The URL is read from `env` when the process first uses the database, `default_url` when it
    is unset or empty (a SQLite file, say). The engine checks each connection before using it
    (`pool_pre_ping`) and gives every statement `timeout` seconds: PostgreSQL's
    `statement_timeout`, and on SQLite a progress handler that interrupts a statement past its
    time, plus the same busy timeout for locks. Other dialects need `timeout=None` (no limit).

    `create_default`, if given, makes the default database: it is called with the default
    URL's SQLite file path (`sqlite:///data/sales.db` gives `data/sales.db`) once per process,
    before the process's first connection, and only when the process uses the default (`env`
    unset or empty). It must be safe to call from several processes at once and do nothing
    when the file exists: `create_default=DEMO.sqlite` (dashsignal.demo). A default URL that
    is not a SQLite file is a ValueError then (a server database is loaded apart, with
    `DEMO.load(url)`).
    """

    def __init__(
        self,
        default_url: str,
        *,
        env: str = "DATABASE_URL",
        timeout: float | None = 30.0,
        create_default: Callable[[str], object] | None = None,
    ) -> None:
        if timeout is not None and not timeout > 0:
            raise ValueError("timeout must be a positive number of seconds, or None")
        self.default_url = default_url
        self.env = env
        self.timeout = timeout
        self.create_default = create_default
        self._default_path = _sqlite_file(default_url) if create_default is not None else None
        self._engine = _PerProcess(self._create_engine, _abandon_engine)
        self._made_default = _OncePerProcess()

    @property
    def url(self) -> str:
        """The URL this process connects to (what `env` says, else `default_url`)."""
        return os.environ.get(self.env) or self.default_url

    @property
    def engine(self) -> Engine:
        """This process's engine, created on first use."""
        return self._engine.get()

    def read(
        self,
        query: str | Executable,
        params: Mapping[str, Any] | None = None,
        *,
        dates: Sequence[str] = (),
    ) -> pd.DataFrame:
        """The rows of `query` (SQL text, `filtered_text`, or a Core select) as a DataFrame.

        The columns named in `dates` come back as datetime64, whatever the driver gives for
        a date (ISO text on SQLite, datetime.date on PostgreSQL).
        """
        with self.engine.connect() as connection:
            result = connection.execute(_statement(query), dict(params or {}))
            frame = _frame(list(result.keys()), result.all())
        return _with_dates(frame, dates)

    def distinct(self, column: str, table: str, *, limit: int = 500) -> tuple[Any, ...]:
        """The sorted distinct non-null values of `column` in `table`, as the driver gives
        them (str, int...): the options of a filter. ValueError if there are more than
        `limit`, so that the number of filter states stays bounded, or for a bad name."""
        query = _distinct_query(column, table, limit)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return _distinct_values(column, rows, limit)

    def options(self, query: str, *, limit: int = 500) -> tuple[Any, ...]:
        """The values of the first column of `query` (the project's own SQL, from its spec), in
        its order, without NULLs and repeats: the options of a filter. ValueError past `limit`
        values, or for a value that is neither text nor a whole number."""
        _check_limit(limit)
        with self.engine.connect() as connection:
            return _option_values(iter(connection.execute(sa.text(query))), limit)

    def dispose(self) -> None:
        """Close this process's connections; the next use opens new ones."""
        self._engine.close(lambda engine: engine.dispose())

    def _create_engine(self) -> Engine:
        configured = os.environ.get(self.env)
        if not configured and self.create_default is not None and self._default_path:
            self._made_default.run(self.create_default, self._default_path)
        url = sa.make_url(configured or self.default_url)
        backend = url.get_backend_name()
        if self.timeout is None:
            return sa.create_engine(url, pool_pre_ping=True)
        if backend == "postgresql":
            # libpq waits forever for a server that accepts the connection and never answers.
            # Half the statement's time for connecting, so the two stay within `timeout` + a
            # second or two, below the worker timeout. A connect_timeout in the URL wins.
            connect_args: dict[str, Any] = {}
            if "connect_timeout" not in url.query:
                connect_args["connect_timeout"] = max(2, math.ceil(self.timeout / 2))
            engine = sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args)
            sa.event.listen(engine, "connect", _postgresql_timeout(self.timeout))
            return engine
        if backend == "sqlite":
            engine = sa.create_engine(
                url, pool_pre_ping=True, connect_args={"timeout": self.timeout}
            )
            _sqlite_timeout(engine, self.timeout)
            return engine
        raise ValueError(
            f"no statement timeout is known for {backend}: use PostgreSQL or SQLite, or "
            "Database(..., timeout=None) to run statements without a time limit"
        )


def _sqlite_file(url: str) -> str:
    """The file path of a SQLite URL; ValueError for any other database."""
    parsed = sa.make_url(url)
    path = parsed.database
    if parsed.get_backend_name() != "sqlite" or not path or path == ":memory:":
        raise ValueError(
            f"create_default needs a default URL of a SQLite file (sqlite:///path), not {url!r}"
        )
    if path.startswith("file:"):
        raise ValueError("create_default needs a plain sqlite:///path URL, not a file: URI")
    return path


class _OncePerProcess:
    """Runs a function once in each process: again in a forked child, never twice in one
    (after `dispose`, say), and again at the next call if it raised.

    Only called while creating the per-process resource, under _PerProcess's lock.
    """

    def __init__(self) -> None:
        self._pid: int | None = None

    def run(self, function: Callable[[str], object], argument: str) -> None:
        if self._pid != os.getpid():
            function(argument)
            self._pid = os.getpid()


def _abandon_engine(engine: Engine) -> None:
    # SQLAlchemy's recipe for a forked child: forget the parent's pool without closing its
    # connections (closing them would end the parent's sessions too).
    engine.dispose(close=False)


def _postgresql_timeout(seconds: float) -> Callable[[Any, Any], None]:
    milliseconds = max(1, round(seconds * 1000))

    def set_timeout(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"SET statement_timeout = {int(milliseconds)}")
        cursor.close()
        # Committed, or the pool's rollback would undo it.
        dbapi_connection.commit()

    return set_timeout


_DEADLINE = "dashsignal_deadline"
_PROGRESS_STEPS = 1000  # SQLite virtual machine instructions between two checks of the time


def _sqlite_timeout(engine: Engine, seconds: float) -> None:
    # Each connection's handler reads the deadline of the statement it runs, kept in the pool's
    # record of the connection: set before each statement, cleared when the connection goes
    # back to the pool (before its rollback, which must not be interrupted). Rows are fetched
    # after the statement starts, so the deadline holds until then.
    def on_connect(dbapi_connection: Any, record: Any) -> None:
        deadline: list[float | None] = [None]
        record.info[_DEADLINE] = deadline

        def past_deadline() -> int:
            end = deadline[0]
            return int(end is not None and time.monotonic() > end)

        dbapi_connection.set_progress_handler(past_deadline, _PROGRESS_STEPS)

    def before_execute(connection: Any, *_args: Any) -> None:
        connection.info[_DEADLINE][0] = time.monotonic() + seconds

    def on_checkin(_dbapi_connection: Any, record: Any) -> None:
        deadline = record.info.get(_DEADLINE)
        if deadline is not None:
            deadline[0] = None

    def on_reset(dbapi_connection: Any, record: Any, _reset_state: Any) -> None:
        on_checkin(dbapi_connection, record)

    sa.event.listen(engine, "connect", on_connect)
    sa.event.listen(engine, "before_cursor_execute", before_execute)
    sa.event.listen(engine, "reset", on_reset)
    sa.event.listen(engine, "checkin", on_checkin)


# --- DuckDB ------------------------------------------------------------------------------------

# DuckDB takes `?` parameters; quoting is standard SQL's ("x"), like DuckDB's.
_DUCKDB_DIALECT = DefaultDialect(paramstyle="qmark")


class _DuckProcess:
    """A process's DuckDB connection, and the cursor of each of its threads."""

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self.connection = connection
        self.threads = threading.local()
        self.lock = threading.Lock()


class DuckDatabase:
    """One read-only DuckDB connection per process, and one cursor per thread.

    DuckDB connections are not thread-safe: each thread reads through its own cursor of the
    process's connection. The database file is the path in `env`, `default_path` when it is
    unset or empty; `:memory:` opens an empty in-memory database (not read-only), for SQL that
    reads Parquet files (`read_parquet('data/sales.parquet')`).

    DuckDB has no statement timeout of its own: a timer thread calls the cursor's `interrupt()`
    when a statement runs past `timeout` seconds, and the statement then raises
    duckdb.InterruptException at DuckDB's next interruption check (between chunks of rows).
    `log`, if given, is called with each statement's SQL and parameters before it runs.

    `create_default`, if given, makes the default database file: it is called with
    `default_path` once per process, before the process's first connection, and only when the
    process uses the default (`env` unset or empty). It must be safe to call from several
    processes at once and do nothing when the file exists: `create_default=DEMO.duckdb`
    (dashsignal.demo). ValueError with a default of `:memory:`.
    """

    def __init__(
        self,
        default_path: str | os.PathLike[str],
        *,
        env: str = "DUCKDB_PATH",
        timeout: float | None = 30.0,
        log: Callable[[str, tuple[Any, ...]], None] | None = None,
        create_default: Callable[[str], object] | None = None,
    ) -> None:
        if timeout is not None and not timeout > 0:
            raise ValueError("timeout must be a positive number of seconds, or None")
        self.default_path = os.fspath(default_path)
        if create_default is not None and self.default_path == ":memory:":
            raise ValueError("create_default needs a default database file, not :memory:")
        self.env = env
        self.timeout = timeout
        self.log = log
        self.create_default = create_default
        self._process = _PerProcess(self._connect, _INHERITED.append)
        self._made_default = _OncePerProcess()

    @property
    def path(self) -> str:
        """The database file this process reads (what `env` says, else `default_path`)."""
        return os.environ.get(self.env) or self.default_path

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor, created on its first use."""
        process = self._process.get()
        cursor: duckdb.DuckDBPyConnection | None = getattr(process.threads, "cursor", None)
        if cursor is None:
            with process.lock:
                cursor = process.connection.cursor()
            process.threads.cursor = cursor
        return cursor

    def read(
        self,
        query: str | Executable,
        params: Mapping[str, Any] | None = None,
        *,
        dates: Sequence[str] = (),
    ) -> pd.DataFrame:
        """The rows of `query` (SQL text, `filtered_text`, or a Core select) as a DataFrame.

        The columns named in `dates` come back as datetime64 (DuckDB's DATE already does; a
        date kept as text is converted).
        """
        # fetch_df, not df: in DuckDB 2.0 df() after a statement with parameters costs some
        # 10 ms more, whatever the result.
        frame = self._run(query, params, lambda cursor: cursor.fetch_df())
        return _with_dates(frame, dates)

    def distinct(self, column: str, table: str, *, limit: int = 500) -> tuple[Any, ...]:
        """The sorted distinct non-null values of `column` in `table`, as Python values (str,
        int...): the options of a filter. ValueError if there are more than `limit`, so that
        the number of filter states stays bounded, or for a bad name."""
        query = _distinct_query(column, table, limit)
        rows = self._run(query, None, lambda cursor: cursor.fetchall())
        return _distinct_values(column, rows, limit)

    def options(self, query: str, *, limit: int = 500) -> tuple[Any, ...]:
        """The values of the first column of `query` (the project's own SQL, from its spec), in
        its order, without NULLs and repeats: the options of a filter. ValueError past `limit`
        values, or for a value that is neither text nor a whole number."""
        _check_limit(limit)
        return self._run(query, None, lambda cursor: _option_values(iter(cursor.fetchall()), limit))

    def _run(
        self,
        query: str | Executable,
        params: Mapping[str, Any] | None,
        fetch: Callable[[duckdb.DuckDBPyConnection], _T],
    ) -> _T:
        statement = _statement(query)
        if not isinstance(statement, ClauseElement):
            raise TypeError(f"not a SQL statement: {type(query).__name__}")
        compiled = statement.compile(dialect=_DUCKDB_DIALECT)
        assert isinstance(compiled, SQLCompiler)
        state = compiled.construct_expanded_state(dict(params or {}))
        parameters = tuple(state.positional_parameters or ())
        if self.log is not None:
            self.log(state.statement, parameters)
        cursor = self.cursor()
        with _interrupt_after(cursor, self.timeout):
            return fetch(cursor.execute(state.statement, list(parameters)))

    def close(self) -> None:
        """Close this process's connection; the next use opens a new one."""
        self._process.close(lambda process: process.connection.close())

    def _connect(self) -> _DuckProcess:
        import duckdb

        configured = os.environ.get(self.env)
        if not configured and self.create_default is not None:
            self._made_default.run(self.create_default, self.default_path)
        path = configured or self.default_path
        if path == ":memory:":
            return _DuckProcess(duckdb.connect(":memory:"))
        return _DuckProcess(duckdb.connect(path, read_only=True))


@contextlib.contextmanager
def _interrupt_after(cursor: duckdb.DuckDBPyConnection, seconds: float | None) -> Iterator[None]:
    """Interrupts `cursor` if the block runs longer than `seconds`, and never after it ends."""
    if seconds is None:
        yield
        return
    lock = threading.Lock()
    running = True

    def interrupt() -> None:
        with lock:
            if running:
                cursor.interrupt()

    timer = threading.Timer(seconds, interrupt)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        with lock:
            running = False
        timer.cancel()
