"""The demo's sales data: declared once, made deterministically, stored in SQLite, DuckDB or a
server database on first run.

A generated project declares its demo table in its wiring:

    DEMO = DemoSales(
        Choice("region", ("North", "South", "East", "West")),
        Years("year", 2019, 2025),
        Numbers("score", 0, 100),
        Dates("period", "2025-01-01", "2025-12-31"),
        rows=200_000, seed=7,
    )

and reads it as a DataFrame (`DEMO.frame()`), or from a database file that `DEMO.sqlite(path)`
or `DEMO.duckdb(path)` creates when it does not exist yet, or from a table `DEMO.load(url)`
creates in a server database. The columns are the declared ones in order, then `day` (a date:
in the row's year when there is a Years column, else in 2024-2025), `units` (1 to 19) and
`amount` (gamma(2, 60), in cents). The same declaration makes the same rows in every process
(the frame is made with one seeded numpy generator, in the order of today's inline demo).

Files are made for production's first run, when gunicorn's workers all start at once: one
process creates the file under an exclusive lock on a sibling `.lock` file (left in place:
deleting it would let a late process lock a file nobody else locks), into a temporary file of
the same folder, renamed over the path only when complete. The others wait for the lock and
find the file made; nobody opens a half-written database, and a creator killed midway leaves
only a temporary file, removed by the next creator.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import sqlite3
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dashsignal.columns import check_column

__all__ = ["Choice", "Dates", "DemoSales", "Numbers", "Years"]

# How a column is stored: its SQL type in each backend.
_TEXT, _INTEGER, _DOUBLE, _DATE = "text", "integer", "double", "date"
_SQLITE_TYPES = {_TEXT: "TEXT", _INTEGER: "INTEGER", _DOUBLE: "REAL", _DATE: "DATE"}
_DUCKDB_TYPES = {_TEXT: "VARCHAR", _INTEGER: "INTEGER", _DOUBLE: "DOUBLE", _DATE: "DATE"}
# Rows per INSERT batch on a server database without COPY: bounds the memory of one batch.
_CHUNK = 10_000
_TEMPORARY = ".tmp-"


@dataclass(frozen=True)
class Choice:
    """A column of values drawn from `options` (all strings, or all whole numbers)."""

    name: str
    options: tuple[str, ...] | tuple[int, ...]

    def __post_init__(self) -> None:
        options = tuple(self.options)
        object.__setattr__(self, "options", options)
        if not options:
            raise ValueError(f"{self.name}: a Choice needs at least one option")
        if not (
            all(isinstance(option, str) for option in options)
            or all(_is_int(option) for option in options)
        ):
            raise ValueError(f"{self.name}: the options must all be strings or all be integers")

    @property
    def stored(self) -> str:
        return _TEXT if isinstance(self.options[0], str) else _INTEGER


@dataclass(frozen=True)
class Years:
    """Whole years from `first` to `last`; each row's day lies in its year."""

    name: str
    first: int
    last: int

    def __post_init__(self) -> None:
        if not (_is_int(self.first) and _is_int(self.last) and self.first <= self.last):
            raise ValueError(f"{self.name}: Years needs two whole years, first <= last")

    stored = _INTEGER


@dataclass(frozen=True)
class Numbers:
    """Numbers from `low` to `high` included: whole if both are int, else floats to 2 places."""

    name: str
    low: float
    high: float

    def __post_init__(self) -> None:
        numbers = all(isinstance(bound, int | float) for bound in (self.low, self.high))
        if not numbers or isinstance(self.low, bool) or isinstance(self.high, bool):
            raise ValueError(f"{self.name}: Numbers needs two numbers")
        if not self.low <= self.high:
            raise ValueError(f"{self.name}: Numbers needs low <= high")

    @property
    def whole(self) -> bool:
        return _is_int(self.low) and _is_int(self.high)

    @property
    def stored(self) -> str:
        return _INTEGER if self.whole else _DOUBLE


