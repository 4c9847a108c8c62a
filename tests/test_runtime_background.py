"""The compute step as a background job (dashsignal.background): job processes of this host on
filesystem, a real Celery worker on Redis. The one-computation guarantee holds across the job
processes, a failing query shows in every view, and a host whose job slots stay taken answers
503 with Retry-After rather than queueing forks."""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import diskcache
import pytest

from dashsignal import QUERY
from dashsignal.background import (
    CappedDiskcacheManager,
    JobSlots,
    KeepsFinishedResults,
    celery_manager,
    diskcache_manager,
    max_job_processes,
)

from runtime_helpers import (
    QUERY_READERS,
    SIGNAL_ID,
    VIEWS,
    Dashboard,
    RedisServer,
    build_dashboard,
    celery_worker,
    filter_props,
    forget_entries,
    nth_filters,
    running_redis,
    settings_for,
)

# Slow (job processes and a Celery worker): `pytest -m "not e2e"` leaves them out.
pytestmark = pytest.mark.e2e

# The filter state the database refuses, in this process and in the Celery worker.
FAILING = nth_filters(1)


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with running_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="module")
def celery_app(
    tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer
) -> Iterator[Dashboard]:
    """The dashboard on Redis with its jobs in a real Celery worker (started once)."""
    folder = tmp_path_factory.mktemp("celery")
    data = {"DELAY_SECONDS": 0.3, "FAILING": FAILING}
    dashboard = build_dashboard(
        folder, "redis", redis_url=redis_server.url, background=True, data=data
    )
    with celery_worker(folder, redis_server.url, data):
        yield dashboard


@pytest.fixture
def job_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Dashboard:
    """The dashboard on filesystem with its jobs in processes of this host (up to four).

    Built for each test: Dash registers a background callback in every job manager of the
    process under a hash of its source, so the app built last runs the jobs of all."""
    monkeypatch.setenv("MAX_JOB_PROCESSES", "4")
    monkeypatch.setenv("JOB_SLOT_WAIT_SECONDS", "20")
    return build_dashboard(
        tmp_path,
        "filesystem",
        background=True,
        data={"DELAY_SECONDS": 0.3, "FAILING": FAILING},
    )


@pytest.fixture(params=["job-processes", "celery"])
def dashboard(request: pytest.FixtureRequest, redis_server: RedisServer) -> Dashboard:
    """Each way of running jobs, with an empty cache and nothing counted yet."""
    dashboard: Dashboard = request.getfixturevalue(
        "job_processes" if request.param == "job-processes" else "celery_app"
    )
    if dashboard.backend == "redis":
        forget_entries(redis_server)  # Celery's own keys stay
    else:
        dashboard.clear()
    dashboard.runs.forget()
    return dashboard


def test_concurrent_sessions_on_the_same_filters_compute_once_in_background_jobs(
    dashboard: Dashboard,
) -> None:
    # Each request starts a job of its own, so sending them one after the other already makes
    # eight computations race.
    filters = nth_filters(2)
    pending = [dashboard.endpoint().start_compute(filters) for _ in range(8)]
    assert all(request.handles is not None for request in pending), "each started a job"
    endpoint = dashboard.endpoint()
    results = [endpoint.finish(request) for request in pending]
    assert [result.status for result in results] == [200] * 8, results
    signals = {str(result.value("dashsignal-signal", "data")) for result in results}
    assert signals == {str({"filters": filters})}
    runs = dashboard.runs.runs()
    assert [run["name"] for run in runs] == [QUERY], runs
    assert runs[0]["pid"] != os.getpid(), "the query ran in a job, not in the web worker"

    # The views (in this web worker) read what the job stored.
    signal = {"filters": filters}
    for view_id in QUERY_READERS:
        result = endpoint.consume(view_id, signal)
        assert result.status == 200, view_id
        assert "Could not" not in result.shown(), view_id
    assert dashboard.runs.counts()[QUERY] == 1


def test_a_failing_query_in_a_job_shows_its_error_in_every_view_then_the_next_change_works(
    dashboard: Dashboard,
) -> None:
    endpoint = dashboard.endpoint()
    results = endpoint.change(FAILING)
    for view_id in QUERY_READERS:
        assert results[view_id].status == 200, view_id
        shown = results[view_id].shown()
        assert "Could not compute the data (RuntimeError)" in shown, view_id
        assert "db.internal" not in shown

    results = endpoint.change(nth_filters(3))
    for view_id in VIEWS:
        assert results[view_id].status == 200, view_id
        assert "Could not" not in results[view_id].shown(), view_id


