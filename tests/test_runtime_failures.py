"""What the page shows when something fails, and how the app recovers by itself, on every backend
and in both patterns: a query that raises, a view whose own code raises, a damaged cache entry,
too many new filter states in a minute, a computation that outlasts a request's wait or half the
worker timeout, a result too large for Redis, and a Redis that goes away and comes back."""

from __future__ import annotations

import logging
import os
import pickle
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from dashsignal import QUERY, StillComputing, TooManyComputations
from dashsignal import cache as runtime_cache
from dashsignal.cache import _Admissions

from runtime_helpers import (
    BACKENDS,
    CACHING,
    PATTERNS,
    QUERY_READERS,
    STAGE,
    VIEWS,
    CallbackResult,
    Dashboard,
    RedisServer,
    build_dashboard,
    dropping_listener,
    free_port,
    nth_filters,
    redis_key,
    running_redis,
)


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with running_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


def _build(
    request: pytest.FixtureRequest, tmp_path: Path, server: RedisServer, **options: Any
) -> Dashboard:
    backend, pattern = request.param
    server.flush()
    return build_dashboard(tmp_path, backend, redis_url=server.url, pattern=pattern, **options)


@pytest.fixture(
    params=[(b, p) for b in BACKENDS for p in PATTERNS], ids=lambda param: "-".join(param)
)
def dashboard(
    request: pytest.FixtureRequest, tmp_path: Path, redis_server: RedisServer
) -> Dashboard:
    """Each backend in each pattern, on an empty cache."""
    return _build(request, tmp_path, redis_server)


@pytest.fixture(
    params=[(b, p) for b in CACHING for p in PATTERNS], ids=lambda param: "-".join(param)
)
def waiting(request: pytest.FixtureRequest, tmp_path: Path, redis_server: RedisServer) -> Dashboard:
    """Each backend that keeps entries, in each pattern, waiting at most 0.3 s for a lock."""
    return _build(request, tmp_path, redis_server, lock_timeout=0.3)


@pytest.fixture(params=[(b, "signal") for b in CACHING], ids=lambda param: param[0])
def caching(request: pytest.FixtureRequest, tmp_path: Path, redis_server: RedisServer) -> Dashboard:
    """Each backend that keeps entries."""
    return _build(request, tmp_path, redis_server)


def shown(results: dict[str, CallbackResult], view_id: str) -> str:
    assert results[view_id].status == 200, view_id
    return results[view_id].shown()


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.exc_info]


def failing_for(dashboard: Dashboard, monkeypatch: pytest.MonkeyPatch, failing: Any) -> None:
    """Make the query raise for one filter state, as a database that refuses it would."""
    query = dashboard.data.expensive_query

    def flaky(filters: dict[str, Any]) -> Any:
        if filters == failing:
            raise RuntimeError("connection refused by db.internal:5432")
        return query(filters)

    monkeypatch.setattr(dashboard.data, "expensive_query", flaky)


