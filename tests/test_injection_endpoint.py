"""Injection through the callback endpoint of generated projects served by gunicorn.

The project's spec declares hostile options (a store named `O'Brien`, `x' OR '1'='1`,
`); DROP TABLE sales; --`, backslashes, `%s`, `:name`, `{conditions}`, NUL, unicode...) on a
dropdown, a multi, a checklist and a radio, beside a range and a dates filter; the demo database
the project makes on first use then holds rows with exactly those values.

- Undeclared values: for every kind of filter, at least 100 hostile values (fixed payloads, then
  Hypothesis) are POSTed to /_dash-update-component: each is refused (HTTP 204) and the app
  process sends no statement at all (its statement log does not grow; on PostgreSQL the server's
  own log_statement log does not either).
- Declared hostile values: each one gives the very SQL text a benign value gives (only the
  number of an IN list's parameters varies with the selection), travels only as a parameter
  (in the app's log, and in PostgreSQL's: `$1` in the text, the value in DETAIL), and the rows
  the `rows` table and the `total` indicator show are exactly the rows of the table that match,
  computed here beside the app with pandas on the whole table; the `sales` table still holds all
  its rows afterwards.

The statement log comes from the running app: a sitecustomize.py on the gunicorn process's
PYTHONPATH (so every worker forked from it has it) appends each statement and its parameters,
as JSON lines, from SQLAlchemy's `before_cursor_execute` (SQLite, PostgreSQL) and from
DuckDatabase's `log` hook (DuckDB). Sources: sql on SQLite, sql on PostgreSQL (DATABASE_URL, the
demo rows loaded with the project's own `DEMO.load(url)`), duckdb, and pandas (refusals only:
it runs no SQL).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import re
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dashsignal.testing.loading import split_output
from dashsignal_cli.specfile import parse_spec_text

from pg_helpers import PostgresCluster, postgres_bin
from project_helpers import generate
from test_production import (
    App,
    Reply,
    assert_empty_state,
    callback_body,
    signal_of,
    start_app,
    stop_process,
)

pytestmark = pytest.mark.e2e

SOURCES = ("sqlite", "postgresql", "duckdb", "pandas")
SQL_SOURCES = SOURCES[:3]  # pandas runs no SQL: its refusals only
# Refused values sent per filter kind at the least (fixed payloads, then Hypothesis's).
AT_LEAST = 100
HYPOTHESIS_EXAMPLES = 100

# The declared options: the first of each is benign, the others hostile. NUL only where the
# database's text can hold it (not PostgreSQL's).
STORES = [
    "North",
    "O'Brien",
    "x' OR '1'='1",
    "); DROP TABLE sales; --",
    '"; DROP TABLE sales; --',
    "\\",
    "\\'",
    "%s",
    "%(store_1)s",
    ":name",
    "?",
    "$1",
    "{conditions}",
    "*/ OR /*",
    "\u2019; SELECT 1",
    "\u00e9t\u00e9 \u65e5\u672c \U0001f600",
    "--",
    "a\nb",
]
NUL_STORE = "x\x00'; DROP TABLE sales; --"
TAGS = ["web", "'; DELETE FROM sales; --", "' OR ''='", "%", "_", "\\%", "NULL"]
SEGMENTS = ["retail", "b'2", "') OR ('a'='a", "; --"]
TIERS = ["gold", "' UNION SELECT 1 --", "1; SELECT pg_sleep(5)"]
YEARS = (2019, 2025)
DAYS = ("2024-01-01", "2024-12-31")

PAYLOADS = [
    "O'Brien'",
    "o'brien",
    "O'Brien ",
    "x' OR '1'='1' --",
    "' OR 1=1 --",
    "1' OR '1'='1",
    "'); DROP TABLE sales; --",
    "); DROP TABLE sales;",
    "\\\\",
    "%s%s",
    "%(x)s",
    ":name_1",
    "$2",
    "{conditions} OR 1=1",
    "/*",
    "North' --",
    "North\x00",
    "NORTH",
    "north",
    " North",
    "North;",
    "1 UNION SELECT sql FROM sqlite_master",
    "'; SELECT pg_sleep(10); --",
    "\u02bc OR 1=1",
    "\uff07 OR \uff071\uff07=\uff071",
    "",
    " ",
    "NULL",
    "null",
    "true",
    "0",
]
OTHER_VALUES: list[Any] = [1, 0, -1, 2**70, 1.5, True, False, {}, {"$ne": None}, [], [None]]

# sitecustomize.py for the app's processes: every statement the app sends, with its parameters,
# one JSON line each, appended (O_APPEND: lines of several workers do not mix).
SITECUSTOMIZE = '''"""Test hook: log every statement the app sends (test_injection_endpoint)."""

import json
import os

_LOG = os.environ.get("DS_TEST_STATEMENTS")


def _tagged(value):
    if isinstance(value, dict):
        return {"dict": {str(k): _tagged(v) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        return {"list": [_tagged(v) for v in value]}
    if value is None or isinstance(value, (bool, int, float, str)):
        return {type(value).__name__: value}
    return {type(value).__name__: str(value)}


def _write(via, statement, parameters):
    line = json.dumps(
        {"pid": os.getpid(), "via": via, "statement": statement, "params": _tagged(parameters)}
    )
    fd = os.open(_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\\n").encode("utf-8"))
    finally:
        os.close(fd)


if _LOG:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    def _before(conn, cursor, statement, parameters, context, executemany):
        _write("sqlalchemy", statement, parameters)

    event.listen(Engine, "before_cursor_execute", _before)

    from dashsignal import sql as _sql

    _init = _sql.DuckDatabase.__init__

    def _logged_init(self, *args, **kwargs):
        _init(self, *args, **kwargs)
        if self.log is None:
            self.log = lambda statement, parameters: _write("duckdb", statement, parameters)

    _sql.DuckDatabase.__init__ = _logged_init
    # One line from the process that loaded the hook (gunicorn's master: workers fork from it).
    _write("hook", "", None)
'''


def spec_text(source: str, *, nul: bool) -> str:
    """dashsignal.toml, written by hand: hostile options on every choice kind."""
    data = {"sqlite": "sql", "postgresql": "sql"}.get(source, source)
    stores = STORES + [NUL_STORE] if nul else STORES

    def toml_list(values: list[str]) -> str:
        # JSON strings are TOML basic strings (\\uXXXX escapes, \\n, \\", \\\\).
        return "[" + ", ".join(json.dumps(v, ensure_ascii=False) for v in values) + "]"

    return f"""[app]
