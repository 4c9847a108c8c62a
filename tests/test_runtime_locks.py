"""The per-key locks (dashsignal.locks) of every backend: one holder per key, and none left behind
by a holder that dies or by a forked child; and, on the shared backends, one computation of a
key for every process of the deployment (DataCache.load in real processes at once)."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from dashsignal import QUERY, locks
from dashsignal.locks import FileLocks, LockStore, NoLocks, RedisLocks, ThreadLocks

from runtime_helpers import RedisServer, build_dashboard, nth_filters, run_python, running_redis

# Run in a process of its own: take the lock of a key, print our pid, and die by SIGKILL while
# holding it. With "fork", first fork a child that outlives us (as a background job can) and
# print its pid too. Leases of 1 s, renewed every 0.2 s.
HOLD_AND_DIE = """
import os, signal, sys, time
from pathlib import Path
import dashsignal.locks as locks
locks.LEASE_SECONDS, locks.RENEW_EVERY = 1.0, 0.2
kind, where, key, fork = sys.argv[1:5]
store = locks.FileLocks(Path(where)) if kind == "file" else locks.RedisLocks(where, 20)
lock = store.try_lock(key)
assert lock is not None
if fork == "fork":
    child = os.fork()
    if child == 0:
        quiet = os.open(os.devnull, os.O_RDWR)
        os.dup2(quiet, 1)
        os.dup2(quiet, 2)
        time.sleep(30)
        os._exit(0)
    print(child, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def hold_and_die(kind: str, where: str, key: str, fork: bool = False) -> list[int]:
    """Run HOLD_AND_DIE; the pid of the child it forked, if any."""
    result = run_python(HOLD_AND_DIE, kind, where, key, "fork" if fork else "no")
    assert result.returncode == -signal.SIGKILL, result.stderr
    return [int(line) for line in result.stdout.split()]


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with running_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def lock_store(redis_server: RedisServer) -> redis.Redis:
    """The test's Redis, empty, for looking at the lock keys."""
    redis_server.flush()
    return redis_server.client()


@pytest.fixture
def lock_folder(tmp_path: Path) -> Path:
    return tmp_path / "locks"


@pytest.fixture(params=["file", "redis", "thread"])
def store(
    request: pytest.FixtureRequest, lock_folder: Path, redis_server: RedisServer
) -> LockStore:
    """The lock store of each caching backend: filesystem, redis, simple."""
    if request.param == "file":
        return FileLocks(lock_folder)
    if request.param == "redis":
        redis_server.flush()
        return RedisLocks(redis_server.url, 20)
    return ThreadLocks()


def lease_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "dashsignal-lease"]


# --- every lock store -------------------------------------------------------------------------


def test_a_held_key_is_refused_until_released(store: LockStore) -> None:
    lock = store.try_lock("test:held")
    assert lock is not None
    assert store.try_lock("test:held") is None
    other = store.try_lock("test:other")
    assert other is not None
    lock.release()
    again = store.try_lock("test:held")
    assert again is not None
    again.release()
    other.release()


def test_a_held_key_is_refused_to_another_thread(store: LockStore) -> None:
    lock = store.try_lock("test:threads")
    assert lock is not None
    seen: list[Any] = []
    thread = threading.Thread(target=lambda: seen.append(store.try_lock("test:threads")))
    thread.start()
    thread.join()
    assert seen == [None]
    lock.release()


def test_releasing_twice_leaves_a_later_lock_alone(store: LockStore) -> None:
    first = store.try_lock("test:first")
    assert first is not None
    first.release()
    later = store.try_lock("test:later")  # may get the number of first's file descriptor
    assert later is not None
    first.release()
    assert store.try_lock("test:later") is None
    later.release()


def test_with_caching_off_every_lock_is_granted() -> None:
    store = NoLocks()
    lock = store.try_lock("test:held")
    assert lock is not None
    assert store.try_lock("test:held") is not None  # nothing is shared, nothing to lock
    lock.release()
    lock.release()


# --- filesystem -------------------------------------------------------------------------------


def test_a_released_lock_leaves_no_file(lock_folder: Path) -> None:
    store = FileLocks(lock_folder)
    for index in range(20):
        lock = store.try_lock(f"test:state-{index}")
        assert lock is not None
        assert len(list(lock_folder.iterdir())) == 1
        lock.release()
    assert list(lock_folder.iterdir()) == []


