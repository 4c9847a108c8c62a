"""A `dashsignal new --data sql` project on a real PostgreSQL server: the database itself counts
the queries.

PostgreSQL logs every statement it runs (`log_statement = 'all'`, set with SQL on a cluster of
this module's own), so the number of demo queries the server received between two points of a
test is read from its log: the signaling pattern's "one computation per filter state" is checked
where it matters, at the database, across the four worker processes of `gunicorn -w 4`. The same
log shows how the filter values travelled: as bound parameters ($1, $2 ...), never as SQL text.

A second cluster, of the outage test alone, is stopped and started again under a served app:
each view shows its error state while the database is down, and data once it is back.

The project's own test suite (tests/ in the generated project: the signaling contract, the
browser contract, the user's tests) runs against PostgreSQL too, and on the embedded SQLite
file and DuckDB without a DATABASE_URL.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from dashsignal.testing.loading import split_output
from dashsignal_cli.specfile import parse_spec_text

from cli_helpers import run_cli
from pg_helpers import SERVER_SETTINGS, PostgresCluster, postgres_bin
from test_production import (
    DEMO_VIEWS,
    App,
    Reply,
    all_at_once,
    assert_view_content,
    fresh_filters,
    signal_of,
    start_app,
    stop_process,
)

pytestmark = pytest.mark.e2e

# The demo query of the generated data.py, as PostgreSQL logs it (its select list, its table).
DEMO_SELECT = "SELECT region, product, year, channel, day, units, amount"
# Where each log message of the cluster starts: log_line_prefix '%m [%p] ' (the default).
MESSAGE_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \S+ \[(\d+)\] (\w+):  ")
FAILED_DATA = "Could not compute the data ("
OWN_TESTS_TIMEOUT = 900


# --- PostgreSQL's own log of the statements it ran ------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One message of the server log: its backend's pid, its level, its text with its DETAIL."""

    pid: int
    level: str
    text: str
    detail: str = ""


def log_entries(text: str) -> list[Entry]:
    """The messages of a stderr server log. A message's continuation lines start with a tab;
    its DETAIL (the parameters of an execute) is a line of its own, written in the same call."""
    entries: list[Entry] = []
    for line in text.splitlines():
        start = MESSAGE_START.match(line)
        if start is None:
            if entries:
                last = entries[-1]
                if last.detail:
                    entries[-1] = Entry(last.pid, last.level, last.text, last.detail + "\n" + line)
                else:
                    entries[-1] = Entry(last.pid, last.level, last.text + "\n" + line)
            continue
        pid, level, message = int(start.group(1)), start.group(2), line[start.end() :]
        if level in ("DETAIL", "HINT", "CONTEXT", "STATEMENT") and entries:
            last = entries[-1]
            entries[-1] = Entry(last.pid, last.level, last.text, (last.detail + "\n" + message))
        else:
            entries.append(Entry(pid, level, message))
    return entries


class LoggedCluster:
    """A PostgreSQL cluster that logs every statement; its log read from a point on."""

    def __init__(self, cluster: PostgresCluster) -> None:
        self.cluster = cluster

    @property
    def url(self) -> str:
        return self.cluster.url

    def log_size(self) -> int:
        return self.cluster.log.stat().st_size

    def entries(self, since: int = 0) -> list[Entry]:
        with self.cluster.log.open("rb") as handle:
            handle.seek(since)
            return log_entries(handle.read().decode("utf-8", errors="replace"))

    def demo_queries(self, since: int = 0) -> list[Entry]:
        """The demo queries the server ran since `since`: `statement:` (simple protocol) or
        `execute <name>:` (extended protocol, psycopg 3) messages of the demo's SELECT."""
        return [
            entry
            for entry in self.entries(since)
            if entry.level == "LOG"
            and re.match(r"(statement|execute [^:]*): ", entry.text)
            and DEMO_SELECT in entry.text
            and "FROM sales" in entry.text
            and "WHERE" in entry.text
        ]

    def describe(self, since: int = 0) -> str:
        return "\n".join(
            f"[{entry.pid}] {entry.text} | {entry.detail}" for entry in self.demo_queries(since)
        )

    def settled_queries(self, since: int, seconds: float = 1.5) -> list[Entry]:
        """The demo queries since `since`, read again until `seconds` pass without a change (a
        backend writes its line when the statement starts: one still on its way shows up)."""
        queries = self.demo_queries(since)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(0.2)
            again = self.demo_queries(since)
            if len(again) != len(queries):
                queries, deadline = again, time.monotonic() + seconds
        return queries


