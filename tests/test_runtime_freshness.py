"""Fresh data in the runtime (dashsignal.freshness): a probed version and a generation in every
key, shared by every process through the cache; invalidate, warm and a failing probe.

Two apps built from the library on one cache folder (or one real redis-server) stand for two
worker processes: what one publishes, the other's next request reads. Their callbacks are
driven over HTTP through Flask's test client, the way the renderer calls them.
"""

from __future__ import annotations

import logging
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from dash import Dash, Input, Output

from dashsignal import QUERY, CacheSettings, Computation, Computations, Filter, Filters, View
from dashsignal.filters import TooManyStates
from dashsignal.layout import indicator_card, page
from dashsignal.manage import main as manage
from dashsignal.signaling import Signaling
from dashsignal.testing.endpoint import DashEndpoint

from runtime_helpers import running_redis

SIGNAL_ID = "dashsignal-signal"
CHECK = 0.3  # version_check, seconds
FILTERS = Filters(
    Filter("region", "dropdown", "Region", options=("North", "South")),
    Filter("product", "multi", "Product", options=("Basic", "Plus", "Pro"), default=[]),
    Filter("year", "range", "Year", min=2020, max=2024, step=1, default=[2020, 2024]),
)


class Database:
    """What the apps' query reads: one number, its version, and every query run."""

    def __init__(self) -> None:
        self.value = 1
        self.down = False
        self.queries: list[tuple[int, Any]] = []
        self.probes = 0
        # What the probe reports when it does not look at the rows (a probe that misses a change).
        self.fixed_version: Any = None

    def version(self) -> Any:
        self.probes += 1
        if self.down:
            raise ConnectionError("database unreachable")
        if self.fixed_version is not None:
            return self.fixed_version
        return {"value": self.value}


def build(
    cache_dir: Path, database: Database, *, backend: str = "filesystem", redis_url: str = ""
) -> tuple[Dash, Signaling]:
    data = types.ModuleType("fresh_data")

    def expensive_query(filters: dict[str, Any]) -> pd.DataFrame:
        database.queries.append((database.value, filters))
        return pd.DataFrame({"value": [database.value]})

    data.expensive_query = expensive_query
    data.data_version = database.version
    view = types.ModuleType("views.value")
    view.summarise = lambda frame: int(frame["value"].sum())
    view.render = str
    settings = CacheSettings(
        app_name="fresh",
        spec_version="1",
        backend=backend,
        cache_dir=cache_dir,
        version_check=CHECK,
        **({"redis_url": redis_url} if redis_url else {}),
    )
    signaling = Signaling(
        settings,
        FILTERS,
        Computations(Computation(QUERY, data, "expensive_query", version_name="DATA_VERSION")),
        signals={QUERY: SIGNAL_ID},
        views=[View("value", view)],
    )
    app = Dash(__name__)
    signaling.init_app(app)
    app.layout = page(
        "Fresh", FILTERS, indicators=[indicator_card("value", "Value")], stores=[SIGNAL_ID]
    )
    app.callback(Output(SIGNAL_ID, "data"), inputs={"filters": FILTERS.inputs()})(
        lambda filters: signaling.signal(QUERY, filters)
    )
    app.callback(Output("value", "children"), Input(SIGNAL_ID, "data"))(
        lambda signal: view.render(signaling.summary_for("value", signal))
    )
    return app, signaling


def shown(app: Dash, filters: dict[str, Any] | None = None) -> tuple[str, Any]:
    """What a page load shows (a new session each time): the view's text, and the signal."""
    endpoint = DashEndpoint(app.server.test_client())
    results = endpoint.change(filters or FILTERS.defaults())
    return results["value"].value("value", "children"), results[SIGNAL_ID].value(SIGNAL_ID, "data")


@pytest.fixture
def database() -> Database:
    return Database()


