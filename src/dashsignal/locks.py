"""Per-key locks, so that one filter state is computed once for the whole deployment.

When several requests miss the same cache entry at once (every view after a filter change, or many
sessions choosing the same filters), one takes the key's lock and computes; the others wait and
read its result. A lock never outlives a crashed holder by more than a few seconds:

- filesystem (FileLocks): the operating system drops a flock() when its process ends, however it
  ends. Each key has one lock file, removed by its holder on release; a file left by a killed
  holder is removed by the key's next holder, or by a sweep (see SWEEP_SECONDS).
- redis (RedisLocks): the Redis key is a lease of LEASE_SECONDS (SET NX PX, redis-py's Lock),
  renewed by a thread of the holder while it lives; a holder killed with SIGKILL, or a lost
  host, stops renewing and the key expires.
- simple (ThreadLocks): the lock lives in this process, and so does the cache.
- null (NoLocks): the cache is off, so there is nothing to share and nothing to lock.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import threading
import time
from pathlib import Path
from typing import Protocol

import redis
from redis.exceptions import LockNotOwnedError
from redis.lock import Lock as Lease

__all__ = ["FileLocks", "Lock", "LockStore", "NoLocks", "RedisLocks", "ThreadLocks"]

logger = logging.getLogger(__name__)

# A held Redis lock is a lease: its key expires this long after it was last renewed, so the keys
# of a holder that died are free again within seconds.
LEASE_SECONDS = 5.0
# How often the holder renews its lease, for as long as it computes (at most lock_timeout: waiters
# stop waiting then anyway, and a computation that hangs must not keep its key forever). The
# margin to LEASE_SECONDS absorbs a holder too busy to renew on time.
RENEW_EVERY = 1.0


class Lock(Protocol):
    def release(self) -> None: ...


class LockStore(Protocol):
    def try_lock(self, key: str) -> Lock | None: ...


# Lock files of killed holders whose keys are never locked again are removed by a sweep: at most
# once every SWEEP_SECONDS per process (the first time at its first release), and at most
# SWEEP_FILES files per sweep.
SWEEP_SECONDS = 60.0
SWEEP_FILES = 100

# The descriptors this process holds locks on, so that a forked child closes its copies: an
# inherited copy would keep the lock held after this process dies, for as long as the child lives.
_guard = threading.Lock()
_held: set[int] = set()
_next_sweep = 0.0


class _FileLock:
    def __init__(self, descriptor: int, path: Path) -> None:
        self._descriptor = descriptor
        self._path = path
        self._pid = os.getpid()
        self._released = False

    def release(self) -> None:
        if self._unlock():
            _sweep_now_and_then(self._path.parent)

    def _unlock(self) -> bool:
        with _guard:
            # Once (the descriptor's number may belong to another lock since), and only in the
            # process that locked: a forked child closed its copy.
            if self._released or self._pid != os.getpid():
                return False
            self._released = True
            _held.discard(self._descriptor)
            try:
                # Removed while still locked: whoever opened the file meanwhile finds, once it
                # holds the lock, that the path no longer names that file, and starts again.
                self._path.unlink(missing_ok=True)
            finally:
                fcntl.flock(self._descriptor, fcntl.LOCK_UN)
                os.close(self._descriptor)
        return True


class FileLocks:
    """One lock file per key in `folder`, shared by every process of this host."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def try_lock(self, key: str) -> Lock | None:
        """The key's lock if no other process or thread holds it, else None (never blocks)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
        return _lock_file(self.folder / f"{name}.lock", create=True)


def _lock_file(path: Path, *, create: bool) -> _FileLock | None:
    """The lock of `path` if nobody holds it; None if somebody does (or, unless `create`, if
    there is no such file)."""
    flags = os.O_RDWR | os.O_CLOEXEC | (os.O_CREAT if create else 0)
    while True:
        with _guard:  # no fork between open() and _held.add(): see _close_inherited
            try:
                descriptor = os.open(path, flags, 0o600)
            except FileNotFoundError:
                if create:
                    raise
                return None
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(descriptor)
                return None
            # The holder before us may have removed the file between our open() and our flock(),
            # and another process created the next one: the lock is ours only if the path still
            # names the file we locked.
            if names_file(path, descriptor):
                _held.add(descriptor)
                return _FileLock(descriptor, path)
            os.close(descriptor)
            if not create:
                return None


def names_file(path: Path, descriptor: int) -> bool:
    """True while `path` still names the file open as `descriptor` (a holder may have removed
    it, and another process created the next one, between an open() and a flock())."""
    try:
        current = path.stat()
    except FileNotFoundError:
        return False
    opened = os.fstat(descriptor)
    return (current.st_ino, current.st_dev) == (opened.st_ino, opened.st_dev)


def _sweep_now_and_then(folder: Path) -> None:
    """Remove lock files that nobody holds (their holders were killed), now and then."""
    global _next_sweep
    now = time.monotonic()
    with _guard:
        if now < _next_sweep:
            return
        _next_sweep = now + SWEEP_SECONDS
    names: list[str] = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.endswith(".lock"):
                    names.append(entry.name)
                    if len(names) == SWEEP_FILES:
                        break
    except OSError:
        return
    for name in names:
        try:
            # Taken and released like any lock, which removes it; a held file is left alone.
            stale = _lock_file(folder / name, create=False)
            if stale is not None:
                stale._unlock()
        except OSError:
            pass  # housekeeping: a file that cannot be removed now is left for the next sweep


def _close_inherited() -> None:
    # In a forked child: close its copies of the descriptors its parent holds locks on, without
    # unlocking them (a flock belongs to the open file, which the parent still has open).
    global _guard
    for descriptor in _held:
        os.close(descriptor)
    _held.clear()
    _guard = threading.Lock()


os.register_at_fork(
    before=lambda: _guard.acquire(),
    after_in_parent=lambda: _guard.release(),
    after_in_child=_close_inherited,
)


class _RedisLock:
    """A held lease, renewed by a thread of its own until release()."""

    def __init__(self, lease: Lease, lock_timeout: float) -> None:
        self._lease = lease
        self._lock_timeout = lock_timeout
        self._pid = os.getpid()
        self._stop = threading.Event()
        self._lost = False
        self._renewer = threading.Thread(target=self._renew, name="dashsignal-lease", daemon=True)
        self._renewer.start()

    def release(self) -> None:
        # Once, and only in the process that locked: a forked child has no renewer and must not
        # delete its parent's key (a child never sees its parent's renewals stop, either).
        if self._pid != os.getpid() or self._stop.is_set():
            return
        self._stop.set()
        self._renewer.join()
        try:
            self._lease.release()  # deletes the key only if our token is still in it
        except LockNotOwnedError:
            self._lose("its lease expired before the computation ended")
        except redis.RedisError as error:
            logger.warning("could not release lock %s (%s); it expires by itself", self, error)

    def _renew(self) -> None:
        until = time.monotonic() + self._lock_timeout
        while not self._stop.wait(RENEW_EVERY):
            if time.monotonic() >= until:
                self._lose(f"held for lock_timeout ({self._lock_timeout} s), no longer renewed")
                return
            try:
                self._lease.reacquire()  # PEXPIRE, only if our token is still in the key
            except LockNotOwnedError:
                if not self._stop.is_set():
                    self._lose("its lease expired, or another worker took it")
                return
            except redis.RedisError as error:
                # Redis may be back before the lease runs out: keep trying until release.
                if not self._stop.is_set():
                    self._lose(f"renewing its lease failed ({error})")

    def _lose(self, why: str) -> None:
        # Logged once per lock; the computation goes on (another worker may compute it too).
        if not self._lost:
            self._lost = True
            logger.warning("lock %s: %s; another worker may compute the same result", self, why)

    def __str__(self) -> str:
        return str(self._lease.name)


class RedisLocks:
    """One lease per key in Redis, shared by every worker on every host."""

    def __init__(self, url: str, lock_timeout: float) -> None:
        self.url = url
        self.lock_timeout = lock_timeout
        self._client: redis.Redis | None = None
        # A forked child opens connections of its own instead of sharing its parent's sockets.
        os.register_at_fork(after_in_child=self._forget_client)

    def _forget_client(self) -> None:
        self._client = None

    def _redis(self) -> redis.Redis:
        if self._client is None:
            self._client = redis.Redis.from_url(
                self.url, socket_connect_timeout=0.5, socket_timeout=5
            )
        return self._client

    def try_lock(self, key: str) -> Lock | None:
        """The key's lock if no other worker holds it, else None (never blocks).

        Raises redis.RedisError when Redis cannot be reached; the caller then computes unlocked.
        """
        lease = Lease(self._redis(), f"{key}:lock", timeout=LEASE_SECONDS, thread_local=False)
        if lease.acquire(blocking=False):
            return _RedisLock(lease, self.lock_timeout)
        return None


class _ThreadLock:
    def __init__(self, held: set[str], guard: threading.Lock, key: str) -> None:
        self._held = held
        self._guard = guard
        self._key = key

    def release(self) -> None:
        with self._guard:
            self._held.discard(self._key)


class ThreadLocks:
    """Locks of this process's threads only: for the in-process simple cache."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._held: set[str] = set()

    def try_lock(self, key: str) -> Lock | None:
        """The key's lock if no other thread of this process holds it, else None (never blocks)."""
        with self._guard:
            if key in self._held:
                return None
            self._held.add(key)
        return _ThreadLock(self._held, self._guard, key)


class _NoLock:
    def release(self) -> None:
        pass


class NoLocks:
    """Always granted: with caching off every request computes on its own."""

    def try_lock(self, key: str) -> Lock | None:
        return _NoLock()