def started_cluster() -> PostgresCluster:
    bin_dir = postgres_bin()
    if bin_dir is None:
        pytest.fail("these tests need PostgreSQL's initdb (apt-get install postgresql)")
    cluster = PostgresCluster(bin_dir)
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    return cluster


def log_every_statement(url: str) -> None:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("ALTER SYSTEM SET log_statement = 'all'"))
            connection.execute(sa.text("SELECT pg_reload_conf()"))
            deadline = time.monotonic() + 10
            while connection.execute(sa.text("SHOW log_statement")).scalar() != "all":
                assert time.monotonic() < deadline, "log_statement was not reloaded"
                time.sleep(0.05)
    finally:
        engine.dispose()


def restart(cluster: PostgresCluster) -> None:
    """Start a stopped cluster again on the same port, with the same settings."""
    options = " ".join(f"-c {key}={value}" for key, value in SERVER_SETTINGS.items())
    options += f" -p {cluster.port} -k {cluster.socket_dir}"
    cluster._run(
        "pg_ctl",
        *("-D", str(cluster.data), "-l", str(cluster.log), "-o", options),
        *("-w", "-t", "30", "-s", "start"),
    )


def stop_server(cluster: PostgresCluster) -> None:
    """Stop the server, keeping its data (PostgresCluster.stop also deletes its folder)."""
    cluster._run("pg_ctl", "-D", str(cluster.data), "-m", "fast", "-w", "-s", "stop")


@pytest.fixture(scope="module")
def pg() -> Iterator[LoggedCluster]:
    """A cluster of this module's own that logs every statement (the demo's rows: sql_project)."""
    cluster = started_cluster()
    try:
        log_every_statement(cluster.url)
        yield LoggedCluster(cluster)
    finally:
        cluster.stop()


# --- generated projects ---------------------------------------------------------------------------


def new_project(tmp: Path, source: str) -> Path:
    made = run_cli("new", "shop", "--data", source, "--yes", cwd=tmp)
    assert made.returncode == 0, made.stdout + made.stderr
    return tmp / "shop"


def project_env(tmp: Path, database_url: str | None) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name
        not in ("REDIS_URL", "CACHE_DIR", "DASHSIGNAL_CACHE", "PYTEST_ADDOPTS", "DATABASE_URL")
    }
    env |= {"HOME": str(tmp), "PYTHONDONTWRITEBYTECODE": "1", "DASHSIGNAL_DEMO_CHECKS": "1"}
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    return env


def run_in(project: Path, code: str, env: dict[str, str]) -> str:
    """`python -c code` in the project folder (its modules importable), its stdout."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def load_demo(project: Path, url: str) -> None:
    """The demo's rows in the database at `url`, loaded with the project's own DEMO."""
    code = "import sys; from signaling.source import DEMO; DEMO.load(sys.argv[1])"
    done = subprocess.run(
        [sys.executable, "-c", code, url],
        cwd=project,
        env=project_env(project.parent, None),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def database_value(url: str, sql: str, params: dict[str, Any] | None = None) -> Any:
    """One value read from the database at `url` with plain SQL, beside the app."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(sa.text(sql), params or {}).scalar_one()
    finally:
        engine.dispose()


def demo_rows(url: str) -> int:
    return int(database_value(url, "SELECT count(*) FROM sales"))


