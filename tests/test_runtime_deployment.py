"""The runtime as it is deployed: a real gunicorn with several worker processes sharing one cache
folder (filesystem) or one Redis. Sessions that choose the same filters at once, over real HTTP,
are served by several workers and get every view, and each computation runs once for all the
workers; the next filter change runs each once more. On filesystem each worker builds the app
(as a generated project's gunicorn.conf.py has it); on Redis gunicorn's master builds it once
and forks the workers from it (--preload), as a deployment may choose to."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from runtime_helpers import (
    SHARED,
    VIEWS,
    Endpoint,
    HttpClient,
    RedisServer,
    RunLog,
    build_dashboard,
    gunicorn,
    has_content,
    nth_filters,
    running_redis,
    worker_pids,
)

# Slow (real gunicorn workers): `pytest -m "not e2e"` leaves them out.
pytestmark = pytest.mark.e2e

WORKERS = 3
SESSIONS = 9


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with running_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.mark.parametrize("backend", SHARED)
def test_sessions_across_gunicorn_workers_compute_each_state_once(
    tmp_path: Path, redis_server: RedisServer, backend: str
) -> None:
    redis_server.flush()
    # What this process counts with: the workers build the same dashboard on the same folder.
    expected = build_dashboard(tmp_path, backend, redis_url=redis_server.url).runs_per_change()
    folder = tmp_path / f"dashboard-{backend}-signal"
    runs = RunLog(folder / "runs.jsonl", fresh=False)
    with gunicorn(
        folder.parent,
        backend,
        workers=WORKERS,
        preload=backend == "redis",
        redis_url=redis_server.url,
        DELAY_SECONDS=0.3,
    ) as base:
        served: set[int] = set()

        def session(position: int) -> list[tuple[str, int, bool]]:
            client = HttpClient(base)
            results = Endpoint(client).change(nth_filters(position))
            served.update(client.workers)
            return [
                (view, results[view].status, has_content(results[view], view)) for view in VIEWS
            ]

        for position in (5, 6):
            with ThreadPoolExecutor(max_workers=SESSIONS) as pool:
                answers = [
                    a for answers in pool.map(session, [position] * SESSIONS) for a in answers
                ]
            assert {(status, content) for _, status, content in answers} == {(200, True)}
            assert len(answers) == SESSIONS * len(VIEWS)
        pids = worker_pids(folder.parent)

    assert len(pids) == WORKERS
    assert len(served) >= 2 and served <= pids, "the sessions were served by several workers"
    counts = runs.counts()
    assert counts == {name: 2 * times for name, times in expected.items()}, runs.runs()
    assert {run["pid"] for run in runs.runs()} <= pids, "the workers computed, nothing else"
    assert runs.query_calls() == [nth_filters(5), nth_filters(6)]
