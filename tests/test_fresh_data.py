"""Fresh data with real parts: generated `--data sql` projects under gunicorn, a real SQLite file
and a real PostgreSQL server whose rows the tests change, a real redis-server shared by two app
servers standing in for two hosts.

Each project is `dashsignal new shop --data sql --yes` with `[cache] version_check = 2`, its
demo delay at 0 and a counter wrapped around `expensive_query` (the real query still runs), so
that every computation is counted with its worker's pid.

- A row changed in the database is on every view of every worker within version_check seconds,
  computed once for the new version (SQLite and PostgreSQL; and across two app servers on one
  Redis).
- After `python -m signaling invalidate`, no response carries data computed before it.
- After `python -m signaling warm`, a page load computes nothing; warming twice computes nothing
  the second time; warming every state while users load pages computes no state twice.
- The probe failing (PostgreSQL stopped) is like a failing query: the views keep the last good
  data, the signal says stale, no HTTP 500, one log line per worker.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from test_data_postgres import (
    database_value,
    load_demo,
    restart,
    started_cluster,
    stop_server,
)

from dashsignal_cli.specfile import parse_spec_text

from cli_helpers import run_cli
from pg_helpers import PostgresCluster
from test_production import App, RedisServer, free_port, start_app, stop_process

pytestmark = pytest.mark.e2e

VERSION_CHECK = 2
DEFAULTS = {"region": None, "product": [], "year": [2019, 2025]}
# Wrapped around the generated expensive_query: one JSON line per run, from every worker.
COUNTING = """

import json as _json
import os as _os

_uncounted_expensive_query = expensive_query


def expensive_query(filters):
    run = {"filters": filters, "pid": _os.getpid()}
    with open(_os.environ["DS_TEST_COUNTER"], "a", encoding="utf-8") as _counter:
        _counter.write(_json.dumps(run) + "\\n")
    return _uncounted_expensive_query(filters)
"""


def make_project(tmp: Path) -> Path:
    made = run_cli("new", "shop", "--data", "sql", "--yes", cwd=tmp)
    assert made.returncode == 0, made.stderr
    project = tmp / "shop"
    spec = project / "dashsignal.toml"
    text = spec.read_text()
    spec.write_text(text.replace("[cache]\n", f"[cache]\nversion_check = {VERSION_CHECK}\n", 1))
    regenerated = run_cli("regenerate", cwd=project)
    assert regenerated.returncode == 0, regenerated.stderr
    assert f"version_check={VERSION_CHECK}" in (project / "signaling" / "settings.py").read_text()
    data = project / "data.py"
    text = data.read_text().replace("DEMO_DELAY_SECONDS = 0.4", "DEMO_DELAY_SECONDS = 0")
    assert "def data_version" in text
    data.write_text(text + COUNTING)
    return project


class Served:
    """App servers of one project, their counter, and its database beside them: `execute`
    changes rows, `value` reads one."""

    def __init__(
        self,
        project: Path,
        apps: list[App],
        execute: Callable[[str], None],
        value: Callable[[str], Any],
        environ: dict[str, str],
    ) -> None:
        self.project = project
        self.apps = apps
        self.execute = execute
        self.value = value
        self.environ = environ

    def total(self) -> float:
        """sum(amount) over every row, as the database has it now."""
        return round(float(self.value("SELECT sum(amount) FROM sales")), 2)

    def runs(self) -> list[dict[str, Any]]:
        counter = self.apps[0].counter
        text = counter.read_text() if counter.exists() else ""
        return [json.loads(line) for line in text.splitlines() if line]


def totals(app: App, filters: dict[str, Any] = DEFAULTS) -> tuple[float, Any, list[Any]]:
    """One page load: the total the indicator shows, the signal, the table's first row."""
    signal, replies = app.change_filters(filters)
    shown: dict[str, Any] = {}
    for _callback, reply in replies:
        assert reply.status == 200, reply.describe()
        shown.update(reply.json()["response"])
    text = str(shown["total"]["children"])
    rows = shown["rows"]["rowData"]
    return float(text.replace(",", "")), signal, rows