def database_sum(url: str, where: str, params: dict[str, Any]) -> float:
    """sum(amount) of the demo rows matching `where`."""
    return float(database_value(url, f"SELECT sum(amount) FROM sales WHERE {where}", params))


@pytest.fixture(scope="module")
def sql_project(tmp_path_factory: pytest.TempPathFactory, pg: LoggedCluster) -> Path:
    """A `--data sql` project, whose DEMO has loaded its rows into the module's cluster."""
    project = new_project(tmp_path_factory.mktemp("sql"), "sql")
    load_demo(project, pg.url)
    assert demo_rows(pg.url) == 200_000
    return project


def serve_project(tmp: Path, project: Path, database_url: str) -> tuple[App, Any]:
    spec = parse_spec_text((project / "dashsignal.toml").read_text(encoding="utf-8"))
    return start_app(tmp, spec, workers=4, existing=project, environ={"DATABASE_URL": database_url})


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, sql_project: Path, pg: LoggedCluster
) -> Iterator[App]:
    """The sql project under `gunicorn -w 4` on the module's cluster."""
    app, process = serve_project(tmp_path_factory.mktemp("served"), sql_project, pg.url)
    try:
        yield app
    finally:
        stop_process(process)


# --- own test suites ------------------------------------------------------------------------------


def run_own_tests(project: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=OWN_TESTS_TIMEOUT,
    )


def assert_all_passed(result: subprocess.CompletedProcess[str]) -> int:
    """Every test of the run passed, none skipped, no warning; how many there were."""
    output = result.stdout.strip()
    summary = output.splitlines()[-1] if output else ""
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    found = re.match(r"=*\s*(\d+) passed in [\d.]+s", summary)
    assert found, "not only passed tests: " + output[-3000:]
    return int(found.group(1))


def test_the_sql_projects_own_tests_pass_on_postgresql(
    tmp_path: Path, sql_project: Path, pg: LoggedCluster
) -> None:
    # A project of its own (its tests write in its folder); sql_project loaded the demo's rows.
    project = new_project(tmp_path, "sql")
    since = pg.log_size()
    started = time.monotonic()

    result = run_own_tests(project, project_env(tmp_path, pg.url))

    passed = assert_all_passed(result)
    queries = len(pg.demo_queries(since))
    print(
        f"\n{passed} own tests passed on PostgreSQL in {time.monotonic() - started:.1f} s,"
        f" sending it {queries} demo queries"
    )
    # They ran against the server, not a SQLite file of the project's own.
    assert queries > 0, "the project's tests sent no demo query to PostgreSQL"
    assert not (project / "data" / "sales.sqlite").exists()


@pytest.mark.parametrize(
    ("source", "database_file"), [("sql", "sales.sqlite"), ("duckdb", "sales.duckdb")]
)
def test_a_projects_own_tests_pass_on_its_embedded_database(
    tmp_path: Path, source: str, database_file: str
) -> None:
    project = new_project(tmp_path, source)
    started = time.monotonic()

    result = run_own_tests(project, project_env(tmp_path, None))

    passed = assert_all_passed(result)
    print(f"\n{passed} own tests passed on {database_file} in {time.monotonic() - started:.1f} s")
    assert (project / "data" / database_file).is_file()


# --- the demo query on PostgreSQL -----------------------------------------------------------------

TIME_DEFAULT_QUERY = """
import json, time
import data
from signaling.filters import FILTERS
from signaling.source import DATABASE
from dashsignal.sql import filtered_text

statement = lambda: filtered_text(data.QUERY, FILTERS, FILTERS.defaults())
DATABASE.read("SELECT 1")  # the connection, apart from the query
times = []
for _ in range(3):
    started = time.perf_counter()
    frame = DATABASE.read(statement(), dates=data.DATE_COLUMNS)
    times.append(time.perf_counter() - started)
print(json.dumps({"rows": len(frame), "seconds": times, "dates": str(frame["day"].dtype)}))
"""