name = "shop"
title = "Shop"

[cache]
backend = "filesystem"
new_per_minute = 0

[data]
source = "{data}"

[[filters]]
id = "store"
kind = "dropdown"
options = {toml_list(stores)}

[[filters]]
id = "tags"
kind = "multi"
column = "tag"
options = {toml_list(TAGS)}

[[filters]]
id = "segment"
kind = "checklist"
options = {toml_list(SEGMENTS)}

[[filters]]
id = "tier"
kind = "radio"
options = {toml_list(TIERS)}

[[filters]]
id = "year"
kind = "range"
min = {YEARS[0]}
max = {YEARS[1]}

[[filters]]
id = "period"
kind = "dates"
column = "sold_on"
min = {DAYS[0]}
max = {DAYS[1]}

[[views]]
id = "rows"
kind = "table"

[[views]]
id = "total"
kind = "indicator"
"""


DEFAULTS: dict[str, Any] = {
    "store": None,
    "tags": [],
    "segment": list(SEGMENTS),
    "tier": TIERS[0],
    "year": list(YEARS),
    "period": [None, None],
}
# The filter of each kind, by kind.
BY_KIND = {
    "dropdown": "store",
    "multi": "tags",
    "checklist": "segment",
    "radio": "tier",
    "range": "year",
    "dates": "period",
}


# --- the served project -------------------------------------------------------------------------


def is_probe(statement: str) -> bool:
    """The generated data.py's data_version() probe: `SELECT count(*) AS row_count, ...`."""
    return "AS row_count" in statement


