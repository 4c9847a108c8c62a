"""The signaling and memoize patterns on the runtime (dashsignal.signaling.Signaling), driven
through a real app's callback endpoint on every backend: one filter change computes each
computation once, for every view and every session, from the signal's filters alone."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from dash.exceptions import PreventUpdate

from dashsignal import QUERY, CacheSettings, Signaling
from dashsignal.settings import InvalidSettings

from runtime_helpers import (
    BACKENDS,
    CACHING,
    FILTER_PROPS,
    FILTERS,
    OWN,
    PATTERNS,
    SIGNAL_ID,
    SIGNALS,
    STAGE,
    VIEWS,
    Dashboard,
    Endpoint,
    RedisServer,
    RunLog,
    build_dashboard,
    computations_of,
    defaults,
    has_content,
    running_redis,
    user_modules,
)


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with running_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


def _dashboard(request: pytest.FixtureRequest, tmp_path: Path, server: RedisServer) -> Dashboard:
    backend, pattern = request.param
    server.flush()
    return build_dashboard(tmp_path, backend, redis_url=server.url, pattern=pattern)


@pytest.fixture(
    params=[(b, p) for b in BACKENDS for p in PATTERNS], ids=lambda param: "-".join(param)
)
def dashboard(
    request: pytest.FixtureRequest, tmp_path: Path, redis_server: RedisServer
) -> Dashboard:
    """Each backend in each pattern, on an empty cache."""
    return _dashboard(request, tmp_path, redis_server)


@pytest.fixture(
    params=[(b, p) for b in CACHING for p in PATTERNS], ids=lambda param: "-".join(param)
)
def caching(request: pytest.FixtureRequest, tmp_path: Path, redis_server: RedisServer) -> Dashboard:
    """Each backend that keeps entries, in each pattern."""
    return _dashboard(request, tmp_path, redis_server)


@pytest.fixture(params=[(b, "signal") for b in BACKENDS], ids=lambda param: param[0])
def signalled(
    request: pytest.FixtureRequest, tmp_path: Path, redis_server: RedisServer
) -> Dashboard:
    """Each backend in the signaling pattern."""
    return _dashboard(request, tmp_path, redis_server)


def changed_filters() -> dict[str, Any]:
    """The default filters with one value changed, the way a user changes one control."""
    return {**defaults(), "region": "South"}


def run_change(endpoint: Endpoint, filters: dict[str, Any]) -> None:
    """What the browser does after a filter change; every view must answer with content."""
    results = endpoint.change(filters)
    for view_id in VIEWS:
        assert view_id in results, f"{view_id} did not run"
        assert results[view_id].status == 200, view_id
        assert has_content(results[view_id], view_id), view_id
        assert "Could not" not in results[view_id].shown(), view_id


def test_the_callback_graph_is_the_patterns(dashboard: Dashboard) -> None:
    endpoint = dashboard.endpoint()

    def inputs_of(component_id: str) -> set[tuple[str, str]]:
        return {(d["id"], d["property"]) for d in endpoint.callback_for(component_id)["inputs"]}

    if dashboard.pattern == "signal":
        assert inputs_of(SIGNAL_ID) == FILTER_PROPS
        assert inputs_of(SIGNALS[STAGE]) == {(SIGNAL_ID, "data")}
        assert inputs_of("sales") == inputs_of("total") == {(SIGNAL_ID, "data")}
        assert inputs_of("daily") == {(SIGNALS[STAGE], "data")}
        assert len(endpoint.callbacks) == 2 + len(VIEWS)
    else:
        for view_id in ("sales", "daily", "total"):
            assert inputs_of(view_id) == FILTER_PROPS
        assert len(endpoint.callbacks) == len(VIEWS)
    assert inputs_of("mix") == FILTER_PROPS  # an own view reads the filters in both patterns


def test_one_filter_change_runs_each_computation_once(dashboard: Dashboard) -> None:
    endpoint = dashboard.endpoint()
    run_change(endpoint, defaults())
    assert dashboard.runs.counts() == dashboard.runs_per_change()

    run_change(endpoint, changed_filters())
    assert dashboard.runs.counts() == dashboard.runs_per_change() + dashboard.runs_per_change()
    calls = dashboard.runs.query_calls()
    assert calls[0] == defaults()
    assert calls[-1] == FILTERS.canonical(changed_filters())
    # The same change again is served from the cache (everywhere but null).
    run_change(endpoint, defaults())
    once = dashboard.runs_per_change()
    times = 3 if dashboard.backend == "null" else 2
    assert dashboard.runs.counts() == Counter({name: runs * times for name, runs in once.items()})


def test_stages_run_in_order_reading_their_source_from_the_cache(caching: Dashboard) -> None:
    run_change(caching.endpoint(), defaults())
    order = caching.runs.order()
    assert order.count(STAGE) == 1
    assert order.count(QUERY) == 1, "deriving the stage did not run the query again"
    assert order.index(QUERY) < order.index(STAGE)


def test_signals_are_small_and_hold_no_data(signalled: Dashboard) -> None:
    endpoint = signalled.endpoint()
    endpoint.change(defaults())
    for store_id in SIGNALS.values():
        assert endpoint.values[(store_id, "data")] == {"filters": defaults()}


def test_first_load_shows_an_empty_state_without_a_computation(signalled: Dashboard) -> None:
    endpoint = signalled.endpoint()
    for view_id, name in VIEWS.items():
        if name == OWN:
            continue
        result = endpoint.consume(view_id, None)
        assert result.status == 200, view_id
        assert has_content(result, view_id), view_id
        assert "Could not" not in result.shown(), view_id
    assert endpoint.consume("daily", None).value("daily", "rowData") == []
    assert endpoint.consume("total", None).value("total", "children") == "—"
    assert signalled.runs.runs() == []


def test_a_missing_cache_entry_is_recomputed_not_an_error(caching: Dashboard) -> None:
    endpoint = caching.endpoint()
    run_change(endpoint, defaults())
    # Expired, evicted, or written by another worker's in-process cache.
    caching.clear()
    for view_id in VIEWS:
        # The view's callback again, with what the page holds now: its signal or the filters.
        result = endpoint.fire(view_id, endpoint.values)
        assert result.status == 200, view_id
        assert has_content(result, view_id), view_id
        assert "Could not" not in result.shown(), view_id
    recomputed = Counter({c.name for name in VIEWS.values() for c in _lineage(caching, name)})
    assert caching.runs.counts() == caching.runs_per_change() + recomputed


def _lineage(dashboard: Dashboard, name: str) -> list[Any]:
    return dashboard.signaling.computations.lineage(name)


def test_concurrent_sessions_on_the_same_filters_compute_once(caching: Dashboard) -> None:
    caching.data.DELAY_SECONDS = 0.3  # every session misses the cache at the same time

    def session(_: int) -> list[int]:
        results = caching.endpoint().change(changed_filters())
        return [result.status for result in results.values()]

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = [status for statuses in pool.map(session, range(8)) for status in statuses]
    assert set(statuses) == {200}
    assert caching.runs.counts() == caching.runs_per_change()


FORGED_SIGNALS = [
    "not a signal",
    [1, 2, 3],
    {"cache_key": "dashsignal:someone-else:secret"},
    {"filters": "x"},
    {"filters": {}},
    {"filters": {"unknown": 1}},
    {"filters": {**dict.fromkeys(FILTERS), "extra": 1}},
    {"filters": {**defaults(), "region": "Atlantis"}},
]


def test_a_forged_signal_reads_nothing_and_runs_nothing(signalled: Dashboard) -> None:
    endpoint = signalled.endpoint()
    for signal in FORGED_SIGNALS:
        for view_id, name in VIEWS.items():
            if name != OWN:
                result = endpoint.consume(view_id, signal)
                assert result.status == 200, (view_id, signal)
                assert "Could not" not in result.shown(), (view_id, signal)
        derived = endpoint.fire(SIGNALS[STAGE], {(SIGNAL_ID, "data"): signal})
        assert derived.status == 204, signal
    assert signalled.runs.runs() == []


def test_a_signal_reporting_a_failure_shows_it_and_runs_nothing(signalled: Dashboard) -> None:
    endpoint = signalled.endpoint()
    for failed, shown in (("RuntimeError", "RuntimeError"), ("<script>", "Error"), (7, "Error")):
        signal = {"filters": defaults(), "failed": failed}
        for view_id in ("sales", "total"):
            assert (
                f"Could not compute the data ({shown})" in endpoint.consume(view_id, signal).shown()
            )
        # The stage passes its source's failure on.
        derived = endpoint.fire(SIGNALS[STAGE], {(SIGNAL_ID, "data"): signal})
        assert derived.value(SIGNALS[STAGE], "data") == {"filters": defaults(), "failed": shown}
    assert signalled.runs.runs() == []


def test_what_callbacks_call_refuses_undeclared_filter_values(dashboard: Dashboard) -> None:
    # The callbacks' own refusal, behind the request guard: no update, nothing computed.
    signaling = dashboard.signaling
    forged = {**defaults(), "year": [1900, 2025]}
    with dashboard.context():
        for call in (
            lambda: signaling.signal(QUERY, forged),
            lambda: signaling.cached_result(QUERY, forged),
            lambda: signaling.derive(STAGE, {"filters": forged}),
        ):
            with pytest.raises(PreventUpdate):
                call()
        assert signaling.result_for(QUERY, {"filters": forged}) is None
    assert dashboard.runs.runs() == []


# --- the environment chooses the cache -----------------------------------------------------


def test_the_environment_chooses_the_backend_when_the_app_starts(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    redis_server.flush()
    # Declared filesystem (with no Redis), run on Redis: what production does.
    dashboard = build_dashboard(
        tmp_path,
        "filesystem",
        environ={"DASHSIGNAL_CACHE": "redis", "REDIS_URL": redis_server.url},
    )
    assert dashboard.signaling.declared.backend == "filesystem"
    assert (
        dashboard.backend == "redis" and dashboard.signaling.settings.redis_url == redis_server.url
    )
    dashboard.load(QUERY, defaults())
    with redis_server.client() as client:
        assert client.dbsize() > 0, "the entry is in the Redis the environment named"

    folder = tmp_path / "elsewhere"
    moved = build_dashboard(tmp_path, "filesystem", environ={"CACHE_DIR": str(folder)})
    moved.load(QUERY, defaults())
    assert (folder / "data").is_dir()


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_app_can_be_created_inside_another_apps_context(
    tmp_path: Path, redis_server: RedisServer, backend: str
) -> None:
    # As an app factory called while another Flask app handles a request, or a test that
    # builds a second app inside the first one's context.
    redis_server.flush()
    first = build_dashboard(tmp_path / "first", "simple")
    with first.context():
        second = build_dashboard(tmp_path / "second", backend, redis_url=redis_server.url)
    assert second.backend == backend
    results = second.endpoint().change(defaults())
    assert {result.status for result in results.values()} == {200}


def test_settings_refuse_a_backend_they_do_not_know(tmp_path: Path) -> None:
    with pytest.raises(InvalidSettings, match="filesystem, redis, simple, null"):
        CacheSettings(app_name="t", spec_version="1", backend="memcached")
    settings = CacheSettings(app_name="t", spec_version="1")
    with pytest.raises(InvalidSettings, match="DASHSIGNAL_CACHE='memcached'"):
        settings.from_environment({"DASHSIGNAL_CACHE": "memcached"})
    assert settings.from_environment({}).backend == "filesystem"
    assert settings.from_environment({"DASHSIGNAL_CACHE": ""}).backend == "filesystem"
    assert [CacheSettings("t", "1", backend=b).shared for b in BACKENDS] == [
        True,
        True,
        False,
        False,
    ]


def test_the_cache_is_there_only_once_the_app_is_created(tmp_path: Path) -> None:
    computations = computations_of(*user_modules(RunLog(tmp_path / "runs.jsonl")))
    signaling = Signaling(CacheSettings("t", "1"), FILTERS, computations)
    with pytest.raises(RuntimeError, match=r"init_app\(app\) has not run"):
        signaling.data  # noqa: B018