@dataclass(frozen=True)
class Dates:
    """Random days from `first` to `last` included (ISO dates), as datetime64."""

    name: str
    first: str
    last: str

    def __post_init__(self) -> None:
        try:
            first, last = dt.date.fromisoformat(self.first), dt.date.fromisoformat(self.last)
        except (TypeError, ValueError):
            raise ValueError(f"{self.name}: Dates needs two ISO dates (YYYY-MM-DD)") from None
        if first > last:
            raise ValueError(f"{self.name}: Dates needs first <= last")

    stored = _DATE


Column = Choice | Years | Numbers | Dates


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class DemoSales:
    """The demo's sales table: the declared columns, then `day`, `units` and `amount`."""

    def __init__(
        self,
        *columns: Column,
        rows: int = 200_000,
        seed: int = 7,
        table: str = "sales",
        day: str = "day",
        units: str = "units",
        amount: str = "amount",
    ) -> None:
        if not _is_int(rows) or rows < 1:
            raise ValueError("rows must be a positive whole number")
        for column in columns:
            if not isinstance(column, Column):
                raise ValueError(f"not a demo column: {column!r}")
        names = [column.name for column in columns] + [day, units, amount]
        for name in [*names, table]:
            _check_name(name)
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"the demo's column names repeat: {', '.join(repeated)}")
        if sum(isinstance(column, Years) for column in columns) > 1:
            raise ValueError("a demo has at most one Years column")
        self.columns = tuple(columns)
        self.rows = rows
        self.seed = seed
        self.table = table
        self.day = day
        self.units = units
        self.amount = amount
        self._frame: pd.DataFrame | None = None

    def __repr__(self) -> str:
        columns = ", ".join(repr(column) for column in self.columns)
        return f"DemoSales({columns}, rows={self.rows}, seed={self.seed}, table={self.table!r})"

    @property
    def names(self) -> tuple[str, ...]:
        """Every column's name, in the table's order."""
        return (*(column.name for column in self.columns), self.day, self.units, self.amount)

    @property
    def stored(self) -> dict[str, str]:
        """How each column is stored: "text", "integer", "double" or "date", by name."""
        found = {column.name: column.stored for column in self.columns}
        return {**found, self.day: _DATE, self.units: _INTEGER, self.amount: _DOUBLE}

    def frame(self) -> pd.DataFrame:
        """The rows, made once per process (and shared: copy before changing it)."""
        # No lock: two threads that make it at once make the same rows, and one frame is kept
        # (a lock held by another thread at a fork would never be released in the child). A
        # forked child inherits the parent's frame, which is the same rows: no pid check.
        frame = self._frame
        if frame is None:
            frame = self._frame = self._make()
        return frame

    def sqlite(self, path: str | os.PathLike[str]) -> bool:
        """Create the SQLite file at `path` with the table if it does not exist yet.

        True if this call created it. Safe when several processes call it at once.
        """
        return _create_once(Path(path), self._write_sqlite)

    def duckdb(self, path: str | os.PathLike[str]) -> bool:
        """Create the DuckDB file at `path` with the table if it does not exist yet.

        True if this call created it. Safe when several processes call it at once.
        """
        return _create_once(Path(path), self._write_duckdb)

    def load(self, url: str) -> bool:
        """Create and fill the table in the database at `url` if it has no such table yet.

        True if this call created it. One transaction: the table appears with all its rows or
        not at all. On PostgreSQL a transaction-scoped advisory lock, taken first, makes
        concurrent loaders wait for each other, so one creates the table and the others find
        it; other dialects get no such guarantee (for a SQLite file use `sqlite`).
        """
        import sqlalchemy as sa

        table = self._table()
        engine = sa.create_engine(url)
        try:
            with engine.begin() as connection:
                postgresql = connection.dialect.name == "postgresql"
                if postgresql:
                    connection.execute(
                        sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": self._lock_key()}
                    )
                if sa.inspect(connection).has_table(self.table):
                    return False
                table.create(connection)
                if postgresql and connection.dialect.driver == "psycopg":
                    self._copy(connection, table)
                else:
                    self._insert(connection, table)
                return True
        finally:
            engine.dispose()

    # --- making the rows --------------------------------------------------------------------

    def _make(self) -> pd.DataFrame:
        # The order of the generator's draws is today's inline demo's (templates/data.py.jinja):
        # the years first, then each column in order, then day, units and amount.
        rng = np.random.default_rng(seed=self.seed)
        n = self.rows
        year = next((column for column in self.columns if isinstance(column, Years)), None)
        years = None
        if year is not None:
            years = rng.integers(year.first, year.last, size=n, endpoint=True)
        data: dict[str, Any] = {}
        for column in self.columns:
            if isinstance(column, Years):
                data[column.name] = years
            elif isinstance(column, Choice):
                data[column.name] = rng.choice(np.array(column.options, dtype=object), n)
            elif isinstance(column, Numbers):
                if column.whole:
                    data[column.name] = rng.integers(
                        int(column.low), int(column.high), size=n, endpoint=True
                    )
                else:
                    data[column.name] = rng.uniform(column.low, column.high, size=n).round(2)
            else:
                data[column.name] = _random_days(rng, n, column.first, column.last)
        if years is not None:
            data[self.day] = _days_in_years(rng, years)
        else:
            data[self.day] = _random_days(rng, n, "2024-01-01", "2025-12-31")
        data[self.units] = rng.integers(1, 20, size=n)
        data[self.amount] = rng.gamma(2.0, 60.0, size=n).round(2)
        return pd.DataFrame(data)

    def _values(self, dates: str) -> dict[str, list[Any]]:
        """Each column as a list of plain Python values; days as ISO text or datetime.date."""
        frame = self.frame()
        found: dict[str, list[Any]] = {}
        for name, kind in self.stored.items():
            values = frame[name].to_numpy()
            if kind == _DATE:
                # Few distinct days: each converted once, then picked by index (4x faster).
                days, index = np.unique(values.astype("datetime64[D]"), return_inverse=True)
                converted = np.datetime_as_string(days) if dates == "iso" else days.tolist()
                found[name] = np.array(converted, dtype=object)[index].tolist()
            elif kind == _INTEGER:
                found[name] = values.astype(np.int64).tolist()
            elif kind == _DOUBLE:
                found[name] = values.astype(np.float64).tolist()
            else:
                # The options' own values (checked strings or integers).
                found[name] = values.tolist()
        return found

    # --- storing them ---------------------------------------------------------------------------

    def _write_sqlite(self, path: Path) -> None:
        names = ", ".join(_quote(name) for name in self.names)
        columns = ", ".join(
            f"{_quote(name)} {_SQLITE_TYPES[kind]}" for name, kind in self.stored.items()
        )
        marks = ", ".join("?" for _ in self.names)
        rows = zip(*self._values("iso").values(), strict=True)
        connection = sqlite3.connect(path, isolation_level=None)
        try:
            # A temporary file nobody else reads: no journal, no syncs until it is complete
            # (the file is synced once, below, before the rename makes it the database).
            connection.execute("PRAGMA journal_mode = OFF")
            connection.execute("PRAGMA synchronous = OFF")
            connection.execute("BEGIN")
            connection.execute(f"CREATE TABLE {_quote(self.table)} ({columns})")
            connection.executemany(
                f"INSERT INTO {_quote(self.table)} ({names}) VALUES ({marks})", rows
            )
            connection.execute("COMMIT")
        finally:
            connection.close()
        _sync(path)

    def _write_duckdb(self, path: Path) -> None:
        import duckdb

        frame = self.frame()
        selected = ", ".join(
            f"CAST({_quote(name)} AS {_DUCKDB_TYPES[kind]}) AS {_quote(name)}"
            for name, kind in self.stored.items()
        )
        connection = duckdb.connect(str(path))
        try:
            connection.register("dashsignal_demo_frame", frame)
            connection.execute(
                f"CREATE TABLE {_quote(self.table)} AS SELECT {selected} FROM dashsignal_demo_frame"
            )
            connection.unregister("dashsignal_demo_frame")
            # Everything into the database file itself, none left in its write-ahead log
            # (which is named after the temporary file, and would not follow the rename).
            connection.execute("CHECKPOINT")
        finally:
            connection.close()
        _sync(path)

    def _table(self) -> Any:
        """The table as SQLAlchemy Core declares it, its names quoted always."""
        import sqlalchemy as sa
        from sqlalchemy.sql.elements import quoted_name

        types = {_TEXT: sa.Text, _INTEGER: sa.Integer, _DOUBLE: sa.Double, _DATE: sa.Date}
        return sa.Table(
            quoted_name(self.table, True),
            sa.MetaData(),
            *(
                sa.Column(quoted_name(name, True), types[kind]())
                for name, kind in self.stored.items()
            ),
        )

    def _copy(self, connection: Any, table: Any) -> None:
        preparer = connection.dialect.identifier_preparer
        names = ", ".join(preparer.quote_identifier(name) for name in self.names)
        statement = f"COPY {preparer.format_table(table)} ({names}) FROM STDIN"
        cursor = connection.connection.dbapi_connection.cursor()
        with cursor.copy(statement) as copy:
            for row in zip(*self._values("iso").values(), strict=True):
                copy.write_row(row)

    def _insert(self, connection: Any, table: Any) -> None:
        values = self._values("date")
        for start in range(0, self.rows, _CHUNK):
            chunk = {name: column[start : start + _CHUNK] for name, column in values.items()}
            rows = [dict(zip(chunk, row, strict=True)) for row in zip(*chunk.values(), strict=True)]
            connection.execute(table.insert(), rows)

    def _lock_key(self) -> int:
        # A key of this table's name, the same in every process (hash() is salted).
        return zlib.crc32(f"dashsignal.demo:{self.table}".encode()) - 2**31


