"""The compute step as a Dash background callback, for queries longer than a request should be.

The query then runs outside the web worker (in a Celery worker on the Redis backend, in a child
process otherwise), while the page shows that it is computing. The one-computation guarantee
holds: the job calls the same DataCache.load, with the same per-key lock and the same cache.

Every job gets a key of its own (new_job_key): Dash keys jobs by their arguments, so two sessions
choosing the same filters at once would otherwise share one job, and the second session would
never receive its answer. Duplicate work is prevented one level down, by the lock in load.

A job is started only for filter values the wiring declares: dashsignal.guard refuses the others
(HTTP 204, as without background) before Dash starts anything.

With Celery, how many jobs run at once is bounded by the Celery workers, not here: each worker
runs at most its concurrency in parallel (`celery -A app:celery_app worker --concurrency N`),
and further jobs wait in the Redis queue.

Otherwise how many job processes run at once on this host is capped: each job process is forked
only once it holds one of MAX_JOB_PROCESSES slots, lock files under CACHE_DIR/jobs shared by
every worker on the host (JobSlots). A burst of filter changes therefore cannot fork a process
per request. A request that finds every slot taken waits up to JOB_SLOT_WAIT_SECONDS for one,
which is enough for a job of a few seconds to end, and is then answered 503 with Retry-After:
the page keeps what it shows, and the next filter change asks again. Waiting longer would hold a
web worker for as long as the queue is, so a burst would stall the whole app instead of failing
fast.

Settings, from the environment when the app starts:

- MAX_JOB_PROCESSES: job processes alive at once on this host (default: the number of CPUs,
  from 2 to 8; each job is a copy of a web worker, and a query mostly keeps one CPU busy);
- JOB_SLOT_WAIT_SECONDS: how long a request waits for a free slot (default 2).
"""

from __future__ import annotations

import fcntl
import logging
import math
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any

import diskcache
import multiprocess
from dash import DiskcacheManager
from werkzeug.exceptions import ServiceUnavailable

from dashsignal.locks import names_file
from dashsignal.settings import CacheSettings

logger = logging.getLogger(__name__)

# A finished job's answer is kept this long for the page to collect it.
JOB_RESULT_SECONDS = 600


def _setting(name: str, default: float, minimum: float, whole: bool = False) -> float:
    """The environment variable `name` as a number of at least `minimum`, or `default`."""
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= minimum and (value.is_integer() or not whole)):
        kind = "a whole number" if whole else "a number"
        raise ValueError(f"{name} must be {kind} of at least {minimum}, not {raw!r}")
    return value


def max_job_processes() -> int:
    """MAX_JOB_PROCESSES, or the number of CPUs from 2 to 8."""
    return int(_setting("MAX_JOB_PROCESSES", min(8, max(2, os.cpu_count() or 2)), 1, whole=True))


# How often a waiting request looks for a free slot.
_POLL_SECONDS = 0.05
# Jobs are forked, whatever multiprocess's default: a job process inherits its slot's lock.
_FORK = multiprocess.get_context("fork")
# Held while a slot's descriptor is open in this process, so no other job forked by this
# process in the meantime inherits it.
_STARTING = threading.Lock()


def new_job_key() -> str:
    """Called by Dash for each new job: a key no other job has."""
    return secrets.token_hex(16)


class JobsBusy(ServiceUnavailable):
    """Every job slot of this host stayed taken for JOB_SLOT_WAIT_SECONDS."""