def test_a_host_whose_job_slots_stay_taken_answers_503_with_retry_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("MAX_JOB_PROCESSES", "1")
    monkeypatch.setenv("JOB_SLOT_WAIT_SECONDS", "0.2")
    dashboard = build_dashboard(tmp_path, "filesystem", background=True)
    endpoint = dashboard.endpoint()
    # The one slot of this host, held by a job of another worker.
    slot = JobSlots(dashboard.signaling.settings.cache_dir / "jobs", 1).try_take()
    assert slot is not None
    try:
        body = endpoint.body(SIGNAL_ID, filter_props(nth_filters(4)))
        with caplog.at_level(logging.WARNING):
            response = endpoint.client.post(
                "/_dash-update-component", json=body, query_string={"endId": endpoint.end_id}
            )
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "1"
        assert "Too many computations are running" in response.get_data(as_text=True)
    finally:
        os.close(slot)
    busy = [r.getMessage() for r in caplog.records if "job processes busy" in r.getMessage()]
    assert busy == ["all 1 job processes busy for 0.2 s: a background job was refused"]
    assert dashboard.runs.runs() == []

    assert endpoint.finish(endpoint.start_compute(nth_filters(4))).status == 200
    assert dashboard.runs.counts()[QUERY] == 1


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MAX_JOB_PROCESSES", "0"),
        ("MAX_JOB_PROCESSES", "1.5"),
        ("MAX_JOB_PROCESSES", "many"),
        ("JOB_SLOT_WAIT_SECONDS", "-1"),
        ("JOB_SLOT_WAIT_SECONDS", "nan"),
    ],
)
def test_job_settings_that_cannot_be_used_stop_the_app_at_start_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=f"{name} must be .* not '{value}'"):
        diskcache_manager(settings_for("filesystem", tmp_path, None, background=True))


def test_job_processes_default_to_the_cpus_from_2_to_8(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAX_JOB_PROCESSES", raising=False)
    for cpus, expected in ((None, 2), (1, 2), (4, 4), (64, 8)):
        monkeypatch.setattr(os, "cpu_count", lambda cpus=cpus: cpus)
        assert max_job_processes() == expected
    monkeypatch.setenv("MAX_JOB_PROCESSES", "3")
    assert max_job_processes() == 3


# --- a job that ends between Dash's two looks at it ----------------------------------------------


def _write_when_told(folder: str, key: str, go: Any) -> None:
    """A job process: its result is written (and the process ends) only once `go` is set."""
    if go.wait(30):
        diskcache.Cache(folder).set(key, "the signal")


@pytest.mark.parametrize("writes", [True, False], ids=["ends-with-a-result", "ends-without"])
def test_a_job_that_ends_between_the_read_and_the_running_check_is_not_dropped(
    tmp_path: Path, writes: bool
) -> None:
    # Dash answers a poll with get_result, then job_running: a job that ended in between looked
    # cancelled and its result was dropped (HTTP 204, the page never updated).
    folder = str(tmp_path / "results")
    manager = CappedDiskcacheManager(
        diskcache.Cache(folder), JobSlots(tmp_path / "jobs", 2), 2.0, expire=600
    )
    fork = multiprocessing.get_context("fork")
    go = fork.Event()
    job = fork.Process(target=_write_when_told, args=(folder, "key", go))
    job.start()
    assert manager.get_result("key", job.pid) is manager.UNDEFINED  # not there yet
    if writes:
        go.set()
    else:
        job.terminate()  # cancelled: ends without a result
    job.join(30)
    assert job.exitcode is not None
    assert manager.job_running(job.pid) is writes  # a result waits: one more poll
    if writes:
        assert manager.get_result("key", job.pid) == "the signal"


def test_the_celery_manager_does_not_drop_results_either() -> None:
    from celery import Celery

    manager = celery_manager(Celery("dashboard", broker="memory://", backend="cache+memory://"))
    assert isinstance(manager, KeepsFinishedResults)
