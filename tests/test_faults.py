"""Faults, with real parts only: the worker that holds a computation's lock is killed with SIGKILL
under `gunicorn app:server -w 4` while other requests for the same filter state wait, on the
filesystem backend and on a real redis-server; and the lock files of many filter states do not
pile up under CACHE_DIR/locks.

The query is test_production's DATA_DOUBLE: it writes the pid of the process computing it into
the counter file before it sleeps DS_TEST_DELAY seconds, which is how the holder is found.
"""

from __future__ import annotations

import functools
import http.client
import json
import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from dashsignal_cli.spec import Spec

from project_helpers import make_spec
from test_production import (
    HOST,
    App,
    RedisServer,
    Reply,
    assert_view_content,
    callback_body,
    free_port,
    shows_total,
    signal_of,
    start_app,
    stop_process,
)

pytestmark = pytest.mark.e2e

BACKENDS = ("filesystem", "redis")
FILTERS = ("region:dropdown", "product:multi", "year:range")
# How long the double's query takes: the holder is found and killed well within it, and the
# waiter that computes after the kill takes as long again.
DELAY = 2.0
# How long after the kill a waiter may take to answer, beyond the DELAY of its own computation:
# a Redis lease runs out within LEASE_SECONDS (5, dashsignal/locks.py), a dropped flock at once.
SLACK = {"filesystem": 2.5, "redis": 7.5}
# Requests are given up on after this: long before today's 120 s Redis lock would have expired.
WAIT_TIMEOUT = 30.0
# Distinct filter states shown to count the lock files they leave.
STATES = 24


def fault_spec(backend: str) -> Spec:
    return make_spec("faults", views=("total:indicator",), filters=FILTERS, backend=backend)


def state(index: int) -> dict[str, Any]:
    """Distinct, already canonical filter values (so a signal can be written by hand)."""
    regions = ("North", "South", "East", "West")
    start = 2019 + index % 7
    return {"region": regions[index % 4], "product": ["Pro"], "year": [start, 2025]}


def post(app: App, body: dict[str, Any]) -> Reply:
    connection = http.client.HTTPConnection(HOST, app.port, timeout=WAIT_TIMEOUT)
    try:
        raw = json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        connection.request("POST", "/_dash-update-component", body=raw, headers=headers)
        response = connection.getresponse()
        return Reply(response.status, response.read())
    finally:
        connection.close()


def compute_body(app: App, filters: dict[str, Any]) -> dict[str, Any]:
    callback = app.compute_callback
    return callback_body(callback, [filters[dep["id"]] for dep in callback["inputs"]])


def counted_pids(app: App) -> list[int]:
    """The pid of each computation of the query so far, in order."""
    try:
        text = app.counter.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [int(line.split(" ", 1)[0]) for line in text.splitlines() if line.strip()]


def wait_for_holder(app: App, before: int) -> int:
    """The pid of the worker that started computing after `before` computations."""
    deadline = time.monotonic() + 10
    while True:
        pids = counted_pids(app)
        if len(pids) > before:
            return pids[before]
        assert time.monotonic() < deadline, "no worker started the computation"
        time.sleep(0.005)


def lock_files(app: App) -> list[Path]:
    folder = app.cache_dir / "locks"
    return sorted(folder.iterdir()) if folder.exists() else []


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, App]]:
    """One generated project per backend under gunicorn -w 4, the Redis one on its own server."""
    redis_server = RedisServer(tmp_path_factory.mktemp("redis"), free_port())
    processes = []
    try:
        redis_server.start()
        served = {}
        for backend in BACKENDS:
            url = redis_server.url if backend == "redis" else None
            tmp = tmp_path_factory.mktemp(f"faults-{backend}")
            app, process = start_app(tmp, fault_spec(backend), redis_url=url, delay=DELAY)
            served[backend] = app
            processes.append(process)
        yield served
    finally:
        for process in processes:
            stop_process(process)
        redis_server.stop()


@pytest.mark.parametrize("backend", BACKENDS)
def test_waiters_get_their_data_within_seconds_of_the_lock_holder_being_killed(
    apps: dict[str, App], backend: str
) -> None:
    app = apps[backend]
    filters = state(0)
    offset, before = app.log_size(), len(counted_pids(app))
    consumer = app.consumer("total")
    waiting = [
        compute_body(app, filters),
        compute_body(app, filters),
        callback_body(consumer, [{"filters": filters}]),
    ]

    with ThreadPoolExecutor(max_workers=1 + len(waiting)) as pool:
        holder_request = pool.submit(post, app, compute_body(app, filters))
        holder = wait_for_holder(app, before)
        waiters: list[Future[tuple[Reply, float]]] = []
        for body in waiting:
            waiters.append(pool.submit(lambda body=body: (post(app, body), time.monotonic())))
        time.sleep(0.5)  # every waiter has missed the cache and polls the lock
        assert not any(waiter.done() for waiter in waiters), "a waiter answered before the kill"
        assert len(counted_pids(app)) == before + 1, "the holder finished before the kill"
        killed_at = time.monotonic()
        os.kill(holder, signal.SIGKILL)
        # The holder's client sees its connection dropped, or an answer that came too late.
        with pytest.raises((OSError, http.client.HTTPException)):
            holder_request.result(timeout=WAIT_TIMEOUT)
        answers = [waiter.result(timeout=WAIT_TIMEOUT + 5) for waiter in waiters]

    seconds = [answered - killed_at for _, answered in answers]
    print(
        f"\n{backend}: waiters answered {', '.join(f'{s:.2f}' for s in seconds)} s after the "
        f"SIGKILL of the lock holder (their own computation: {DELAY} s)"
    )
    replies = [reply for reply, _ in answers]
    for reply in replies[:2]:
        assert reply.status == 200, reply.describe()
        assert signal_of(reply) == {"filters": filters}
    assert_view_content(consumer, replies[2])
    assert shows_total(replies[2].json()["response"]["total"]["children"], 48)
    assert max(seconds) < DELAY + SLACK[backend], seconds
    # The waiters shared one computation after the holder's death, in another worker.
    pids = counted_pids(app)[before:]
    assert len(pids) == 2 and pids[1] != holder, app.describe_counts()
    app.assert_no_errors(offset)
    if backend == "filesystem":
        # The killed holder left its lock file; the waiter that took the lock over removed it.
        assert lock_files(app) == []


def test_lock_files_do_not_pile_up_across_filter_states(apps: dict[str, App]) -> None:
    app = apps["filesystem"]
    offset = app.log_size()
    consumer = app.consumer("total")
    states = [state(index) | {"product": ["Basic", "Plus"]} for index in range(STATES)]
    # Two sessions per state, all at once: holders, waiters and new holders of each key race.
    with ThreadPoolExecutor(max_workers=8) as pool:
        bodies = [compute_body(app, filters) for filters in states for _ in range(2)]
        computed = list(pool.map(functools.partial(post, app), bodies))
        assert all(reply.status == 200 for reply in computed), computed[0].describe()
        signals = [callback_body(consumer, [signal_of(reply)]) for reply in computed]
        for reply in pool.map(functools.partial(post, app), signals):
            assert_view_content(consumer, reply)

    left = lock_files(app)
    print(f"\nlock files after {STATES} filter states: {len(left)}")
    assert left == [], [path.name for path in left]
    assert len(counted_pids(app)) >= STATES  # each state was computed here, none before
    app.assert_no_errors(offset)