@dataclass
class Served:
    """One project under gunicorn, its statement log, and the whole table read beside it."""

    source: str
    project: Path
    app: App
    statements: Path
    stores: list[str]
    cluster: PostgresCluster | None = None
    table: pd.DataFrame | None = None
    # The statement of the first state served (the defaults), values benign.
    first_statement: str = ""
    sent: Counter[str] = field(default_factory=Counter)
    refused_requests: int = 0
    declared_requests: int = 0
    checked_statements: int = 0

    def log_lines(self, since: int = 0) -> list[dict[str, Any]]:
        """The statements the app sent since `since`, the data_version probe's left out (it
        takes no filter value, and runs on its own clock)."""
        with self.statements.open("rb") as handle:
            handle.seek(since)
            text = handle.read().decode("utf-8")
        lines = [json.loads(line) for line in text.splitlines() if line.strip()]
        return [line for line in lines if not is_probe(line.get("statement", ""))]

    def log_size(self) -> int:
        return self.statements.stat().st_size if self.statements.exists() else 0

    def server_log_size(self) -> int:
        return self.cluster.log.stat().st_size if self.cluster is not None else 0

    def body(self, state: dict[str, Any]) -> dict[str, Any]:
        """The compute callback's request for filter values `state` (a dates filter's value is
        [start, end]: two inputs)."""
        callback = self.app.compute_callback
        values = []
        for dep in callback["inputs"]:
            value = state[dep["id"]]
            if dep["property"] == "start_date":
                value = value[0]
            elif dep["property"] == "end_date":
                value = value[1]
            values.append(value)
        return callback_body(callback, values)

    def compute(self, state: dict[str, Any]) -> Reply:
        return self.app.post(self.body(state))

    def shown(self, state: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
        """The rows table's rowData and the total indicator's text, for one filter change."""
        computed = self.compute(state)
        assert computed.status == 200, computed.describe()
        replies = {
            split_output(callback["output"])[0][0]: reply
            for callback, reply in self.app.consume_all(signal_of(computed))
        }
        for view, reply in replies.items():
            assert reply.status == 200, f"{view}: {reply.describe()}"
        rows = replies["rows"].json()["response"]["rows"]["rowData"]
        total = replies["total"].json()["response"]["total"]["children"]
        assert isinstance(total, str), f"the total shows a failure: {total!r}"
        return rows, total


def _project(tmp: Path, source: str) -> Path:
    spec = parse_spec_text(spec_text(source, nul=source != "postgresql"))
    project = generate(tmp / "shop", spec)
    # The user's own data.py: the demo's stand-in latency off, as its comment says to.
    data = project / "data.py"
    text = data.read_text(encoding="utf-8")
    assert "DEMO_DELAY_SECONDS = 0.4" in text
    data.write_text(text.replace("DEMO_DELAY_SECONDS = 0.4", "DEMO_DELAY_SECONDS = 0"))
    return project


def _in_project(project: Path, code: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=project, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-4000:]


@contextlib.contextmanager
def _cluster() -> Iterator[PostgresCluster]:
    bin_dir = postgres_bin()
    if bin_dir is None:
        pytest.fail("these tests need PostgreSQL's initdb (apt-get install postgresql)")
    cluster = PostgresCluster(bin_dir)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def _log_every_statement(url: str) -> None:
    """PostgreSQL's own statement log: every statement, its parameters, the application."""
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("ALTER SYSTEM SET log_statement = 'all'")
            connection.exec_driver_sql("ALTER SYSTEM SET log_line_prefix = '%%m [%%p] app=%%a '")
            connection.exec_driver_sql("ALTER SYSTEM SET log_parameter_max_length = -1")
            connection.exec_driver_sql("SELECT pg_reload_conf()")
    finally:
        engine.dispose()


def _read_table(served: Served) -> pd.DataFrame:
    """Every row of the sales table, read beside the app with the driver itself."""
    if served.source == "sqlite":
        with contextlib.closing(sqlite3.connect(served.project / "data" / "sales.sqlite")) as con:
            frame = pd.read_sql_query("SELECT * FROM sales", con)
    elif served.source == "duckdb":
        import duckdb

        path = served.project / "data" / "sales.duckdb"
        with duckdb.connect(str(path), read_only=True) as con:
            frame = con.execute("SELECT * FROM sales").fetch_df()
    else:
        assert served.cluster is not None
        engine = sa.create_engine(served.cluster.url + "?application_name=oracle")
        try:
            with engine.connect() as connection:
                frame = pd.read_sql_query(sa.text("SELECT * FROM sales"), connection)
        finally:
            engine.dispose()
    frame["sold_on"] = pd.to_datetime(frame["sold_on"]).dt.strftime("%Y-%m-%d")
    return frame


@pytest.fixture(scope="module", params=SOURCES)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    source = request.param
    tmp = tmp_path_factory.mktemp(f"inject-{source}")
    started = time.monotonic()
    project = _project(tmp, source)
    hook = tmp / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    statements = tmp / "statements.jsonl"
    environ = {"PYTHONPATH": str(hook), "DS_TEST_STATEMENTS": str(statements)}
    with contextlib.ExitStack() as stack:
        cluster = None
        if source == "postgresql":
            cluster = stack.enter_context(_cluster())
            _in_project(project, f"from signaling.source import DEMO; DEMO.load({cluster.url!r})")
            _log_every_statement(cluster.url)
            environ["DATABASE_URL"] = cluster.url + "?application_name=shop"
        spec = parse_spec_text((project / "dashsignal.toml").read_text(encoding="utf-8"))
        app, process = start_app(tmp, spec, workers=2, existing=project, environ=environ)
        stack.callback(stop_process, process)
        stores = STORES if source == "postgresql" else STORES + [NUL_STORE]
        served = Served(source, project, app, statements, stores, cluster)
        # The first state: the demo database is made, and the log proves it records the query.
        rows, _ = served.shown(DEFAULTS)
        assert rows
        hooked, *sent = served.log_lines()
        assert hooked["via"] == "hook", "the statement hook is not loaded"
        queries = [line for line in sent if "FROM sales" in line["statement"]]
        if source == "pandas":
            assert sent == [], "the pandas source ran SQL"
        else:
            assert len(queries) == 1, queries
            served.first_statement = queries[0]["statement"]
            assert not any(word in served.first_statement for word in _BENIGN)
            served.table = _read_table(served)
            assert len(served.table) == 200_000
        print(f"\n[{source}] started in {time.monotonic() - started:.1f} s")
        yield served
        print(
            f"\n[{source}] refused requests: {served.refused_requests} "
            f"({dict(served.sent)}); declared requests: {served.declared_requests}; "
            f"statements checked: {served.checked_statements}"
        )


# --- undeclared values: refused, nothing runs -----------------------------------------------------

OPTIONS = {"tags": TAGS, "segment": SEGMENTS, "tier": TIERS}


def _options(served: Served, filter_id: str) -> list[str]:
    return served.stores if filter_id == "store" else OPTIONS[filter_id]


def _declared_option(value: Any, options: list[str]) -> bool:
    return type(value) is str and value in options


def _declared(served: Served, kind: str, value: Any) -> bool:
    """Whether `value` is declared for the filter of `kind`: what the filters mean, written
    here apart from dashsignal.filters."""
    filter_id = BY_KIND[kind]
    if kind == "dropdown":
        return value is None or _declared_option(value, served.stores)
    if kind == "radio":
        return _declared_option(value, TIERS)
    if kind in ("multi", "checklist"):
        options = _options(served, filter_id)
        return value is None or (
            type(value) is list
            and len(value) <= len(options)
            and all(_declared_option(item, options) for item in value)
        )
    if kind == "range":
        if type(value) is not list or len(value) != 2:
            return False
        for bound in value:
            if type(bound) not in (int, float) or not math.isfinite(bound):
                return False
            if not YEARS[0] <= bound <= YEARS[1] or abs(bound - round(bound)) > 1e-6:
                return False
        return bool(value[0] <= value[1])
    start, end = value
    days = []
    for bound in (start, end):
        if bound is None:
            continue
        if type(bound) is not str or len(bound) > 32:
            return False
        try:
            day = dt.datetime.fromisoformat(bound).date().isoformat()
        except ValueError:
            return False
        if not DAYS[0] <= day <= DAYS[1]:
            return False
        days.append(day)
    return len(days) < 2 or days[0] <= days[1]


_SPECIALS = "'\"\\;-%:?$(){}*/=\x00\n"
_TEXT = st.text(st.characters(codec="utf-8", include_characters=_SPECIALS), max_size=40)
_SUFFIXES = ["'", "' --", "'; DROP TABLE sales; --", " ", "\x00", "%", "' OR '1'='1", ")"]
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=2)
    ),
    max_leaves=6,
)
_ALL_OPTIONS = STORES + [NUL_STORE] + TAGS + SEGMENTS + TIERS