def test_a_killed_holders_file_lock_is_free_at_once_and_its_file_removed(
    lock_folder: Path,
) -> None:
    hold_and_die("file", str(lock_folder), "test:killed")
    assert len(list(lock_folder.iterdir())) == 1  # the file it could not remove
    store = FileLocks(lock_folder)
    lock = store.try_lock("test:killed")
    assert lock is not None  # the operating system dropped its flock
    lock.release()
    assert list(lock_folder.iterdir()) == []


def test_a_forked_child_does_not_keep_its_dead_parents_file_lock(lock_folder: Path) -> None:
    [child] = hold_and_die("file", str(lock_folder), "test:forked", fork=True)
    try:
        lock = FileLocks(lock_folder).try_lock("test:forked")
        assert lock is not None, "the child's inherited descriptor still holds the lock"
        lock.release()
    finally:
        os.kill(child, signal.SIGKILL)


def test_a_forked_child_here_leaves_the_parents_file_lock_held(lock_folder: Path) -> None:
    store = FileLocks(lock_folder)
    lock = store.try_lock("test:mine")
    assert lock is not None
    child = os.fork()  # as a background job's process is started
    if child == 0:
        lock.release()  # not the child's to release: a no-op
        os._exit(0 if store.try_lock("test:mine") is None else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the child could take its parent's lock"
    assert store.try_lock("test:mine") is None
    lock.release()
    assert list(lock_folder.iterdir()) == []


def test_a_sweep_removes_the_files_nobody_holds(
    lock_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FileLocks(lock_folder)
    held = store.try_lock("test:held")
    assert held is not None
    [kept] = list(lock_folder.iterdir())
    stale = [lock_folder / f"{index:032x}.lock" for index in range(3)]
    for path in stale:
        path.touch()  # left by killed holders of keys nobody asks for again
    monkeypatch.setattr(locks, "_next_sweep", 0.0)

    other = store.try_lock("test:other")
    assert other is not None
    other.release()  # and sweeps

    assert list(lock_folder.iterdir()) == [kept]
    assert store.try_lock("test:held") is None  # still held, by the same file
    held.release()
    assert list(lock_folder.iterdir()) == []


# --- redis ------------------------------------------------------------------------------------


def test_a_lease_is_renewed_while_held_and_its_thread_ends_at_release(
    lock_store: redis.Redis, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(locks, "LEASE_SECONDS", 0.5)
    monkeypatch.setattr(locks, "RENEW_EVERY", 0.1)
    store = RedisLocks(redis_server.url, 20)
    before = lease_threads()
    lock = store.try_lock("test:renewed")
    assert lock is not None
    assert len(lease_threads()) == len(before) + 1

    time.sleep(1.5)  # three leases long
    assert store.try_lock("test:renewed") is None
    assert 0 < lock_store.pttl("test:renewed:lock") <= 500

    lock.release()
    assert lock_store.exists("test:renewed:lock") == 0
    assert lease_threads() == before


def test_a_killed_holders_lease_expires_within_seconds(
    lock_store: redis.Redis, redis_server: RedisServer
) -> None:
    hold_and_die("redis", redis_server.url, "test:killed")  # with a lease of 1 s
    assert lock_store.exists("test:killed:lock") == 1
    died = time.monotonic()
    store = RedisLocks(redis_server.url, 20)
    while (lock := store.try_lock("test:killed")) is None:
        assert time.monotonic() - died < 3, "the dead holder's key did not expire"
        time.sleep(0.05)
    lock.release()


def test_a_forked_child_neither_releases_nor_stops_renewing_its_parents_lease(
    lock_store: redis.Redis, redis_server: RedisServer
) -> None:
    script = """
import os, sys, time
import dashsignal.locks as locks
locks.LEASE_SECONDS, locks.RENEW_EVERY = 0.5, 0.1
lock = locks.RedisLocks(sys.argv[1], 20).try_lock("test:forked")
child = os.fork()
if child == 0:
    lock.release()  # not the child's to release
    os._exit(0)
os.waitpid(child, 0)
time.sleep(1.0)  # two leases long: renewed all along
print(lock._lease.owned())
lock.release()
"""
    result = run_python(script, redis_server.url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True"], result.stderr
    assert lock_store.exists("test:forked:lock") == 0


def test_a_lost_lease_is_logged_once_and_release_does_not_raise(
    lock_store: redis.Redis,
    redis_server: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(locks, "LEASE_SECONDS", 0.5)
    monkeypatch.setattr(locks, "RENEW_EVERY", 0.1)
    before = lease_threads()
    lock = RedisLocks(redis_server.url, 20).try_lock("test:lost")
    assert lock is not None
    with caplog.at_level(logging.WARNING, logger=locks.__name__):
        lock_store.set("test:lost:lock", "another worker's token", px=5000)
        time.sleep(0.5)
        lock.release()
    assert lock_store.get("test:lost:lock") == b"another worker's token"  # not ours to delete
    assert len(caplog.records) == 1, caplog.text
    assert "another worker took it" in caplog.text
    assert lease_threads() == before


def test_a_failing_renewal_is_logged_once_and_does_not_stop_the_holder(
    lock_store: redis.Redis,
    redis_server: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(locks, "RENEW_EVERY", 0.05)
    lock = RedisLocks(redis_server.url, 20).try_lock("test:failing")
    assert isinstance(lock, locks._RedisLock)

    def unreachable() -> bool:
        raise redis.ConnectionError("Redis went away")

    with caplog.at_level(logging.WARNING, logger=locks.__name__):
        monkeypatch.setattr(lock._lease, "reacquire", unreachable)
        time.sleep(0.5)  # ten failed renewals
        lock.release()
    assert len(caplog.records) == 1, caplog.text
    assert "Redis went away" in caplog.text
    assert lock_store.exists("test:failing:lock") == 0


def test_a_lease_is_renewed_for_lock_timeout_at_most(
    lock_store: redis.Redis,
    redis_server: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A computation that hangs must not keep its key for ever: waiters stop waiting anyway.
    monkeypatch.setattr(locks, "LEASE_SECONDS", 0.3)
    monkeypatch.setattr(locks, "RENEW_EVERY", 0.05)
    store = RedisLocks(redis_server.url, 0.4)
    with caplog.at_level(logging.WARNING, logger=locks.__name__):
        lock = store.try_lock("test:hung")
        assert lock is not None
        taken = time.monotonic()
        while (other := store.try_lock("test:hung")) is None:
            assert time.monotonic() - taken < 2, "the lease was renewed past lock_timeout"
            time.sleep(0.02)
        assert time.monotonic() - taken >= 0.4
        other.release()
        lock.release()
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 1, messages
    assert "held for lock_timeout (0.4 s), no longer renewed" in messages[0]


def test_an_unreachable_redis_raises_so_that_the_caller_computes_unlocked() -> None:
    store = RedisLocks("redis://127.0.0.1:1/0", 20)  # nothing listens on port 1
    with pytest.raises(redis.RedisError):
        store.try_lock("test:outage")


# --- one computation per key for the whole deployment ------------------------------------------


@pytest.mark.parametrize("backend", ["filesystem", "redis"])
def test_processes_missing_the_same_key_at_once_compute_it_once(
    tmp_path: Path, redis_server: RedisServer, backend: str
) -> None:
    """Worker processes of one host (and, on Redis, of every host) share one computation:
    forked like gunicorn's workers, all miss the entry at the same moment, one computes."""
    redis_server.flush()
    dashboard = build_dashboard(tmp_path, backend, redis_url=redis_server.url)
    dashboard.data.DELAY_SECONDS = 0.3  # every worker misses before the first one stores
    filters = nth_filters(7)
    start = time.time() + 0.3
    children = []
    for _ in range(6):
        child = os.fork()
        if child == 0:
            code = 1
            try:
                time.sleep(max(0.0, start - time.time()))
                frame = dashboard.load(QUERY, filters)
                code = 0 if len(frame) else 2
            finally:
                os._exit(code)
        children.append(child)
    codes = [os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]) for child in children]
    assert codes == [0] * 6
    runs = dashboard.runs.runs()
    assert [run["name"] for run in runs] == [QUERY], runs
    assert runs[0]["pid"] in children
    # And the result is shared: this process reads it without computing.
    dashboard.load(QUERY, filters)
    assert len(dashboard.runs.runs()) == 1