def run_command(served: Served, *args: str) -> str:
    """`python -m signaling ARGS` in the project, on the cache its servers share."""
    app = served.apps[0]
    environ = {"CACHE_DIR": str(app.cache_dir), "DS_TEST_COUNTER": str(app.counter)}
    done = subprocess.run(
        [sys.executable, "-m", "signaling", *args],
        cwd=served.project,
        env={**os.environ, **environ, **served.environ},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@contextlib.contextmanager
def serving(
    tmp: Path, project: Path, environ: dict[str, str], servers: int = 1
) -> Iterator[list[App]]:
    """`servers` app servers of `project`, two gunicorn workers each, on one counter and one
    cache folder (on Redis when `environ` says so)."""
    spec = parse_spec_text((project / "dashsignal.toml").read_text())
    shared = {"DS_TEST_COUNTER": str(tmp / "computations.txt"), "CACHE_DIR": str(tmp / "cache")}
    started: list[tuple[App, Any]] = []
    try:
        for number in range(servers):
            folder = tmp / f"server{number}"
            app, process = start_app(
                folder, spec, workers=2, existing=project, environ={**environ, **shared}
            )
            app.counter, app.cache_dir = tmp / "computations.txt", tmp / "cache"
            started.append((app, process))
        yield [app for app, _ in started]
    finally:
        for _, process in started:
            stop_process(process)


# --- the databases ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresCluster]:
    running = started_cluster()
    try:
        yield running
    finally:
        running.stop()


def sqlite_database(path: Path) -> tuple[Callable[[str], None], Callable[[str], Any]]:
    def execute(sql: str) -> None:
        with contextlib.closing(sqlite3.connect(path, timeout=30)) as connection, connection:
            connection.execute(sql)

    def value(sql: str) -> Any:
        with contextlib.closing(sqlite3.connect(path, timeout=30)) as connection:
            return connection.execute(sql).fetchone()[0]

    return execute, value


def postgres_database(url: str) -> tuple[Callable[[str], None], Callable[[str], Any]]:
    import sqlalchemy as sa

    def execute(sql: str) -> None:
        engine = sa.create_engine(url)
        try:
            with engine.begin() as connection:
                connection.execute(sa.text(sql))
        finally:
            engine.dispose()

    return execute, lambda sql: database_value(url, sql)


@contextlib.contextmanager
def start_project(
    tmp: Path, source: str, cluster: PostgresCluster, environ: dict[str, str], servers: int = 1
) -> Iterator[Served]:
    project = make_project(tmp)
    if source == "postgresql":
        execute, value = postgres_database(cluster.url)
        execute("DROP TABLE IF EXISTS sales")
        load_demo(project, cluster.url)
        environ = {**environ, "DATABASE_URL": cluster.url}
    else:
        # The embedded file, made now, as the first worker would make it.
        made = subprocess.run(
            [sys.executable, "-c", "from signaling.source import DATABASE; DATABASE.engine"],
            cwd=project, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        execute, value = sqlite_database(project / "data" / "sales.sqlite")
    with serving(tmp, project, environ, servers) as apps:
        yield Served(project, apps, execute, value, environ)


@pytest.fixture(params=["sqlite", "postgresql"])
def served(
    request: pytest.FixtureRequest, tmp_path: Path, cluster: PostgresCluster
) -> Iterator[Served]:
    with start_project(tmp_path, request.param, cluster, {}) as started:
        yield started


# --- a row changes ------------------------------------------------------------------------------

RAISE_ONE_DAY = "UPDATE sales SET amount = amount + 1000 WHERE day = (SELECT min(day) FROM sales)"


def seconds_until_every_load_shows(apps: list[App], expected: float, loads: int = 12) -> float:
    """From now until a page load shows `expected`; then `loads` more page loads on every
    server (spread over its workers) must all show it."""
    start = time.monotonic()
    while True:
        total = totals(apps[0])[0]
        if abs(total - expected) < 0.005:
            break
        assert time.monotonic() - start < VERSION_CHECK + 10, f"still {total}, not {expected}"
        time.sleep(0.05)
    elapsed = time.monotonic() - start
    later = [totals(app)[0] for app in apps for _ in range(loads)]
    assert all(abs(total - expected) < 0.005 for total in later), later
    return elapsed


def assert_change_reaches_everyone(served: Served, what: str) -> None:
    before = [totals(app)[0] for app in served.apps for _ in range(6)]
    assert set(before) == {served.total()} and len(served.runs()) == 1
    runs_before = len(served.runs())
    served.execute(RAISE_ONE_DAY)

    elapsed = seconds_until_every_load_shows(served.apps, served.total())

    new_runs = served.runs()[runs_before:]
    print(
        f"\n{what}: row change -> every view {elapsed:.2f} s (version_check {VERSION_CHECK} s), "
        f"{len(new_runs)} computation for the new version"
    )
    assert elapsed <= VERSION_CHECK + 1.5
    assert len(new_runs) == 1


def test_a_changed_row_is_on_every_worker_within_version_check_computed_once(
    served: Served,
) -> None:
    assert_change_reaches_everyone(served, served.environ.get("DATABASE_URL", "sqlite")[:10])


@pytest.fixture
def two_hosts(tmp_path: Path, cluster: PostgresCluster) -> Iterator[Served]:
    """Two app servers (two workers each) on one redis-server and one PostgreSQL."""
    redis = RedisServer(tmp_path / "redis", free_port())
    redis.start()
    try:
        environ = {"DASHSIGNAL_CACHE": "redis", "REDIS_URL": redis.url}
        with start_project(tmp_path, "postgresql", cluster, environ, servers=2) as started:
            yield started
    finally:
        redis.stop()


def test_two_servers_on_one_redis_see_a_change_at_once_computed_once(two_hosts: Served) -> None:
    assert_change_reaches_everyone(two_hosts, "two servers on one Redis")


# --- invalidate -----------------------------------------------------------------------------------

# Changes the units of the largest sale (the table's first row): count(*) and sum(amount), the
# demo's probe, miss it.
MARKED_UNITS = 999
MARK_TOP_SALE = (
    f"UPDATE sales SET units = {MARKED_UNITS} WHERE amount = (SELECT max(amount) FROM sales)"
)


def test_after_invalidate_no_response_carries_data_from_before(served: Served) -> None:
    app = served.apps[0]
    _, signal, rows = totals(app)
    assert rows[0]["units"] != MARKED_UNITS
    served.execute(MARK_TOP_SALE)
    time.sleep(VERSION_CHECK + 0.5)
    assert totals(app)[2][0]["units"] != MARKED_UNITS  # the probe did not see it
    runs_before = len(served.runs())

    printed = run_command(served, "invalidate")

    after = [totals(app)[2][0]["units"] for _ in range(12)]
    replayed = [
        reply.json()["response"] for _, reply in app.consume_all(signal) if reply.status == 200
    ]
    stale = [units for units in after if units != MARKED_UNITS]
    print(f"\ninvalidate: {len(after)} page loads after it, {len(stale)} with data from before")
    assert "invalidated" in printed
    assert stale == []
    assert all(
        payload["rows"]["rowData"][0]["units"] == MARKED_UNITS
        for payload in replayed
        if "rows" in payload
    )
    assert len(served.runs()) - runs_before == 1


# --- warming --------------------------------------------------------------------------------------


def test_after_warming_a_page_load_computes_nothing(served: Served) -> None:
    app = served.apps[0]
    first = run_command(served, "warm")
    second = run_command(served, "warm")
    runs = len(served.runs())
    total = totals(app)[0]

    assert "1 computed, 0 cached already" in first
    assert "0 computed, 1 cached already" in second
    assert runs == 1 and len(served.runs()) == 1
    assert total == served.total()


def test_warming_every_state_while_users_load_pages_computes_no_state_twice(
    served: Served,
) -> None:
    app = served.apps[0]
    states = [
        {"region": region, "product": products, "year": [2019, 2025]}
        for region in (None, "North", "South", "East", "West")
        for products in ([], ["Basic"], ["Plus", "Pro"])
    ]
    stop = threading.Event()
    loads: list[float] = []

    def user(offset: int) -> None:
        position = offset
        while not stop.is_set():
            loads.append(totals(app, states[position % len(states)])[0])
            position += 3

    users = [threading.Thread(target=user, args=(n,)) for n in range(3)]
    for thread in users:
        thread.start()
    try:
        printed = run_command(served, "warm", "--all")
    finally:
        stop.set()
        for thread in users:
            thread.join()

    per_state = Counter(json.dumps(run["filters"], sort_keys=True) for run in served.runs())
    print(f"\nwarm --all with 3 users: {printed.strip()}; {len(loads)} page loads meanwhile")
    assert "warmed 40 filter states" in printed and "0 failed" in printed
    assert set(per_state.values()) == {1}, per_state.most_common(3)
    assert len(per_state) == 40


# --- the probe fails ------------------------------------------------------------------------------


def test_a_failing_probe_keeps_the_last_data_marked_stale(
    tmp_path: Path, cluster: PostgresCluster
) -> None:
    with start_project(tmp_path, "postgresql", cluster, {}) as served:
        app = served.apps[0]
        good = totals(app)[0]
        offset = app.log_size()
        stop_server(cluster)
        try:
            time.sleep(VERSION_CHECK + 0.5)
            seen = [totals(app) for _ in range(10)]
        finally:
            restart(cluster)
        log = app.log_text(offset)
        failures = log.count("data_version() failed")
        print(
            f"\nprobe failing: {len(seen)} page loads, totals { {t for t, _, _ in seen} }, "
            f"{failures} log lines"
        )
        assert {total for total, _, _ in seen} == {good}
        assert all(signal.get("stale") is True for _, signal, _ in seen)
        assert 1 <= failures <= 2  # once per worker that probed
        app.assert_no_errors(offset)