def _near_misses(options: list[str]) -> st.SearchStrategy[str]:
    """A declared option, changed a little: a quote or comment added, its case changed."""
    option = st.sampled_from(options)
    return st.one_of(
        st.builds(lambda o, s: o + s, option, st.sampled_from(_SUFFIXES)),
        st.builds(lambda s, o: s + o, st.sampled_from(_SUFFIXES), option),
        option.map(str.upper),
        option.map(str.lower),
        option.map(lambda o: o[:-1]),
    )


def _hostile_strings(options: list[str]) -> st.SearchStrategy[Any]:
    return st.sampled_from(PAYLOADS) | _TEXT | _near_misses(options)


def _strategy(served: Served, kind: str) -> st.SearchStrategy[Any]:
    if kind in ("dropdown", "radio"):
        options = _options(served, BY_KIND[kind])
        return _hostile_strings(options) | _JSON | st.lists(st.sampled_from(options), max_size=2)
    if kind in ("multi", "checklist"):
        options = _options(served, BY_KIND[kind])
        item = _hostile_strings(options) | st.sampled_from(options) | _JSON
        return st.one_of(
            st.lists(item, min_size=1, max_size=5),
            st.lists(st.sampled_from(options), min_size=len(options) + 1, max_size=12),
            _hostile_strings(options),
            st.sampled_from(options),
            _JSON,
        )
    if kind == "range":
        bound = st.one_of(
            _hostile_strings(_ALL_OPTIONS),
            st.integers(),
            st.integers(min_value=10**15),
            st.floats(),
            st.floats(min_value=YEARS[0], max_value=YEARS[1]),
            st.sampled_from([2019.5, 2020.25, 1e308, -0.0, True, None]),
            _JSON,
        )
        return st.one_of(
            st.lists(bound, min_size=2, max_size=2),
            st.lists(bound, max_size=4),
            st.lists(st.lists(st.integers(2019, 2025), max_size=2), min_size=2, max_size=2),
            _JSON,
            _hostile_strings(_ALL_OPTIONS),
        )
    day = st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)).map(dt.date.isoformat)
    inside = st.dates(dt.date(2024, 1, 1), dt.date(2024, 12, 31)).map(dt.date.isoformat)
    bound = st.one_of(
        st.builds(lambda d, s: d + s, inside, st.sampled_from(_SUFFIXES + [" OR 1=1", "T25:00"])),
        day,
        st.sampled_from(["2024-13-01", "2024-02-30", "0000-00-00", "2024-1-1", "20240101x"]),
        st.sampled_from(["2024-06-01'); DROP TABLE sales; --", "2024-06-01 00:00:00' OR '1'='1"]),
        _hostile_strings(_ALL_OPTIONS),
        _JSON,
        inside,
    )
    return st.tuples(bound, bound | st.none()).map(list)