class JobSlots:
    """`count` lock files in `folder`: a job process holds one for as long as it lives.

    A slot is taken with flock() in the web worker, which then forks the job and closes its own
    descriptor: the lock stays with the copy the job process inherited, and the kernel releases
    it when that process ends, however it ends (even by SIGKILL). Nothing is ever left to clean
    up, and every worker of the host sees the same slots. (Deleting CACHE_DIR/jobs while jobs
    run lets new jobs start beside them: the count starts again from the new files.)
    """

    def __init__(self, folder: Path, count: int) -> None:
        self.folder = folder
        self.count = count

    def try_take(self) -> int | None:
        """The open, locked descriptor of a free slot, or None when all are taken."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for index in range(self.count):
            path = self.folder / f"slot-{index}"
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(descriptor)
                continue
            except BaseException:
                os.close(descriptor)
                raise
            if names_file(path, descriptor):
                return descriptor
            # The file was deleted (CACHE_DIR emptied) between our open() and our flock(): its
            # lock guards nothing any more, and the next attempt creates the slot afresh.
            os.close(descriptor)
        return None


class KeepsFinishedResults:
    """A background manager that never drops the result of a job that has just ended.

    When the page polls, Dash reads the job's result and then asks whether the job still runs;
    a job that ends between the two (its result written just after the read) looks cancelled,
    and Dash answers 204: the page never gets the signal, and its views stay as they were.
    Seen under load with Celery and possible with Diskcache. Here a job that has ended with its
    result waiting still counts as running, so Dash answers "still running" and the next poll
    reads the result.
    """

    # The result key of the poll this thread is answering (Dash calls get_result, then
    # job_running, for one request in one thread).
    _polled = threading.local()

    def get_result(self, key: str, job: Any) -> Any:
        self._polled.key = key
        return super().get_result(key, job)  # type: ignore[misc]

    def job_running(self, job: Any) -> bool:
        if super().job_running(job):  # type: ignore[misc]
            return True
        key = getattr(self._polled, "key", None)
        return key is not None and bool(self.result_ready(key))  # type: ignore[attr-defined]


class CappedDiskcacheManager(KeepsFinishedResults, DiskcacheManager):
    """Dash's DiskcacheManager, with a job process started only once it holds a free slot."""

    def __init__(
        self, cache: diskcache.Cache, slots: JobSlots, wait: float, **options: Any
    ) -> None:
        super().__init__(cache, **options)  # type: ignore[no-untyped-call]
        self.slots = slots
        self.wait = wait

    def call_job_fn(self, key: str, job_fn: Any, args: Any, context: Any) -> int:
        """Fork the job once a slot is free (see JobSlots); JobsBusy (503) after `wait`."""
        deadline = time.monotonic() + self.wait
        while True:
            with _STARTING:
                slot = self.slots.try_take()
                if slot is not None:
                    try:
                        process = _FORK.Process(
                            target=job_fn,
                            args=(key, self._make_progress_key(key), args, context),  # type: ignore[no-untyped-call]
                        )
                        process.start()
                    finally:
                        os.close(slot)
                    return int(process.pid)
            if time.monotonic() >= deadline:
                logger.warning(
                    "all %d job processes busy for %.1f s: a background job was refused",
                    self.slots.count,
                    self.wait,
                )
                raise JobsBusy(
                    "Too many computations are running. Try again shortly.",
                    retry_after=max(1, math.ceil(self.wait)),
                )
            time.sleep(_POLL_SECONDS)


def diskcache_manager(settings: CacheSettings) -> DiskcacheManager:
    """Jobs run in a child process; their results wait on disk, shared by this host's workers."""
    results = diskcache.Cache(str(settings.cache_dir / "background"))
    slots = JobSlots(settings.cache_dir / "jobs", max_job_processes())
    return CappedDiskcacheManager(
        results,
        slots,
        _setting("JOB_SLOT_WAIT_SECONDS", 2.0, 0),
        cache_by=[new_job_key],
        expire=JOB_RESULT_SECONDS,
    )


def celery_app(settings: CacheSettings) -> Any:
    """The Celery app of a dashboard on Redis: run its workers beside the web app with
    `celery -A app:celery_app worker --loglevel=info`."""
    from celery import Celery  # only with the Redis backend (dash[celery])

    app = Celery(settings.app_name)
    app.conf.update(broker_url=settings.redis_url, result_backend=settings.redis_url)
    return app


def celery_manager(app: Any) -> Any:
    """Jobs go to Celery through Redis: any worker on any host can run them."""
    from dash import CeleryManager

    class KeepingCeleryManager(KeepsFinishedResults, CeleryManager):
        """Dash's CeleryManager that never drops a result (see KeepsFinishedResults)."""

    return KeepingCeleryManager(app, cache_by=[new_job_key], expire=JOB_RESULT_SECONDS)  # type: ignore[no-untyped-call]