@pytest.fixture(params=["filesystem", "redis"])
def workers(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Dash, Dash]]:
    """Two apps, two stand-ins for worker processes, on one shared cache."""
    monkeypatch.delenv("DASHSIGNAL_CACHE", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    if request.param == "filesystem":
        yield build(tmp_path / "cache", database)[0], build(tmp_path / "cache", database)[0]
        return
    with running_redis(tmp_path / "redis") as server:
        options = {"backend": "redis", "redis_url": server.url}
        yield (
            build(tmp_path / "a", database, **options)[0],
            build(tmp_path / "b", database, **options)[0],
        )


def test_a_changed_version_reaches_every_worker_within_version_check_and_computes_once(
    workers: tuple[Dash, Dash], database: Database
) -> None:
    first, second = workers
    assert shown(first)[0] == shown(second)[0] == "1"
    assert len(database.queries) == 1

    database.value = 2
    assert shown(first)[0] == "1"  # not probed again yet: the cached result
    time.sleep(CHECK + 0.05)
    seen = [shown(first)[0], shown(second)[0], shown(first)[0]]

    assert seen == ["2", "2", "2"]
    assert [value for value, _ in database.queries] == [1, 2]


def test_each_process_probes_at_most_every_version_check(
    tmp_path: Path, database: Database
) -> None:
    app, _ = build(tmp_path / "cache", database)
    for _ in range(10):
        shown(app)

    assert database.probes == 1


def test_after_invalidate_no_response_carries_data_from_before(
    workers: tuple[Dash, Dash], database: Database
) -> None:
    first, second = workers
    database.fixed_version = "unchanged"
    shown(first)
    database.value = 3  # new rows an ETL job loaded, that the probe does not see
    before, signal = shown(second)
    assert before == "1"

    signaling = first.server.extensions["dashsignal"]
    signaling.invalidate()
    after = [shown(second)[0], shown(first)[0]]
    replayed = DashEndpoint(second.server.test_client()).consume("value", signal)

    assert after == ["3", "3"]
    assert replayed.value("value", "children") == "3"
    assert [value for value, _ in database.queries][-1] == 3
    assert len(database.queries) == 2


def test_a_lost_generation_is_a_new_one_never_an_old_one(
    tmp_path: Path, database: Database
) -> None:
    app, signaling = build(tmp_path / "cache", database)
    shown(app)
    with app.server.app_context():
        before = signaling.data.freshness.state().generation
    for path in (tmp_path / "cache" / "freshness").iterdir():
        path.unlink()  # a flushed or evicted backend
    time.sleep(0.3)
    shown(app)

    with app.server.app_context():
        after = signaling.data.freshness.state().generation
    assert after not in (before, "none")
    assert len(database.queries) == 2


def test_a_failing_probe_keeps_the_last_data_marks_it_stale_and_logs_once(
    tmp_path: Path, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    app, _ = build(tmp_path / "cache", database)
    assert shown(app)[0] == "1"
    database.down = True
    with caplog.at_level(logging.WARNING, logger="dashsignal.freshness"):
        seen = []
        for _ in range(3):
            time.sleep(CHECK + 0.05)
            seen.append(shown(app))
    database.down = False
    time.sleep(CHECK + 0.05)
    recovered = shown(app)

    assert [text for text, _ in seen] == ["1", "1", "1"]
    assert all(signal.get("stale") is True for _, signal in seen)
    assert len(database.queries) == 1
    failed = [r for r in caplog.records if "data_version() failed" in r.getMessage()]
    assert len(failed) == 1
    assert recovered[0] == "1" and "stale" not in recovered[1]


def test_warming_computes_once_then_finds_it(tmp_path: Path, database: Database) -> None:
    app, signaling = build(tmp_path / "cache", database)
    first = signaling.warm([FILTERS.defaults()])
    second = signaling.warm([FILTERS.defaults()])
    text, _ = shown(app)

    assert (first.computed, first.found, first.failed) == (1, 0, 0)
    assert (second.computed, second.found, second.failed) == (0, 1, 0)
    assert text == "1"
    assert len(database.queries) == 1  # the page load after warming computed nothing


def test_every_state_is_bounded() -> None:
    states = FILTERS.every_state(limit=24)

    assert len(states) == 3 * 8  # a dropdown's None and two options, every subset of three
    assert len({repr(state) for state in states}) == len(states)
    assert all(state["year"] == [2020, 2024] for state in states)
    with pytest.raises(TooManyStates, match="more than 23"):
        FILTERS.every_state(limit=23)


def test_the_commands_warm_and_invalidate(
    tmp_path: Path, database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    made: list[Dash] = []

    def create_app() -> Dash:
        made.append(build(tmp_path / "cache", database)[0])
        return made[-1]

    assert manage(create_app, ["warm", "--all"]) == 0
    assert (
        "warmed 24 filter states: 24 computed, 0 cached already, 0 failed"
        in capsys.readouterr().out
    )
    assert manage(create_app, ["warm"]) == 0
    assert "1 cached already" in capsys.readouterr().out
    assert manage(create_app, ["warm", "--all", "--limit", "5"]) == 2
    assert "more than 5 filter states" in capsys.readouterr().err
    assert manage(create_app, ["invalidate"]) == 0
    assert "invalidated" in capsys.readouterr().out
    assert manage(create_app, ["warm"]) == 0
    assert "1 computed" in capsys.readouterr().out
    assert len(database.queries) == 25


def test_requests_during_the_first_probe_wait_for_it(tmp_path: Path, database: Database) -> None:
    """The first probe of a process is slow; requests that arrive meanwhile derive the key it
    finds, not one without a version (which computed the query twice for one page load)."""
    app, signaling = build(tmp_path / "cache", database)
    slow = database.version

    def slow_version() -> Any:
        time.sleep(0.3)
        return slow()

    data = signaling.computations[QUERY].module
    data.data_version = slow_version
    keys: list[str] = []

    def request() -> None:
        with app.server.test_request_context():
            keys.append(signaling.data.key(QUERY, FILTERS.defaults()))

    threads = [threading.Thread(target=request) for _ in range(4)]
    for thread in threads:
        thread.start()
        time.sleep(0.02)
    for thread in threads:
        thread.join()

    assert len(keys) == 4 and len(set(keys)) == 1
    assert "unprobed" not in keys[0]