def _fixed_payloads(served: Served, kind: str) -> list[Any]:
    """The fixed hostile values of one kind, before Hypothesis's."""
    scalars = PAYLOADS + OTHER_VALUES
    if kind in ("dropdown", "radio"):
        return scalars + [[o] for o in _options(served, BY_KIND[kind])[:3]]
    if kind in ("multi", "checklist"):
        options = _options(served, BY_KIND[kind])
        return [[p] for p in scalars] + [[options[0], p] for p in PAYLOADS] + [options[0]]
    if kind == "range":
        return [
            [p, 2025] for p in scalars
        ] + [[2019, p] for p in PAYLOADS] + [
            [2025, 2019], [2018, 2025], [2019, 2026], [2019.5, 2020], [2019], [2019, 2020, 2021],
            [[2019], [2025]], [10**30, 10**30], [-(10**30), 2025], [True, True], None, "2019..2025",
        ]  # fmt: skip
    return [[p, None] for p in scalars] + [[None, p] for p in PAYLOADS] + [
        ["2024-12-31", "2024-01-01"], ["2023-12-31", None], [None, "2025-01-01"],
        ["2024-01-01'; DROP TABLE sales; --", "2024-12-31"], ["2024-02-30", None],
        ["2024-06-01" + "0" * 40, None], [20240101, None], [["2024-01-01"], None],
    ]  # fmt: skip


def _send_refused(served: Served, kind: str, value: Any) -> None:
    state = {**DEFAULTS, BY_KIND[kind]: value}
    before = served.log_size()
    if kind == "dates" and not (isinstance(value, list) and len(value) == 2):
        raise AssertionError("a dates value is sent as its two inputs")
    reply = served.compute(state)
    served.sent[kind] += 1
    served.refused_requests += 1
    assert reply.status == 204, f"{kind} {value!r}: {reply.describe()}"
    assert reply.body == b""
    assert served.log_size() == before, f"{kind} {value!r} ran: {served.log_lines(before)}"


