"""Time the demo query on each source: SQLite, DuckDB, pandas and (optionally) PostgreSQL.

The demo's data (dashsignal.demo, 200,000 rows by default) is created in each database the way a
generated project creates it on first run (`DEMO.sqlite`, `DEMO.duckdb`, `DEMO.load`), and the
time of that creation is reported, the rows' making included (a fresh declaration each time).
The query is the demo's, `SELECT <every column> FROM sales WHERE {conditions}` through
`dashsignal.sql.filtered_text`, for the filters region (dropdown), product (multi) and year
(range), read with `dates=("period", "day")` so every source gives the same frame; the pandas
source is `dashsignal.frames.apply_filters` on `DEMO.frame()`. Two states: the default (every
row) and a narrow one (one region, one product, one year: about 1/84 of the rows).

Each time is the median of `--runs` runs (after one warm-up), in one process, then with 4 forked
processes running the query at the same moment, each through its own connection (a stand-in for
`gunicorn -w 4`; on a machine of 2 cores the processes share them). The forked processes inherit
the parent's frame, as gunicorn's workers would with `--preload`.

Also timed: building Database.read's frame from 200,000 SQLite rows the way 0.4 did
(`DataFrame.from_records` on SQLAlchemy's rows), the way it does now (a list of tuples) and with
`pandas.read_sql`, all on Database's engine, and without the SQLite timeout's progress handler;
and on PostgreSQL, `load` through COPY against chunked INSERTs. Nothing is asserted. The output
is GitHub-flavoured Markdown. Run it from the repository root:

    python benchmarks/bench_sources.py [--rows N] [--runs K] [--postgres-url URL | --start-postgres]
"""

from __future__ import annotations

import argparse
import os
import pickle
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from dashsignal import Filter, Filters
from dashsignal.demo import Choice, Dates, DemoSales, Numbers, Years
from dashsignal.frames import apply_filters
from dashsignal.sql import Database, DuckDatabase, filtered_text

NO_VARIABLE = "DASHSIGNAL_BENCH_NO_SUCH_VARIABLE"
WORKERS = 4
FILTERS = Filters(
    Filter("region", "dropdown", "Region", options=("North", "South", "East", "West")),
    Filter("product", "multi", "Product", options=("Basic", "Plus", "Pro"), default=[]),
    Filter("year", "range", "Year", min=2019, max=2025, step=1, default=[2019, 2025]),
)
STATES = {
    "default": {"region": None, "product": [], "year": [2019, 2025]},
    "narrow": {"region": "North", "product": ["Pro"], "year": [2024, 2024]},
}
DATES = ("period", "day")
COLUMNS = "region, product, year, score, period, day, units, amount"


def declare(rows: int, table: str = "sales") -> DemoSales:
    return DemoSales(
        Choice("region", ("North", "South", "East", "West")),
        Choice("product", ("Basic", "Plus", "Pro")),
        Years("year", 2019, 2025),
        Numbers("score", 0, 100),
        Dates("period", "2025-01-01", "2025-12-31"),
        rows=rows,
        seed=7,
        table=table,
    )


def median_ms(work: Callable[[], Any], runs: int) -> float:
    work()  # warm-up: connections opened, pages cached
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def interleaved_medians_ms(works: dict[str, Callable[[], Any]], runs: int) -> dict[str, float]:
    """The median time of each of `works`, run in turn, so that a load on the machine that
    comes and goes weighs on all of them alike."""
    times: dict[str, list[float]] = {what: [] for what in works}
    for work in works.values():
        work()
    for _ in range(runs):
        for what, work in works.items():
            start = time.perf_counter()
            work()
            times[what].append(time.perf_counter() - start)
    return {what: statistics.median(found) * 1000 for what, found in times.items()}


def concurrent_median_ms(work: Callable[[], Any], runs: int, workers: int = WORKERS) -> float:
    """The median time of `work` in `workers` forked processes that all start together."""
    start_reader, start_writer = os.pipe()
    children = []
    for _ in range(workers):
        reader, writer = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: warm up, wait for the others, then time
            os.close(reader)
            os.close(start_writer)
            try:
                work()
                os.read(start_reader, 1)
                times = []
                for _ in range(runs):
                    start = time.perf_counter()
                    work()
                    times.append(time.perf_counter() - start)
                os.write(writer, pickle.dumps(times))
            finally:
                os._exit(0)
        os.close(writer)
        children.append((pid, reader))
    time.sleep(0.5)  # every child past its warm-up, most likely
    os.write(start_writer, b"x" * workers)
    os.close(start_writer)
    os.close(start_reader)
    times: list[float] = []
    for pid, reader in children:
        with os.fdopen(reader, "rb") as pipe:
            data = pipe.read()
        os.waitpid(pid, 0)
        if not data:
            raise RuntimeError("a benchmark child failed")
        times.extend(pickle.loads(data))
    return statistics.median(times) * 1000