def test_a_failing_query_shows_its_error_in_every_view_it_feeds_then_the_next_change_works(
    dashboard: Dashboard, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    failing, working = nth_filters(1), nth_filters(0)
    failing_for(dashboard, monkeypatch, failing)
    endpoint = dashboard.endpoint()

    with caplog.at_level(logging.WARNING):
        results = endpoint.change(failing)

    for view_id in QUERY_READERS:
        assert "Could not compute the data (RuntimeError)" in shown(results, view_id), view_id
    assert "Could not" not in shown(results, "mix"), "an own view does not read the query"
    # The error's kind reaches the page, never its message or a traceback.
    assert not any("db.internal" in result.shown() for result in results.values())
    if dashboard.pattern == "signal" and dashboard.backend != "null":
        assert len(tracebacks(caplog)) == 1, "the compute step logs the failure, once"
    else:
        assert 1 <= len(tracebacks(caplog)) <= len(QUERY_READERS), "once per view computing it"
    assert all("computing" in r.getMessage() for r in tracebacks(caplog))

    results = endpoint.change(working)

    for view_id in VIEWS:
        assert "Could not" not in shown(results, view_id), view_id


def test_a_view_whose_code_fails_shows_it_in_its_card_and_the_others_keep_working(
    dashboard: Dashboard, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(frame: pd.DataFrame) -> Any:
        raise KeyError("amount")  # a column the user's query no longer returns, say

    monkeypatch.setattr(dashboard.views, "sales", broken)

    with caplog.at_level(logging.WARNING):
        results = dashboard.endpoint().change(nth_filters(2))

    message = "Could not draw this view (KeyError). The server log has the details (view sales)."
    assert message in shown(results, "sales")
    for view_id in VIEWS:
        if view_id != "sales":
            assert "Could not" not in shown(results, view_id), view_id
    assert [record.getMessage() for record in tracebacks(caplog)] == ["view sales failed"]


def test_new_computations_beyond_the_cap_are_refused_until_the_next_minute(
    dashboard: Dashboard, caplog: pytest.LogCaptureFixture
) -> None:
    now = [60.0 * (10**9 + os.getpid())]  # a minute that no other run counts in
    cap = len(VIEWS) + 1  # more than one change starts, whatever the backend and pattern
    admissions = _Admissions(dashboard.cache, cap, clock=lambda: now[0])
    dashboard.cache._admissions = admissions
    with dashboard.context():
        assert all(admissions.admit() for _ in range(cap)), "the cap admits this many"
        with pytest.raises(TooManyComputations):
            dashboard.cache.load(QUERY, nth_filters(0))

    with caplog.at_level(logging.WARNING):
        refused = dashboard.endpoint().change(nth_filters(0))

    assert dashboard.runs.runs() == []
    for view_id in VIEWS:
        assert "Too many new filter choices this minute" in shown(refused, view_id), view_id
    assert tracebacks(caplog) == [], "refusals are expected: one line each, no traceback"
    assert any("new computations this minute already" in r.getMessage() for r in caplog.records)

    now[0] += 60
    again = dashboard.endpoint().change(nth_filters(0))
    assert dashboard.runs.counts() == dashboard.runs_per_change()
    for view_id in VIEWS:
        assert "Could not" not in shown(again, view_id), view_id
        assert "Too many" not in shown(again, view_id), view_id


def test_the_cap_counts_the_starts_of_every_process_sharing_the_cache(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    # Filesystem counts per host (one counter file), Redis per deployment, the others per
    # process: two dashboards stand for two worker processes.
    now = [60.0 * (2 * 10**9 + os.getpid())]
    for backend in BACKENDS:
        redis_server.flush()
        workers = [
            build_dashboard(tmp_path / f"{backend}-{n}", backend, redis_url=redis_server.url)
            for n in range(2)
        ]
        if backend == "filesystem":  # one host: one cache folder
            workers[1] = build_dashboard(
                tmp_path / f"{backend}-0", backend, redis_url=redis_server.url
            )
        admitted = []
        for worker in workers:
            worker.cache._admissions = _Admissions(worker.cache, 3, clock=lambda: now[0])
            with worker.context():
                admitted.append([worker.cache._admissions.admit() for _ in range(2)])
        shared = backend in ("filesystem", "redis")
        expected = [[True, True], [True, False]] if shared else [[True, True], [True, True]]
        assert admitted == expected, backend


def test_a_reader_waits_at_most_lock_timeout_for_another_workers_computation(
    waiting: Dashboard, caplog: pytest.LogCaptureFixture
) -> None:
    filters = nth_filters(3)
    with waiting.context():
        # Another worker computing it, for ever.
        held = waiting.cache._locks.try_lock(waiting.key(QUERY, filters))
        assert held is not None
        try:
            started = time.monotonic()
            with pytest.raises(StillComputing):
                waiting.cache.load(QUERY, filters)
            assert 0.3 <= time.monotonic() - started < 2
            with caplog.at_level(logging.WARNING):
                results = waiting.endpoint().change(filters)
        finally:
            held.release()
        for view_id in QUERY_READERS:
            assert "Still computing this data" in shown(results, view_id), view_id
        assert tracebacks(caplog) == []
        assert QUERY not in waiting.runs.counts()
        waiting.cache.load(QUERY, filters)
        assert waiting.runs.counts()[QUERY] == 1


# What a crash, a full disk or memory, or another program leaves in an entry.
DAMAGES: dict[str, dict[str, Callable[[Any], Any]]] = {
    "filesystem": {
        "truncated-to-3-bytes": lambda stored: stored[:3],
        "truncated-in-half": lambda stored: stored[: len(stored) // 2],
        "garbage-after-the-expiry": lambda stored: stored[:4] + b"\x80\x05garbage" * 10,
        "a-pickle-of-something-else": lambda stored: stored[:4] + pickle.dumps({"not": "frame"}),
        "empty": lambda stored: b"",
    },
    "redis": {
        "truncated-to-3-bytes": lambda stored: stored[:3],
        "truncated-in-half": lambda stored: stored[: len(stored) // 2],
        "garbage-after-the-magic": lambda stored: stored[:4] + b"garbage" * 10,
        # Protocol 5, as the codec's own pickles: read back, then found not to be a frame.
        "a-pickle-of-something-else": lambda stored: pickle.dumps({"not": "frame"}, protocol=5),
        "a-value-of-another-program": lambda stored: b"42",
        "empty": lambda stored: b"",
    },
    "simple": {
        "a-string": lambda stored: "not a frame",
        "bytes": lambda stored: b"PAR1",
        "a-dict": lambda stored: {"not": "a frame"},
    },
}


def damage(dashboard: Dashboard, key: str, how: str) -> None:
    backend = dashboard.backend_cache()
    if dashboard.backend == "filesystem":
        path = Path(backend._get_filename(key))
        path.write_bytes(DAMAGES["filesystem"][how](path.read_bytes()))
    elif dashboard.backend == "redis":
        client, name = backend._write_client, redis_key(dashboard, key)
        stored = client.get(name)
        assert stored is not None
        client.set(name, DAMAGES["redis"][how](stored))
    else:
        backend.set(key, DAMAGES["simple"][how](backend.get(key)))


@pytest.mark.parametrize(
    ("backend", "how"), [(backend, how) for backend in DAMAGES for how in sorted(DAMAGES[backend])]
)
def test_a_damaged_entry_is_deleted_and_computed_again_once_and_logged_once(
    tmp_path: Path,
    redis_server: RedisServer,
    caplog: pytest.LogCaptureFixture,
    backend: str,
    how: str,
) -> None:
    redis_server.flush()
    dashboard = build_dashboard(tmp_path, backend, redis_url=redis_server.url)
    dashboard.data.DELAY_SECONDS = 0.1  # the other readers find the lock taken
    filters = nth_filters(4)
    key = dashboard.key(QUERY, filters)
    dashboard.load(QUERY, filters)
    damage(dashboard, key, how)
    dashboard.cache._memo.clear()  # as in a worker that never read it

    frames: list[pd.DataFrame] = []
    with caplog.at_level(logging.DEBUG):
        readers = [
            threading.Thread(target=lambda: frames.append(dashboard.load(QUERY, filters)))
            for _ in range(8)
        ]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join()

    assert len(frames) == 8
    assert dashboard.runs.counts()[QUERY] == 2, "computed once at first, once after the damage"
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in warnings] == [
        "damaged cache entry for query deleted; computing it again"
    ]
    assert not any(r.exc_info for r in caplog.records)
    dashboard.cache._memo.clear()
    dashboard.load(QUERY, filters)
    assert dashboard.runs.counts()[QUERY] == 2, "the entry is readable again"


def test_a_result_over_max_entry_bytes_is_served_but_not_cached(
    tmp_path: Path, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    redis_server.flush()
    dashboard = build_dashboard(tmp_path, "redis", redis_url=redis_server.url, max_entry_bytes=64)
    filters = nth_filters(6)

    with caplog.at_level(logging.WARNING):
        frame = dashboard.load(QUERY, filters)
        again = dashboard.load(QUERY, filters)

    pd.testing.assert_frame_equal(frame, again)
    with redis_server.client() as client:
        assert client.get(redis_key(dashboard, dashboard.key(QUERY, filters))) is None
    assert dashboard.runs.counts()[QUERY] == 2, "every reader computes what cannot be cached"
    oversized = [r for r in caplog.records if "over max_entry_bytes" in r.getMessage()]
    assert len(oversized) == 1, "logged once per computation and process"


@pytest.mark.parametrize("background", [False, True])
def test_a_computation_that_runs_half_the_worker_timeout_says_so_in_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, background: bool
) -> None:
    dashboard = build_dashboard(tmp_path, "simple", worker_timeout=0.2, background=background)
    dashboard.data.DELAY_SECONDS = 0.3
    derive = dashboard.stage.derive

    def slow_stage(frame: pd.DataFrame) -> pd.DataFrame:
        time.sleep(0.3)
        return derive(frame)

    dashboard.stage.derive = slow_stage
    with caplog.at_level(logging.WARNING):
        dashboard.load(QUERY, nth_filters(5))
    slow = [r.getMessage() for r in caplog.records if "gunicorn kills a worker" in r.getMessage()]
    # A background job runs outside the web workers, where no timeout applies.
    assert len(slow) == (0 if background else 1), slow
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        dashboard.load(STAGE, nth_filters(5))  # a stage runs in the web worker, background or not
    slow = [r.getMessage() for r in caplog.records if "gunicorn kills a worker" in r.getMessage()]
    assert len(slow) == 1 and slow[0].startswith("daily has been computing for 0 s"), slow
    caplog.clear()
    dashboard.data.DELAY_SECONDS = 0
    with caplog.at_level(logging.WARNING):
        dashboard.load(QUERY, nth_filters(6))
        time.sleep(0.15)  # past half the timeout: the finished computation's timer is gone
    assert caplog.records == []


# --- the cache goes away ----------------------------------------------------------------------


@pytest.fixture
def stoppable_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of the test's own, that the test stops and starts again."""
    server = RedisServer(tmp_path / "own-redis", free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("pattern", PATTERNS)
def test_a_redis_outage_is_bypassed_logged_once_and_the_cache_used_again_once_back(
    tmp_path: Path,
    stoppable_redis: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    pattern: str,
) -> None:
    monkeypatch.setattr(runtime_cache, "RETRY_SECONDS", 0.2)
    dashboard = build_dashboard(tmp_path, "redis", redis_url=stoppable_redis.url, pattern=pattern)
    endpoint = dashboard.endpoint()
    endpoint.change(nth_filters(0))
    stoppable_redis.stop()

    with caplog.at_level(logging.WARNING):
        for position in (1, 2, 3):
            results = endpoint.change(nth_filters(position))
            for view_id in VIEWS:
                assert "Could not" not in shown(results, view_id), (position, view_id)
    down = [r.getMessage() for r in caplog.records if "cache unavailable" in r.getMessage()]
    assert len(down) == 1, "one warning per outage"
    assert "Is a Redis server running at REDIS_URL?" in down[0]
    assert tracebacks(caplog) == []

    stoppable_redis.start()
    caplog.clear()
    time.sleep(0.25)  # past the retry time
    with caplog.at_level(logging.WARNING):
        endpoint.change(nth_filters(4))
        before = dashboard.runs.counts()
        endpoint.change(nth_filters(4))  # the same state again: from the cache once more
    assert dashboard.runs.counts() == before
    assert any("cache available again" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("pattern", PATTERNS)
def test_while_redis_is_known_to_be_down_no_request_tries_it_before_retry_seconds(
    tmp_path: Path,
    stoppable_redis: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
    pattern: str,
) -> None:
    """An outage is bypassed: once found, Redis is not tried again for RETRY_SECONDS, so a Redis
    host that does not answer costs one request its timeouts, not every new filter state."""
    monkeypatch.setattr(runtime_cache, "RETRY_SECONDS", 60)
    dashboard = build_dashboard(tmp_path, "redis", redis_url=stoppable_redis.url, pattern=pattern)
    endpoint = dashboard.endpoint()
    endpoint.change(nth_filters(0))
    stoppable_redis.stop()
    with dropping_listener(stoppable_redis.port) as attempts:
        endpoint.change(nth_filters(1))  # finds the outage
        assert attempts, "the outage was found by trying Redis"
        found = len(attempts)
        for position in (2, 3, 4):
            results = endpoint.change(nth_filters(position))  # new states: new computations
            for view_id in VIEWS:
                assert "Could not" not in shown(results, view_id), (position, view_id)
        assert len(attempts) == found, (
            f"Redis was tried {len(attempts) - found} more times within RETRY_SECONDS"
        )


def test_no_redis_at_start_up_is_said_at_start_up_and_the_app_still_answers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        dashboard = build_dashboard(tmp_path, "redis", redis_url="redis://127.0.0.1:1/0")
    assert [r.getMessage() for r in caplog.records if "cache unavailable" in r.getMessage()]
    results = dashboard.endpoint().change(nth_filters(0))
    for view_id in VIEWS:
        assert "Could not" not in shown(results, view_id), view_id