@pytest.mark.parametrize("kind", list(BY_KIND))
def test_undeclared_values_are_refused_and_run_nothing(served: Served, kind: str) -> None:
    started = time.monotonic()
    app_log = served.app.log_size()
    server_log = served.server_log_size()
    log = served.log_size()
    fixed = [v for v in _fixed_payloads(served, kind) if not _declared(served, kind, v)]
    for value in fixed:
        _send_refused(served, kind, value)

    @settings(
        max_examples=HYPOTHESIS_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(value=_strategy(served, kind))
    def check(value: Any) -> None:
        assume(not _declared(served, kind, value))
        _send_refused(served, kind, value)

    check()
    assert served.sent[kind] >= AT_LEAST, served.sent
    assert served.log_size() == log
    if served.cluster is not None:
        # Nor did the server see a statement from the app.
        assert "app=shop" not in _server_log(served, server_log)
    # The app still answers, and still runs what is declared.
    assert served.compute({**DEFAULTS, "year": [2020, 2024]}).status == 200
    served.app.assert_no_errors(app_log)
    took = time.monotonic() - started
    print(f"\n[{served.source}] {kind}: {served.sent[kind]} refused in {took:.1f} s")


def _server_log(served: Served, since: int = 0) -> str:
    assert served.cluster is not None
    with served.cluster.log.open("rb") as handle:
        handle.seek(since)
        return handle.read().decode("utf-8", errors="replace")


# --- declared hostile values: parameters only, the matching rows ----------------------------------


def _declared_states(stores: list[str]) -> list[dict[str, Any]]:
    """Filter states that select hostile options of every choice kind, each new (so that each
    runs the query once), a benign state first in each group of the same selection sizes."""
    states: list[dict[str, Any]] = []
    states += [{**DEFAULTS, "store": store} for store in stores]
    states += [{**DEFAULTS, "tags": [tag]} for tag in TAGS]
    states += [{**DEFAULTS, "tags": TAGS[:2]}, {**DEFAULTS, "tags": TAGS[1:3]}]
    states += [{**DEFAULTS, "tags": TAGS[:3]}, {**DEFAULTS, "tags": TAGS[3:6]}]
    states += [{**DEFAULTS, "tags": list(TAGS)}]
    states += [{**DEFAULTS, "segment": [segment]} for segment in SEGMENTS]
    states += [{**DEFAULTS, "segment": SEGMENTS[:3]}, {**DEFAULTS, "segment": SEGMENTS[1:]}]
    # The radio's first option is the default, the first state served.
    states += [{**DEFAULTS, "tier": tier} for tier in TIERS[1:]]
    periods = [["2024-02-01", "2024-10-31"], [None, "2024-06-30"], ["2024-03-01", None]]
    # Each way of narrowing the dates, first with benign values only.
    benign = {"store": stores[0], "tags": TAGS[:1], "segment": SEGMENTS[:1], "tier": TIERS[0]}
    states += [{**benign, "year": [2021, 2025], "period": period} for period in periods]
    for i, store in enumerate(stores):
        # Narrow: fewer rows than the table shows, so every matching row is compared.
        states.append(
            {
                "store": store,
                "tags": [TAGS[i % len(TAGS)]],
                "segment": [SEGMENTS[i % len(SEGMENTS)]],
                "tier": TIERS[i % len(TIERS)],
                "year": [2019 + i % 5, 2020 + i % 5],
                "period": periods[i % len(periods)],
            }
        )
    return states


def _matching(table: pd.DataFrame, state: dict[str, Any]) -> pd.DataFrame:
    """The rows of the table that match `state`, by what each filter means."""
    keep = pd.Series(True, index=table.index)
    if state["store"] is not None:
        keep &= table["store"] == state["store"]
    if state["tags"]:
        keep &= table["tag"].isin(state["tags"])
    if state["segment"]:
        keep &= table["segment"].isin(state["segment"])
    keep &= table["tier"] == state["tier"]
    keep &= table["year"].between(*state["year"])
    start, end = state["period"]
    if start is not None:
        keep &= table["sold_on"] >= start
    if end is not None:
        keep &= table["sold_on"] <= end
    return table[keep]


_ROW_COLUMNS = (
    "store",
    "tag",
    "segment",
    "tier",
    "year",
    "sold_on",
    "channel",
    "day",
    "units",
    "amount",
)


def _row_key(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(str(row[c])[:10] if c in ("sold_on", "day") else row[c] for c in _ROW_COLUMNS)


def _table_keys(frame: pd.DataFrame) -> Counter[tuple[Any, ...]]:
    frame = frame.assign(day=pd.to_datetime(frame["day"]).dt.strftime("%Y-%m-%d"))
    records = frame[list(_ROW_COLUMNS)].to_dict("records")
    return Counter(
        _row_key({k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()})
        for r in records
    )


def _untag(value: Any) -> Any:
    ((kind, inner),) = value.items()
    if kind == "list":
        return [_untag(v) for v in inner]
    if kind == "dict":
        return {k: _untag(v) for k, v in inner.items()}
    return inner


def _parameters(line: dict[str, Any]) -> list[Any]:
    """The statement's parameters in the order of its placeholders."""
    params = _untag(line["params"])
    if isinstance(params, dict):  # psycopg's named parameters: %(name)s
        names = re.findall(r"%\((\w+)\)s", line["statement"])
        assert sorted(names) == sorted(params), (names, params)
        return [params[name] for name in names]
    return list(params)


def _choices(state: dict[str, Any]) -> list[str]:
    """The choice values the state sends, in declaration order: the parameters they must be."""
    store = [] if state["store"] is None else [state["store"]]
    return [*store, *state["tags"], *state["segment"], state["tier"]]


_IN_LIST = re.compile(r" IN \(([^()]*)\)")


def _shape(statement: str) -> tuple[str, tuple[int, ...]]:
    """The statement with each IN list written `IN (...)`, and the lists' lengths."""
    statement = re.sub(r"%\(\w+\)s", "%s", statement)  # psycopg's named parameters
    lengths = tuple(len(m.group(1).split(", ")) for m in _IN_LIST.finditer(statement))
    return _IN_LIST.sub(" IN (...)", statement), lengths


def _group(state: dict[str, Any]) -> tuple[Any, ...]:
    """What decides the exact SQL text: which conditions there are, and the IN lists' sizes."""
    return (_conditions(state), len(state["tags"]), len(state["segment"]))


def _conditions(state: dict[str, Any]) -> tuple[bool, ...]:
    """Which conditions the state puts (a cleared dropdown, an empty multi, an open end of the
    dates are none): the statement's shape, but for its IN lists' lengths."""
    start, end = state["period"]
    present = (state["store"], state["tags"], state["segment"], start, end)
    return tuple(bool(value) for value in present)


_BENIGN = ("North", "web", "retail", "gold")


@pytest.mark.parametrize("served", SQL_SOURCES, indirect=True)
def test_declared_hostile_values_travel_only_as_parameters(served: Served) -> None:
    assert served.table is not None
    started = time.monotonic()
    app_log = served.app.log_size()
    server_log = served.server_log_size()
    queries: list[dict[str, Any]] = []
    by_group: dict[tuple[Any, ...], str] = {}
    shapes: dict[str, set[tuple[int, ...]]] = {}
    for state in _declared_states(served.stores):
        before = served.log_size()
        rows, total = served.shown(state)
        served.declared_requests += 3
        sent = [line for line in served.log_lines(before) if line["via"] != "hook"]
        assert len(sent) == 1, f"{state}: {sent}"
        (line,) = sent
        statement = line["statement"]
        assert "FROM sales" in statement
        queries.append(line)
        served.checked_statements += 1

        # The SQL text: the same for every value of a group of states (which conditions, how
        # many values in each IN list), and no benign value in it either.
        assert not any(word in statement for word in _BENIGN), statement
        assert by_group.setdefault(_group(state), statement) == statement, state
        # No value in the text: but for those that are parts of any such statement ("_" of
        # sold_on, "%" of psycopg's %(name)s...), as the first, benign, statement shows.
        # psycopg's placeholders are names: %(store_1)s is one (and an option here).
        bare = re.sub(r"%\(\w+\)s", "", statement)
        inert = {option for option in _ALL_OPTIONS if option in served.first_statement}
        assert not [v for v in _choices(state) if v in bare and v not in inert], statement
        shape, lengths = _shape(statement)
        shapes.setdefault(_conditions(state), {}).setdefault(shape, set()).add(lengths)
        assert lengths == tuple(n for n in (len(state["tags"]), len(state["segment"])) if n)
        # The values: only parameters, exactly those chosen, as strings.
        parameters = _parameters(line)
        choices = [p for p in parameters if type(p) is str and p in _ALL_OPTIONS]
        assert choices == _choices(state), (parameters, state)
        assert all(type(p) is not str or p in _ALL_OPTIONS or re.fullmatch(r"\d{4}-\d\d-\d\d", p)
                   for p in parameters), parameters  # fmt: skip

        # The rows: exactly the matching ones.
        expected = _matching(served.table, state)
        assert len(expected) > 0, f"no demo row holds {state}"
        shown_keys = Counter(_row_key(row) for row in rows)
        expected_keys = _table_keys(expected)
        assert len(rows) == min(500, len(expected)), state
        assert not shown_keys - expected_keys, (state, list(shown_keys - expected_keys)[:3])
        if len(expected) <= 500:
            assert shown_keys == expected_keys
        else:
            top = sorted(expected["amount"].nlargest(500).tolist())
            assert sorted(row["amount"] for row in rows) == top
        assert float(total.replace(",", "")) == pytest.approx(
            float(expected["amount"].sum()), abs=0.011
        ), state

    # One statement per set of conditions: only the IN lists' lengths varied, and they did.
    for found in shapes.values():
        assert len(found) == 1, list(found)
    tags_selected = shapes[(False, True, True, False, False)]
    assert {lengths[0] for lengths in next(iter(tags_selected.values()))} == {1, 2, 3, 7}
    if served.cluster is not None:
        _check_server_log(_server_log(served, server_log), queries)
    # The table is still there, with every row.
    assert len(_read_table(served)) == 200_000
    served.app.assert_no_errors(app_log)
    print(
        f"\n[{served.source}] {len(queries)} declared states in {time.monotonic() - started:.1f} s"
    )


_ENTRY = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \S+ \[\d+\] app=(\S*) ", re.M)
_PARAMETER = re.compile(r"\$(\d+) = (NULL|'(?:[^']|'')*')", re.S)


def _check_server_log(text: str, queries: list[dict[str, Any]]) -> None:
    """PostgreSQL's own log of the app's statements: the same statements in the same order,
    each with `$n` placeholders only, and its values apart, in the DETAIL line."""
    starts = list(_ENTRY.finditer(text))
    ends = [match.start() for match in starts[1:]] + [len(text)]
    entries = [
        (match.group(1), text[match.end() : end]) for match, end in zip(starts, ends, strict=True)
    ]
    executed: list[tuple[str, list[str]]] = []
    # A message of several lines goes on with a tab at the start of each next line.
    entries = [(app, body.replace("\n\t", "\n")) for app, body in entries]
    for i, (app, body) in enumerate(entries):
        if app != "shop" or not body.startswith("LOG:  ") or is_probe(body):
            continue
        # The query never went as one plain statement (simple protocol: values in its text).
        assert not (body.startswith("LOG:  statement: ") and "FROM sales" in body), body
        found = re.match(r"LOG:  execute [^:]*: (.*)", body, re.S)
        if found is None or "FROM sales" not in found.group(1):
            continue
        detail = entries[i + 1][1] if i + 1 < len(entries) else ""
        assert detail.lower().startswith("detail:  parameters: "), detail
        values = [
            v if v == "NULL" else v[1:-1].replace("''", "'") for _, v in _PARAMETER.findall(detail)
        ]
        executed.append((found.group(1).rstrip("\n"), values))
    assert len(executed) == len(queries), (len(executed), len(queries))
    for (statement, values), query in zip(executed, queries, strict=True):
        # The app's text, its placeholders numbered by psycopg: nothing else in between.
        parts = re.split(r"%\(\w+\)s", query["statement"])
        sent = parts[0] + "".join(f"${n}{part}" for n, part in enumerate(parts[1:], 1))
        assert statement == sent.rstrip("\n"), (statement, sent)
        assert not any(word in statement for word in _BENIGN)
        placeholders = re.findall(r"\$\d+", statement)
        assert len(placeholders) == len(values) == len(_parameters(query)), statement
        assert values == [str(p) for p in _parameters(query)], (values, query)


# A declared state that no demo row matches (checked against the table below).
NO_ROW = {
    "store": "O'Brien",
    "tags": ["' OR ''='"],
    "segment": ["b'2"],
    "tier": "' UNION SELECT 1 --",
    "year": [2019, 2019],
    "period": ["2024-05-05", "2024-05-05"],
}


@pytest.mark.parametrize(
    "served",
    # A SQL result without rows has untyped columns: the rows view must show no row, not fail.
    ["sqlite", "postgresql", "duckdb"],
    indirect=True,
)
def test_hostile_values_matching_no_row_show_no_row(served: Served) -> None:
    assert served.table is not None
    assert _matching(served.table, NO_ROW).empty
    app_log = served.app.log_size()
    before = served.log_size()
    computed = served.compute(NO_ROW)
    assert computed.status == 200, computed.describe()
    (line,) = [line for line in served.log_lines(before) if line["via"] != "hook"]
    assert [p for p in _parameters(line) if p in _ALL_OPTIONS] == _choices(NO_ROW)
    replies = {
        split_output(callback["output"])[0][0]: reply.json()["response"]
        for callback, reply in served.app.consume_all(signal_of(computed))
    }
    assert replies["total"]["total"]["children"] == "0.00"
    table = replies["rows"]["rows"]
    assert table["rowData"] == []
    failed = [column for column in table["columnDefs"] if column.get("field") == "failed"]
    assert failed == [], failed
    served.app.assert_no_errors(app_log)


def _forged_signals(served: Served) -> list[Any]:
    """Signals no compute step wrote: each filter in turn at a hostile value, and broken ones."""
    signals: list[Any] = []
    for filter_id in BY_KIND.values():
        for payload in [*PAYLOADS[:12], *OTHER_VALUES[:6]]:
            value = [payload, payload] if filter_id in ("year", "period") else payload
            signals.append({"filters": {**DEFAULTS, filter_id: value}})
    signals += [None, {}, "x' OR '1'='1", {"filters": None}, {"filters": {"store": "North"}}]
    signals += [{"filters": {**DEFAULTS, "extra": "'; DROP TABLE sales; --"}}]
    return signals


@pytest.mark.parametrize("served", SOURCES, indirect=True)
def test_forged_signals_to_the_views_run_nothing(served: Served) -> None:
    """The views' callbacks take the signal store, which a client can forge too: a signal of
    undeclared values shows the empty state, and no statement runs."""
    app_log = served.app.log_size()
    log = served.log_size()
    forged = _forged_signals(served)
    for signal in forged:
        for callback, reply in served.app.consume_all(signal):
            assert_empty_state(callback, reply)
            served.refused_requests += 1
        assert served.log_size() == log, f"{signal!r} ran: {served.log_lines(log)}"
    served.app.assert_no_errors(app_log)
    print(f"\n[{served.source}] {len(forged)} forged signals, each to every view: nothing ran")