def _check_name(name: object) -> None:
    check_column(name)
    if "." in str(name):
        raise ValueError(f"invalid name {name!r}: a demo's names are not qualified")


def _quote(name: str) -> str:
    # Names are checked identifiers (no quote inside): quoted so a reserved word is a name.
    return f'"{name}"'


def _random_days(rng: np.random.Generator, n: int, first: str, last: str) -> pd.Series:
    start, end = pd.Timestamp(first), pd.Timestamp(last)
    offsets = rng.integers(0, (end - start).days, size=n, endpoint=True)
    return pd.Series(start + pd.to_timedelta(offsets, unit="D"))


def _days_in_years(rng: np.random.Generator, years: np.ndarray[Any, Any]) -> pd.Series:
    """A random day of each of `years`."""
    first = pd.to_datetime(pd.DataFrame({"year": years, "month": 1, "day": 1}))
    length = np.where(first.dt.is_leap_year, 366, 365)
    offsets = (rng.random(len(years)) * length).astype(int)
    return first + pd.to_timedelta(offsets, unit="D")


# --- one creation of a file, whatever the number of processes --------------------------------


def _create_once(path: Path, write: Callable[[Path], None]) -> bool:
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path.with_name(path.name + ".lock")):
        # Another process may have made it while this one waited for the lock.
        if path.exists():
            return False
        _remove_leftovers(path)
        temporary = path.with_name(f"{path.name}{_TEMPORARY}{os.getpid()}")
        try:
            write(temporary)
            temporary.replace(path)
        except BaseException:
            _remove_leftovers(path)
            raise
        # The rename itself, so that after a crash the path is the complete file or nothing.
        _sync(path.parent)
        return True


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    # flock's lock goes with the open file: released when the holder closes it or dies.
    descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def _remove_leftovers(path: Path) -> None:
    """Temporary files of creators that died: only ever called under the lock."""
    for leftover in path.parent.glob(f"{path.name}{_TEMPORARY}*"):
        leftover.unlink(missing_ok=True)


def _sync(path: Path) -> None:
    """`path`'s contents (a file's) or entries (a folder's) onto the disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