def test_the_demo_query_of_the_default_state_reads_every_row_from_postgresql(
    sql_project: Path, pg: LoggedCluster
) -> None:
    since = pg.log_size()
    out = run_in(sql_project, TIME_DEFAULT_QUERY, project_env(sql_project.parent, pg.url))
    measured = json.loads(out.splitlines()[-1])

    assert measured["rows"] == demo_rows(pg.url) == 200_000
    assert measured["dates"].startswith("datetime64")
    assert len(pg.demo_queries(since)) == 3, pg.describe(since)
    seconds = ", ".join(f"{value * 1000:.0f} ms" for value in measured["seconds"])
    print(f"\nthe demo query for the default state on PostgreSQL (200,000 rows): {seconds}")


# --- gunicorn -w 4 on PostgreSQL: one query per filter state --------------------------------------


def test_one_filter_change_sends_one_query_to_postgresql(served: App, pg: LoggedCluster) -> None:
    app = served
    offset, since = app.log_size(), pg.log_size()

    signal_value, replies = app.change_filters(fresh_filters())

    assert len(replies) == len(DEMO_VIEWS)
    for callback, reply in replies:
        assert_view_content(callback, reply)
    assert set(signal_value) == {"filters"}
    assert len(pg.settled_queries(since)) == 1, pg.describe(since)
    # The same state again, from every view: the cache answers, the database is not asked.
    _, replies = app.change_filters(signal_value["filters"])
    for callback, reply in replies:
        assert_view_content(callback, reply)
    assert len(pg.settled_queries(since)) == 1, pg.describe(since)
    app.assert_no_errors(offset)


def test_a_stampede_of_sessions_sends_one_query_to_postgresql(
    served: App, pg: LoggedCluster
) -> None:
    app = served
    offset, since = app.log_size(), pg.log_size()
    filters = fresh_filters()

    computed = all_at_once([functools.partial(app.compute, filters)] * 20)

    assert [reply.status for reply in computed] == [200] * 20, computed[0].describe()
    signals = [signal_of(reply) for reply in computed]
    assert all(value == signals[0] == {"filters": signals[0]["filters"]} for value in signals)
    assert len(pg.settled_queries(since)) == 1, pg.describe(since)

    sessions = all_at_once([functools.partial(app.change_filters, filters)] * 20)

    for _, replies in sessions:
        assert len(replies) == len(DEMO_VIEWS)
        for callback, reply in replies:
            assert_view_content(callback, reply)
    assert len(pg.settled_queries(since)) == 1, pg.describe(since)
    app.assert_no_errors(offset)


def test_the_filter_values_reach_postgresql_as_bound_parameters(
    served: App, pg: LoggedCluster
) -> None:
    app = served
    since = pg.log_size()
    filters = {"region": "East", "product": ["Basic", "Plus"], "year": [2020, 2024]}

    _, replies = app.change_filters(filters)

    for callback, reply in replies:
        assert_view_content(callback, reply)
    [query] = pg.settled_queries(since)
    statement = query.text
    print(f"\nPostgreSQL logged: {statement!r}\n  {query.detail.strip()}")
    # The statement's text holds placeholders only: no value of the filters.
    # (SQLAlchemy's psycopg dialect casts each one: `$1::VARCHAR`.)
    placeholder = r"\$\d+(?:::\w+)?"
    assert re.search(rf'"region" = {placeholder}\b', statement), statement
    assert re.search(rf'"product" IN \({placeholder}, {placeholder}\)', statement), statement
    assert re.search(rf'"year" BETWEEN {placeholder} AND {placeholder}\b', statement), statement
    for value in ("East", "Basic", "Plus", "2020", "2024"):
        assert value not in statement, statement
    # The values came beside it, as the parameters of the execute.
    assert query.detail.lstrip().startswith("parameters: "), query.detail
    parameters = dict(re.findall(r"(\$\d+) = '([^']*)'", query.detail))
    assert sorted(parameters.values()) == sorted(["East", "Basic", "Plus", "2020", "2024"])
    # What the views show is what PostgreSQL holds for these values, read here apart.
    expected = database_sum(
        pg.url,
        "region = :r AND product IN (:a, :b) AND year BETWEEN :low AND :high",
        {"r": "East", "a": "Basic", "b": "Plus", "low": 2020, "high": 2024},
    )
    shown = {split_output(cb["output"])[0][0]: reply.json()["response"] for cb, reply in replies}
    assert float(shown["total"]["total"]["children"].replace(",", "")) == pytest.approx(
        expected, abs=0.01
    )
    rows = shown["rows"]["rows"]["rowData"]
    assert rows and {row["region"] for row in rows} == {"East"}
    assert {row["product"] for row in rows} == {"Basic", "Plus"}
    assert {int(row["year"]) for row in rows} <= set(range(2020, 2025))