def first_run_s(create: Callable[[], Any]) -> float:
    """The time of `create` in a forked child (so the parent's memoised frame is not reused)."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(reader)
        try:
            start = time.perf_counter()
            create()
            os.write(writer, pickle.dumps(time.perf_counter() - start))
        finally:
            os._exit(0)
    os.close(writer)
    with os.fdopen(reader, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    if not data:
        raise RuntimeError("the creation failed")
    elapsed: float = pickle.loads(data)
    return elapsed


def query(table: str = "sales") -> str:
    return f"SELECT {COLUMNS} FROM {table} WHERE {{conditions}}"


def start_postgres() -> tuple[Any, str]:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from pg_helpers import PostgresCluster, postgres_bin

    bin_dir = postgres_bin()
    if bin_dir is None:
        raise SystemExit("--start-postgres needs PostgreSQL's initdb")
    cluster = PostgresCluster(bin_dir)
    cluster.start()
    return cluster, cluster.url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=7)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--postgres-url", help="a SQLAlchemy URL of a PostgreSQL database")
    group.add_argument("--start-postgres", action="store_true", help="a temporary cluster")
    args = parser.parse_args()
    if args.runs < 7:
        parser.error("--runs must be 7 at least")

    cluster = None
    postgres_url = args.postgres_url
    if args.start_postgres:
        cluster, postgres_url = start_postgres()
    try:
        run(args.rows, args.runs, postgres_url)
    finally:
        if cluster is not None:
            cluster.stop()


def run(rows: int, runs: int, postgres_url: str | None) -> None:
    folder = Path(tempfile.mkdtemp(prefix="dashsignal-bench-"))
    sqlite_path, duckdb_path = folder / "sales.db", folder / "sales.duckdb"
    table = f"bench_sales_{os.getpid()}"

    creation = {
        "frame (DEMO.frame)": first_run_s(lambda: declare(rows).frame()),
        "SQLite file (DEMO.sqlite)": first_run_s(lambda: declare(rows).sqlite(sqlite_path)),
        "DuckDB file (DEMO.duckdb)": first_run_s(lambda: declare(rows).duckdb(duckdb_path)),
    }
    if postgres_url:
        creation["PostgreSQL table (DEMO.load, COPY)"] = first_run_s(
            lambda: declare(rows, table).load(postgres_url)
        )

    demo = declare(rows)
    demo.frame()
    sqlite = Database(f"sqlite:///{sqlite_path}", env=NO_VARIABLE)
    duck = DuckDatabase(duckdb_path, env=NO_VARIABLE)
    sources: dict[str, Callable[[dict[str, Any]], pd.DataFrame]] = {
        "SQLite (Database)": lambda values: sqlite.read(
            filtered_text(query(), FILTERS, values), dates=DATES
        ),
        "DuckDB (DuckDatabase)": lambda values: duck.read(
            filtered_text(query(), FILTERS, values), dates=DATES
        ),
        "pandas (apply_filters)": lambda values: apply_filters(demo.frame(), FILTERS, values),
    }
    if postgres_url:
        postgres = Database(postgres_url, env=NO_VARIABLE)
        sources["PostgreSQL (Database)"] = lambda values: postgres.read(
            filtered_text(query(f'"{table}"'), FILTERS, values), dates=DATES
        )

    print(f"# Sources: the demo query on {rows:,} rows\n")
    print(
        f"Python {platform.python_version()}, pandas {pd.__version__}, "
        f"SQLAlchemy {sa.__version__}, {os.cpu_count()} CPUs; median of {runs} runs.\n"
    )
    print("| first run | seconds |\n|---|---:|")
    for what, seconds in creation.items():
        print(f"| {what} | {seconds:.2f} |")

    print(
        f"\n| source | state | rows | 1 process, ms | {WORKERS} processes at once, ms |"
        "\n|---|---|---:|---:|---:|"
    )
    for name, read in sources.items():
        for state, values in STATES.items():
            count = len(read(values))
            alone = median_ms(lambda read=read, values=values: read(values), runs)
            together = concurrent_median_ms(lambda read=read, values=values: read(values), runs)
            print(f"| {name} | {state} | {count:,} | {alone:.1f} | {together:.1f} |")

    everything = "SELECT region, product, year, score, period, day, units, amount FROM sales"
    # The same engine for every way (Database's: its timeout's progress handler included).
    engine = sqlite.engine
    untimed = Database(f"sqlite:///{sqlite_path}", env=NO_VARIABLE, timeout=None)

    def from_records() -> pd.DataFrame:
        with engine.connect() as connection:
            result = connection.execute(sa.text(everything))
            return pd.DataFrame.from_records(list(result.all()), columns=list(result.keys()))

    def read_sql() -> pd.DataFrame:
        with engine.connect() as connection:
            return pd.read_sql(sa.text(everything), connection)

    def fetch_only() -> Any:
        with engine.connect() as connection:
            return connection.execute(sa.text(everything)).all()

    frames = {
        "the rows only, no frame (Connection.execute().all())": fetch_only,
        "DataFrame.from_records of the rows (0.4's Database.read)": from_records,
        "Database.read now (a list of tuples)": lambda: sqlite.read(everything),
        "pandas.read_sql": read_sql,
        "Database.read now, timeout=None (no progress handler)": lambda: untimed.read(everything),
    }
    print(f"\n| all {rows:,} SQLite rows into a frame | ms |\n|---|---:|")
    for what, ms in interleaved_medians_ms(frames, runs).items():
        print(f"| {what} | {ms:.1f} |")

    if postgres_url:
        print(f"\n| PostgreSQL load of {rows:,} rows | seconds |\n|---|---:|")
        loads = {"COPY (DEMO.load on psycopg)": "copy", "INSERT, chunks of 10,000": "insert"}
        for what, how in loads.items():
            other = f"{table}_{how}"
            print(f"| {what} | {_load(postgres_url, rows, other, how):.2f} |")
        with sa.create_engine(postgres_url).begin() as connection:
            for name in (table, f"{table}_copy", f"{table}_insert"):
                connection.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}"')


def _load(url: str, rows: int, table: str, how: str) -> float:
    """Seconds to load the rows into a new table, the rows' making left out (timed above)."""
    demo = declare(rows, table)
    demo.frame()
    start = time.perf_counter()
    if how == "copy":
        demo.load(url)
    else:
        engine = sa.create_engine(url)
        with engine.begin() as connection:
            stored = demo._table()
            stored.create(connection)
            demo._insert(connection, stored)
        engine.dispose()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