# --- the database down, then back -----------------------------------------------------------------


def assert_failed_state(callback: dict[str, Any], reply: Reply) -> str:
    """A consumer's answer while its data could not be computed: HTTP 200, the view's card
    showing the failure (no data); the error kind it names."""
    assert reply.status == 200, f"{callback['output']}: {reply.describe()}"
    response = reply.json()["response"]
    kinds = []
    for component_id, prop in split_output(callback["output"]):
        value = response[component_id][prop]
        shown = json.dumps(value, ensure_ascii=False)
        if prop == "figure":
            assert value["data"] == [], f"{component_id} draws data: {shown[:300]}"
        elif prop == "rowData":
            assert value == [], f"{component_id} shows rows"
            continue
        found = re.search(re.escape(FAILED_DATA) + r"(\w+)\)", shown)
        assert found, f"{component_id}.{prop} does not show the failure: {shown[:300]}"
        kinds.append(found.group(1))
    assert kinds, callback["output"]
    return kinds[0]


def test_the_database_down_shows_each_views_error_state_then_data_once_back(
    tmp_path: Path,
) -> None:
    cluster = started_cluster()
    process = None
    try:
        project = new_project(tmp_path, "sql")
        load_demo(project, cluster.url)
        app, process = serve_project(tmp_path / "served", project, cluster.url)
        up = fresh_filters()
        _, replies = app.change_filters(up)
        for callback, reply in replies:
            assert_view_content(callback, reply)
        app.assert_no_errors()

        stop_server(cluster)
        offset = app.log_size()
        down = fresh_filters()
        for _ in range(2):  # twice: a failure is not cached, each change tries the database
            computed = app.compute(down)
            assert computed.status == 200, computed.describe()
            signal_value = signal_of(computed)
            assert signal_value["filters"] and signal_value.get("failed"), signal_value
            replies = app.consume_all(signal_value)
            kinds = {assert_failed_state(callback, reply) for callback, reply in replies}
            assert kinds == {signal_value["failed"]}, kinds
        log = app.log_text(offset)
        # Logged once per failed change, by the compute step: the views only show the signal.
        failures = [line for line in log.splitlines() if "computing query failed" in line]
        assert len(failures) == 2, log[-3000:]
        assert "Exception on" not in log, log[-3000:]  # Flask's line for an HTTP 500
        # The state computed while the database was up is still served from the cache.
        _, replies = app.change_filters(up)
        for callback, reply in replies:
            assert_view_content(callback, reply)

        restart(cluster)
        for filters in (down, fresh_filters()):  # the state that failed, and a new one
            signal_value, replies = app.change_filters(filters)
            # Computed now; "stale" until the data_version probe answers again (within 5 s).
            assert "failed" not in signal_value, signal_value
            for callback, reply in replies:
                assert_view_content(callback, reply)
        print(f"\nwhile PostgreSQL was down every view showed: {FAILED_DATA}{kinds.pop()})")
    finally:
        if process is not None:
            stop_process(process)
        cluster.stop()
