"""The server-side cache: its configuration, its keys, and computing each dataset only once.

Keys are derived on the server from validated filter values, never taken from the browser: a
forged signal can at worst name a filter state that is allowed anyway. They are sha256 digests of
canonical JSON, so every worker process computes the same key, before and after a restart
(Python's built-in hash() is salted per process), namespaced by everything that gives an entry
its meaning: app, spec version, the computation and the versions of its code (data.DATA_VERSION,
a stage's VERSION...), and the versions of the libraries that can read it back.

A cache that fails (Redis restarting, a full disk) is bypassed, not raised to the browser: the app
computes without it, logs one warning per outage, and uses it again once it answers. An entry that
cannot be read back (truncated, foreign, corrupt) is a miss: the worker that takes its lock deletes
it, logs it once and computes it again.

What a computation may cost is bounded: a request waits at most lock_timeout for another worker's
result (below gunicorn's worker timeout), and at most new_per_minute new computations start a
minute, whatever filter states clients choose.

A view whose module summarises (`summarise(data)`, see dashsignal.View) reads a summary instead:
the step that computes a result (the query, a stage) also runs the summarise of every view of it,
under the same lock, and caches each summary under a key of its own; the result itself is stored
only when something still reads it whole (a stage derived from it, a view without summarise, a
wiring that declares no views). A missing summary is made again under that lock, from the result
if it is still cached, else by computing it again: once for all the views that miss it together.

Each process also keeps the frames it read or computed last (see MEMO_ENTRIES), so that the views
of one filter change that land on the same process decode the entry once, not once each.
"""

from __future__ import annotations

import contextlib
import enum
import fcntl
import hashlib
import io
import json
import logging
import os
import pickle
import platform
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import redis
from flask import Flask
from flask_caching import Cache
from flask_caching.backends import FileSystemCache, RedisCache
from pandas.api.types import is_object_dtype

from dashsignal.auth import Access, Session, Unauthenticated, User
from dashsignal.computations import Computation, Computations, View
from dashsignal.freshness import Freshness
from dashsignal.locks import FileLocks, Lock, LockStore, NoLocks, RedisLocks, ThreadLocks
from dashsignal.settings import CacheSettings

__all__ = [
    "DamagedEntry",
    "DataCache",
    "EntryFiles",
    "EntryRedis",
    "Miss",
    "StillComputing",
    "SummaryFailed",
    "TooManyComputations",
    "cache_key",
]

logger = logging.getLogger(__name__)

# While the cache is failing, try it again at most this often.
RETRY_SECONDS = 5.0
# What a failing cache raises: it is then bypassed, never turned into an HTTP 500.
CACHE_ERRORS: tuple[type[Exception], ...] = (redis.RedisError, OSError)
# How a Redis entry starts: a Parquet file, or a pickle (protocol 5) for frames Arrow cannot type.
PARQUET_MAGIC = b"PAR1"
PICKLE_MAGIC = b"\x80\x05"
# How many decoded frames each process keeps, the most recently used ones, so that the views of
# one filter change that land on the same process decode the entry once. A frame is handed out
# from here only while the shared cache still holds its key (checked on every read, so an entry
# that was flushed, evicted or expired is computed again exactly as if this memo did not exist),
# and for at most MEMO_SECONDS (never more than the cache timeout) after it was read or
# computed: the views of one filter change ask within that time, and a key computed again after
# a flush (from newer data, say) is read again after that time at the latest.
MEMO_ENTRIES = 2
MEMO_SECONDS = 5.0
# What those frames may hold in memory per process; a larger frame is decoded by every view.
MEMO_BYTES = 512 * 1024 * 1024
# How many views' summaries one process computes at once (pandas releases the GIL in much of a
# groupby); 1 computes them one after the other. See benchmarks/bench_signaling.py.
SUMMARY_THREADS = int(os.environ.get("DASHSIGNAL_SUMMARY_THREADS", "2"))
# The storage tag of summary entries: part of their keys, so that a change of envelope is a miss.
SUMMARY_STORAGE = "summary1"


class DamagedEntry(Exception):
    """A cache entry that cannot be read back: truncated, foreign or otherwise corrupt."""


class StillComputing(Exception):
    """Another worker has been computing this result for longer than a request may wait."""


class TooManyComputations(Exception):
    """new_per_minute new computations have started this minute already."""


class SummaryFailed(Exception):
    """A view's summarise raised for this filter state (logged with its traceback where it ran):
    remembered in the cache like a summary, so that the view shows the failure without the
    result being computed again for it."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@dataclass(frozen=True)
class _Summary:
    """What a summary entry holds: a view's summary, or the kind of error its summarise raised.
    The envelope tells an entry this runtime wrote from anything else found under its key."""

    value: Any = None
    failed: str | None = None


class Miss(enum.Enum):
    """Why a read found no frame."""

    ABSENT = "absent"  # never stored, expired, evicted, or the cache is unavailable
    DAMAGED = "damaged"  # stored, but it cannot be read back


class EntryFiles(FileSystemCache):
    """flask-caching's FileSystemCache, reading its files strictly: a file that cannot be read
    back raises DamagedEntry, instead of being logged with a traceback on every read (as cachelib
    does) or raising whatever its bytes happen to make pickle raise."""

    def get(self, key: str) -> Any:
        if key == self._fs_count_file:
            # cachelib's own count of its files: a damaged one only starts the count afresh.
            with contextlib.suppress(DamagedEntry):
                return self._read_strictly(key)
            return None
        return self._read_strictly(key)

    def _read_strictly(self, key: str) -> Any:
        try:
            with Path(self._get_filename(key)).open("rb") as stream:
                (expires,) = struct.unpack("I", stream.read(4))
                if expires != 0 and expires < time.time():
                    return None
                return pickle.load(stream)
        except FileNotFoundError:
            return None
        except OSError:
            raise  # the folder itself is failing: an outage, which the caller bypasses
        except Exception as error:  # whatever damaged bytes make struct or pickle raise
            raise DamagedEntry(f"{type(error).__name__}: {error}") from error

    def has(self, key: str) -> bool:
        try:
            return bool(super().has(key))
        except struct.error:  # too short to hold its expiry time: as good as gone
            return False


class _EntryBytes:
    """Redis entries are bytes that the Parquet codec wrote (and counters, whole numbers): stored
    as they are, so that reading one back never runs flask-caching's pickle on bytes of unknown
    origin."""

    def dumps(self, value: Any) -> bytes:
        if type(value) is int:
            return str(value).encode("ascii")  # Redis counts these with INCRBY
        if not isinstance(value, bytes):
            raise TypeError(f"entries are bytes, not {type(value).__name__}")
        return value

    def loads(self, value: bytes | None) -> bytes | None:
        return value


class EntryRedis(RedisCache):
    """flask-caching's RedisCache, storing the bytes of the Parquet codec as they are."""

    serializer = _EntryBytes()  # type: ignore[assignment]  # duck-typed by flask-caching


def _library_versions() -> str:
    try:
        arrow = version("pyarrow")
    except PackageNotFoundError:
        arrow = "none"
    python = ".".join(platform.python_version_tuple()[:2])
    return f"py{python}-pandas{pd.__version__}-numpy{np.__version__}-pyarrow{arrow}"


_LIBRARIES = _library_versions()


class _PickleCodec:
    """flask-caching pickles (protocol 5) and reads a file back as a stream: measured on a
    million rows, the fastest way back into a DataFrame (benchmarks/bench_serialization.py)."""

    storage = "pickle5"

    def encode(self, frame: pd.DataFrame) -> Any:
        return frame  # flask-caching pickles it

    def decode(self, stored: Any) -> pd.DataFrame:
        if not isinstance(stored, pd.DataFrame):
            raise DamagedEntry(f"expected a DataFrame, got {type(stored).__name__}")
        return stored


class _ParquetCodec:
    """Datasets travel to every consumer through the network: Parquet is about 13 times smaller
    than a pickle of a typical frame and, measured on a million rows, 3 to 5 times faster to read
    back from Redis (benchmarks/bench_serialization.py)."""

    storage = "parquet"

    def encode(self, frame: pd.DataFrame) -> bytes:
        buffer = io.BytesIO()
        try:
            # No statistics: only readers that skip row groups use them; they cost a quarter of
            # the time it takes to write, and every view waits for that write.
            frame.to_parquet(buffer, engine="pyarrow", compression=None, write_statistics=False)
        except (TypeError, ValueError):
            # Columns Arrow cannot type (mixed Python objects, say) travel as a pickle instead.
            return pickle.dumps(frame, protocol=5)
        return buffer.getvalue()

    def decode(self, stored: Any) -> pd.DataFrame:
        """The frame encode wrote; DamagedEntry for anything else (truncated, foreign, corrupt)."""
        if not isinstance(stored, bytes):
            raise DamagedEntry(f"expected bytes, got {type(stored).__name__}")
        try:
            if stored.startswith(PARQUET_MAGIC):
                frame = pd.read_parquet(io.BytesIO(stored), engine="pyarrow")
            elif stored.startswith(PICKLE_MAGIC):
                frame = pickle.loads(stored)  # written by encode above, under a key of this app
            else:
                raise DamagedEntry("not an entry this app wrote")
        except DamagedEntry:
            raise
        except Exception as error:  # whatever damaged bytes make Arrow or pickle raise
            raise DamagedEntry(f"{type(error).__name__}: {error}") from error
        if not isinstance(frame, pd.DataFrame):
            raise DamagedEntry(f"expected a DataFrame, got {type(frame).__name__}")
        return frame


def cache_key(settings: CacheSettings, storage: str, code: str, filters: dict[str, Any]) -> str:
    """The key of a computation (its lineage `code`) for canonical filter values: the same in
    every process."""
    canonical = json.dumps(
        filters, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return (
        f"dashsignal:{settings.app_name}:{settings.spec_version}:{storage}-{_LIBRARIES}:"
        f"{code}:{digest}"
    )


class DataCache:
    """The cached results of one dashboard's computations, shared as its backend allows."""

    def __init__(
        self,
        settings: CacheSettings,
        computations: Computations,
        views: Mapping[str, View] | None = None,
        access: Access | None = None,
    ) -> None:
        self.settings = settings
        self.computations = computations
        # Who the request being answered comes from: the scope of user and session results.
        self.access = access
        # None: a wiring that declares no views (0.3), whose views all read results whole.
        self.views = views
        self.cache = Cache()
        self._codec = _ParquetCodec() if settings.backend == "redis" else _PickleCodec()
        self._locks: LockStore = _lock_store(settings)
        self._outage = _Outage(settings)
        # The data's version and the generation, in every key (dashsignal.freshness).
        self.freshness = Freshness(
            settings, computations, usable=self._outage.usable, failed=self._outage.failed
        )
        self._admissions = _Admissions(self, settings.new_per_minute)
        entries = MEMO_ENTRIES if settings.backend != "null" else 0
        timeout = settings.timeout
        self._memo = _Memo(entries, min(MEMO_SECONDS, timeout) if timeout > 0 else MEMO_SECONDS)
        # The computations whose results were too large to cache, each logged once per process.
        self._oversized: set[str] = set()
        self._summarisers = _Summarisers(SUMMARY_THREADS)
        # How many computations from the filters this process has run (dashsignal.Signaling.warm
        # tells a state it computed from one it found).
        self.computed = 0

    def config(self) -> dict[str, Any]:
        """flask-caching settings (class names: flask-caching 2.5 rejects the old lowercase)."""
        settings = self.settings
        config: dict[str, Any] = {"CACHE_DEFAULT_TIMEOUT": settings.timeout}
        if settings.backend == "filesystem":
            # One folder shared by every worker on this host.
            config |= {
                "CACHE_TYPE": f"{__name__}.EntryFiles",
                "CACHE_DIR": str(settings.cache_dir / "data"),
                "CACHE_THRESHOLD": 500,
            }
        elif settings.backend == "redis":
            # One Redis server shared by every worker on every host; short timeouts, so that an
            # outage costs a request half a second, not a hang.
            config |= {
                "CACHE_TYPE": f"{__name__}.EntryRedis",
                "CACHE_REDIS_URL": settings.redis_url,
                "CACHE_OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 5},
            }
        elif settings.backend == "simple":
            # In-process memory: for development with a single process only.
            config |= {"CACHE_TYPE": "SimpleCache", "CACHE_THRESHOLD": 500}
        else:
            # Caching switched off: every view runs the query itself.
            config |= {"CACHE_TYPE": "NullCache", "CACHE_NO_NULL_WARNING": True}
        return config

    def init_app(self, server: Flask) -> None:
        """Attach the cache to the Flask server."""
        self.cache.init_app(server, config=self.config())
        if self.settings.backend == "redis":
            # Say at start-up, not at the first request, that there is no Redis to talk to.
            # In this server's own context, whatever app context is current (another app's).
            with server.app_context():
                try:
                    self.cache.has(f"dashsignal:{self.settings.app_name}:ping")
                except CACHE_ERRORS as error:
                    self._outage.failed(error)

    def clear(self) -> None:
        """Empty the shared cache (within the server's app context) and this process's memo."""
        self.cache.clear()
        self._memo.clear()

    def key(self, name: str, filters: dict[str, Any]) -> str:
        """The key of computation `name` for canonical filter values."""
        return cache_key(self.settings, self._codec.storage, self._code(name), filters)

    def summary_key(self, view: View, filters: dict[str, Any]) -> str:
        """The key of a view's summary for canonical filter values."""
        code = f"{self._code(view.source)}.view-{view.id}{view.version}"
        return cache_key(self.settings, SUMMARY_STORAGE, code, filters)

    def _code(self, name: str) -> str:
        """What a key of `name` is made of beside the filters: its lineage and the versions of
        their code, the data's freshness (its probed versions, the generation), and for a
        user's or a session's result, whose it is (a keyed hash)."""
        code = ".".join(f"{c.name}{c.version}" for c in self.computations.lineage(name))
        code = f"{code}~{self.freshness.key_part(name)}"
        scope = self.computations.scope_of(name)
        subject = self._subject(scope)
        if subject is None:
            return code
        assert self.access is not None  # _subject found one
        return f"{code}.{scope}-{self.access.token(scope, subject)}"

    def _subject(self, scope: str) -> User | Session | None:
        """The user or session of the request being answered, for a result of `scope`; None
        for a shared one. Unauthenticated when there is none to be had."""
        if scope == "shared":
            return None
        if self.access is None:
            raise Unauthenticated(f"a result scoped to the {scope} needs Signaling(auth=...)")
        return self.access.subject(scope)

    def run(self, computation: Computation, filters: dict[str, Any]) -> Any:
        """Call a computation that starts from the filters: with the user or session of the
        request being answered after them, when its results are scoped."""
        subject = self._subject(computation.scope)
        if subject is None:
            return computation.function(dict(filters))
        return computation.function(dict(filters), subject)

    def summarising(self, name: str) -> list[View]:
        """The views of computation `name` that summarise it."""
        views = self.views or {}
        return [view for view in views.values() if view.source == name and view.summarises]

    def read_whole(self, name: str) -> bool:
        """Whether anything reads the result of `name` whole, so that it must be cached: a stage
        derived from it, a view without summarise, or a wiring that declares no views."""
        if self.views is None:
            return True
        if any(c.source == name for c in self.computations.values()):
            return True
        return any(v.source == name and not v.summarises for v in self.views.values())

    def prepare(self, name: str, filters: dict[str, Any]) -> None:
        """What the step computing `name` does: make sure the summary of every view of it is
        cached, and the result itself when something reads it whole. Computed at most once per
        filter state, whichever process asks."""
        views = self.summarising(name)
        if not views:
            self.load(name, filters)
            return
        keys = [self.summary_key(view, filters) for view in views]
        if self.read_whole(name):
            keys.append(self.key(name, filters))
        self._single_flight(
            name,
            filters,
            lambda: None if self._all_held(keys) else Miss.ABSENT,
            lambda _: self._summarise(name, filters, views),
        )

    def load_summary(self, view: View, filters: dict[str, Any]) -> Any:
        """A view's summary for canonical filters. A missing one is made again, with every other
        missing summary of its source, under the source's lock: once for all the views that
        miss together. Raises SummaryFailed when the view's summarise failed for them."""
        key = self.summary_key(view, filters)

        def summary(_: Miss) -> Any:
            return self._summarise(view.source, filters, self.summarising(view.source), view)

        return _unwrap(self._single_flight(view.source, filters, lambda: self._held(key), summary))

    def _single_flight(
        self,
        name: str,
        filters: dict[str, Any],
        read: Callable[[], Any],
        make: Callable[[Miss], Any],
    ) -> Any:
        """What `read` finds, or else what `make` returns (given why `read` missed), made by one
        reader at a time under the lock of `name`'s key while the others wait and read again. A
        reader waits at most lock_timeout, then raises StillComputing: gunicorn would kill a
        worker that waited longer."""
        lock_timeout = self.settings.lock_timeout
        deadline = time.monotonic() + lock_timeout
        pause = 0.01
        while True:
            found = read()
            if not isinstance(found, Miss):
                return found
            lock = self._try_lock(self.key(name, filters))
            if lock is not None:
                try:
                    found = read()  # another worker may have made it between our read and lock
                    return found if not isinstance(found, Miss) else make(found)
                finally:
                    lock.release()
            if time.monotonic() >= deadline:
                raise StillComputing(f"{name} is still being computed after {lock_timeout} s")
            time.sleep(pause)
            pause = min(pause * 2, 0.1)

    def _summarise(
        self,
        name: str,
        filters: dict[str, Any],
        views: Sequence[View],
        wanted: View | None = None,
    ) -> _Summary | None:
        """Under the lock of `name`: every summary of `views` that is missing, from the result
        (cached, or computed now), each stored; the result too when it is read whole. Returns
        the summary of `wanted`."""
        missing: list[tuple[View, str]] = []
        held: dict[str, _Summary] = {}
        damaged: list[str] = []
        for view in views:
            key = self.summary_key(view, filters)
            found = self._held(key)
            if isinstance(found, _Summary):
                held[view.id] = found
                continue
            if found is Miss.DAMAGED:
                damaged.append(view.id)
                self._delete(key)
            missing.append((view, key))
        if damaged:
            # One line for all of them, by the one reader that holds the lock: no flood.
            logger.warning(
                "damaged cache entry of the summaries of %s deleted; summarising again",
                ", ".join(damaged),
            )
        whole = self.read_whole(name)
        key = self.key(name, filters)
        if not missing and not (whole and not self._has(key)):  # nothing to make, nor to keep
            return held.get(wanted.id) if wanted is not None else None
        frame = self._read(key)
        if not isinstance(frame, pd.DataFrame):
            if frame is Miss.DAMAGED:
                logger.warning("damaged cache entry for %s deleted; computing it again", name)
                self._delete(key)
            frame = self._compute(name, filters)
            if whole:
                self._keep(name, key, frame)
        if not self._sharing():
            # Nothing can be kept for the other views: summarise only the one that asked.
            missing = [(view, k) for view, k in missing if view == wanted]
        made = self._summarisers.run([view for view, _ in missing], frame)
        for (view, k), summary in zip(missing, made, strict=True):
            held[view.id] = summary
            self._store_summary(view, k, summary)
        return held.get(wanted.id) if wanted is not None else None

    def _sharing(self) -> bool:
        return self.settings.backend != "null" and self._outage.usable()

    def load(self, name: str, filters: dict[str, Any]) -> pd.DataFrame:
        """The result of computation `name` for canonical filters, computed at most once per key.

        A reader that misses takes the key's lock and computes; readers that miss meanwhile wait
        for its result instead of computing it again (no stampede). A missing entry (expired,
        evicted, flushed) is recomputed; a damaged one is deleted and recomputed. A reader waits
        at most lock_timeout, then raises StillComputing: gunicorn would kill a worker that
        waited longer.
        """
        key = self.key(name, filters)

        def compute(found: Miss) -> pd.DataFrame:
            if found is Miss.DAMAGED:
                # Logged here only, by the one reader that holds the lock: no flood.
                logger.warning("damaged cache entry for %s deleted; computing it again", name)
                self._delete(key)
            return self._compute_and_store(name, key, filters)

        frame: pd.DataFrame = self._single_flight(name, filters, lambda: self._read(key), compute)
        return frame

    def _compute(self, name: str, filters: dict[str, Any]) -> pd.DataFrame:
        computation = self.computations[name]
        if computation.source is None:
            if not self._admissions.admit():
                raise TooManyComputations(
                    f"{self.settings.new_per_minute} new computations this minute already"
                )
            self.computed += 1
            with self._slow_warning(name):
                frame = self.run(computation, filters)
        else:
            # A stage reads its input from the cache: deriving it never reruns its source.
            source = self.load(computation.source, filters)
            with self._slow_warning(name):
                frame = computation.function(source)
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"{name} returned {type(frame).__name__}, not a pandas DataFrame")
        return frame

    @contextlib.contextmanager
    def _slow_warning(self, name: str) -> Iterator[None]:
        """Log once, while it still runs, a computation that takes half of gunicorn's worker
        timeout: the worker is killed at the full timeout, and the log then says why."""
        computation = self.computations[name]
        if self.settings.background and computation.source is None:
            yield  # a background job runs outside the web workers, where no timeout applies
            return
        worker_timeout = self.settings.worker_timeout
        timer = threading.Timer(worker_timeout / 2, _warn_slow, (name, worker_timeout))
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()

    def _compute_and_store(self, name: str, key: str, filters: dict[str, Any]) -> pd.DataFrame:
        frame = self._compute(name, filters)
        self._keep(name, key, frame)
        return frame

    def _keep(self, name: str, key: str, frame: pd.DataFrame) -> None:
        """Store a computed result, and keep it in this process's memo once stored."""
        if self._outage.usable():
            try:
                stored = self._store(name, key, frame)
            except CACHE_ERRORS as error:
                self._outage.failed(error)
            else:
                if stored:
                    # The views that land on this process read it from here. A copy of our own:
                    # the computation could still change the frame it returned.
                    self._memo.put(key, frame.copy(deep=False))

    def _store(self, name: str, key: str, frame: pd.DataFrame) -> bool:
        """Store `frame` under `key`; False for a Redis entry over max_entry_bytes, which stays
        uncached (each reader then computes it) rather than filling the server's memory."""
        encoded = self._codec.encode(frame)
        limit = self.settings.max_entry_bytes
        if isinstance(encoded, bytes) and len(encoded) > limit:
            if name not in self._oversized:
                self._oversized.add(name)
                logger.warning(
                    "%s: a result of %d MiB is over max_entry_bytes (%d MiB) and is not cached",
                    name,
                    len(encoded) >> 20,
                    limit >> 20,
                )
            return False
        return bool(self.cache.set(key, encoded))

    def _read(self, key: str) -> pd.DataFrame | Miss:
        if not self._outage.usable():
            return Miss.ABSENT
        kept = self._memo.get(key)
        if kept is not None:
            return self._still_held(key, kept)
        try:
            stored = self.cache.get(key)
        except CACHE_ERRORS as error:
            self._outage.failed(error)
            return Miss.ABSENT
        except DamagedEntry:
            self._outage.succeeded()
            return Miss.DAMAGED
        self._outage.succeeded()
        if stored is None:
            return Miss.ABSENT
        try:
            frame = self._codec.decode(stored)
        except DamagedEntry:
            return Miss.DAMAGED
        return frame.copy(deep=False) if self._memo.put(key, frame) else frame

    def _held(self, key: str) -> _Summary | Miss:
        """The summary entry under `key`, read and checked."""
        if not self._outage.usable():
            return Miss.ABSENT
        try:
            stored = self.cache.get(key)
        except CACHE_ERRORS as error:
            self._outage.failed(error)
            return Miss.ABSENT
        except DamagedEntry:
            self._outage.succeeded()
            return Miss.DAMAGED
        self._outage.succeeded()
        if stored is None:
            return Miss.ABSENT
        if isinstance(stored, bytes):  # Redis: the pickle _store_summary wrote
            try:
                stored = pickle.loads(stored) if stored.startswith(PICKLE_MAGIC) else None
            except Exception:  # whatever damaged bytes make pickle raise
                stored = None
        return stored if isinstance(stored, _Summary) else Miss.DAMAGED

    def _store_summary(self, view: View, key: str, summary: _Summary) -> None:
        if not self._outage.usable():
            return
        value: Any = summary
        if self.settings.backend == "redis":
            value = pickle.dumps(summary, protocol=5)
            if len(value) > self.settings.max_entry_bytes:
                if view.id not in self._oversized:
                    self._oversized.add(view.id)
                    logger.warning(
                        "view %s: a summary of %d MiB is over max_entry_bytes and is not cached",
                        view.id,
                        len(value) >> 20,
                    )
                return
        try:
            self.cache.set(key, value)
        except CACHE_ERRORS as error:
            self._outage.failed(error)

    def _has(self, key: str) -> bool:
        if not self._outage.usable():
            return False
        try:
            held = bool(self.cache.has(key))
        except CACHE_ERRORS as error:
            self._outage.failed(error)
            return False
        self._outage.succeeded()
        return held

    def _all_held(self, keys: Sequence[str]) -> bool:
        return all(self._has(key) for key in keys)

    def _delete(self, key: str) -> None:
        try:
            self.cache.delete(key)
        except CACHE_ERRORS as error:
            self._outage.failed(error)

    def _still_held(self, key: str, kept: pd.DataFrame) -> pd.DataFrame | Miss:
        """A kept frame, only while the shared cache still holds its entry: one that was
        flushed, evicted or expired is a miss, as it would be without the memo."""
        try:
            held = self.cache.has(key)
        except CACHE_ERRORS as error:
            self._outage.failed(error)
            return Miss.ABSENT
        self._outage.succeeded()
        if not held:
            self._memo.forget(key)
            return Miss.ABSENT
        return kept.copy(deep=False)

    def _try_lock(self, key: str) -> Lock | None:
        if not self._outage.usable():
            return _Unlocked()
        try:
            return self._locks.try_lock(key)
        except CACHE_ERRORS as error:  # no lock store: compute without the guarantee, but answer
            self._outage.failed(error)
            return _Unlocked()


def _unwrap(summary: _Summary | None) -> Any:
    if summary is None:
        raise RuntimeError("a view's summary was asked of a computation that does not make it")
    if summary.failed is not None:
        raise SummaryFailed(summary.failed)
    return summary.value


class _Summarisers:
    """Runs views' summarise functions on one result, on up to `threads` threads at once, each
    failure kept as the error's kind and logged with its traceback. The threads last one run:
    nothing is left behind for a fork to copy or a test server's shutdown to interrupt."""

    def __init__(self, threads: int) -> None:
        self._threads = max(1, threads)

    def run(self, views: Sequence[View], frame: pd.DataFrame) -> list[_Summary]:
        threads = min(self._threads, len(views))
        if threads <= 1:
            return [_summary_of(view, frame) for view in views]
        with ThreadPoolExecutor(threads, thread_name_prefix="summarise") as pool:
            return list(pool.map(lambda view: _summary_of(view, frame), views))


def _summary_of(view: View, frame: pd.DataFrame) -> _Summary:
    try:
        # A shallow copy each: with pandas' Copy-on-Write, one view cannot change another's data.
        value = view.summarise(frame.copy(deep=False))
    except Exception as error:
        logger.exception("view %s: summarise failed", view.id)
        return _Summary(failed=type(error).__name__)
    if value is None:
        logger.error("view %s: summarise returned None; return what render draws", view.id)
        return _Summary(failed="TypeError")
    return _Summary(value)


def _lock_store(settings: CacheSettings) -> LockStore:
    if settings.backend == "filesystem":
        return FileLocks(settings.cache_dir / "locks")
    if settings.backend == "redis":
        return RedisLocks(settings.redis_url, settings.lock_timeout)
    if settings.backend == "simple":
        return ThreadLocks()
    return NoLocks()


def _warn_slow(name: str, worker_timeout: int) -> None:
    logger.warning(
        "%s has been computing for %.0f s; gunicorn kills a worker after %d s (timeout in "
        "gunicorn.conf.py). For a computation this long, set background = true in "
        "dashsignal.toml (or raise lock_timeout, which raises the worker timeout with it)",
        name,
        worker_timeout / 2,
        worker_timeout,
    )


class _Memo:
    """The frames this process read or computed last: at most `entries` frames and `size` bytes,
    each for at most `seconds`.

    Every reader gets a shallow copy (`frame.copy(deep=False)`): with pandas' Copy-on-Write
    (always on from pandas 3), a view that changes its frame changes its own copy only. Frames
    with object columns are not kept: the Python objects in their cells (lists, dicts) are not
    covered by Copy-on-Write, and a view could change them in place for every other view.
    """

    def __init__(
        self,
        entries: int,
        seconds: float,
        size: int = MEMO_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._entries = entries if _COPY_ON_WRITE else 0
        self._seconds = seconds
        self._size = size
        self._clock = clock
        self.clear()
        # A process forked from this one (a background job) starts with an empty memo and a lock
        # of its own: another thread may hold this one while the fork happens.
        os.register_at_fork(after_in_child=self.clear)

    def clear(self) -> None:
        self._lock = threading.Lock()
        # key -> (fresh until, bytes, frame), the most recently used last
        self._frames: OrderedDict[str, tuple[float, int, pd.DataFrame]] = OrderedDict()

    def get(self, key: str) -> pd.DataFrame | None:
        """The frame kept under `key`, if it is still fresh."""
        with self._lock:
            self._drop_stale(self._clock())
            kept = self._frames.get(key)
            if kept is None:
                return None
            self._frames.move_to_end(key)
            return kept[2]

    def put(self, key: str, frame: pd.DataFrame) -> bool:
        """Keep `frame` under `key`; False when it is not kept (too large, or not shareable)."""
        if self._entries <= 0 or any(is_object_dtype(dtype) for dtype in frame.dtypes):
            return False
        size = int(frame.memory_usage(index=True, deep=False).sum())
        if size > self._size:
            return False
        with self._lock:
            now = self._clock()
            self._frames[key] = (now + self._seconds, size, frame)
            self._frames.move_to_end(key)
            while (
                len(self._frames) > self._entries
                or sum(kept[1] for kept in self._frames.values()) > self._size
            ):
                self._frames.popitem(last=False)
            self._drop_stale(now)
        return True

    def forget(self, key: str) -> None:
        with self._lock:
            self._frames.pop(key, None)

    def _drop_stale(self, now: float) -> None:
        for key in [key for key, (until, _, _) in self._frames.items() if until <= now]:
            del self._frames[key]


# pandas 3 always copies on write: a shallow copy is then as safe to hand out as a deep one.
_COPY_ON_WRITE = int(pd.__version__.split(".", 1)[0]) >= 3


class _Unlocked:
    """Stands in for a lock while the cache (and so the lock store) is unavailable."""

    def release(self) -> None:
        pass


class _Outage:
    """Tracks a failing cache: warn once per outage, bypass it, retry every RETRY_SECONDS."""

    def __init__(self, settings: CacheSettings) -> None:
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._retry_at = 0.0
        self._hint = (
            ". Is a Redis server running at REDIS_URL? (redis-server, from apt-get install "
            "redis-server, or docker run -p 6379:6379 redis)"
            if settings.backend == "redis"
            else ""
        )

    def usable(self) -> bool:
        return self._down_since is None or time.monotonic() >= self._retry_at

    def failed(self, error: Exception) -> None:
        with self._lock:
            now = time.monotonic()
            if self._down_since is None:
                self._down_since = now
                logger.warning(
                    "cache unavailable (%s); computing without it until back%s", error, self._hint
                )
            self._retry_at = now + RETRY_SECONDS

    def succeeded(self) -> None:
        if self._down_since is not None:
            with self._lock:
                if self._down_since is not None:
                    logger.warning(
                        "cache available again after %.0f s", time.monotonic() - self._down_since
                    )
                    self._down_since = None


class _Admissions:
    """Counts the computations that start from the filters (a new filter state), per minute: at
    most `limit` for the whole deployment (one counter in Redis), for the host (one counter file,
    filesystem) or for the process (simple, null). A count that cannot be kept (the cache is
    failing) admits: the outage is logged already."""

    def __init__(
        self, owner: DataCache, limit: int, clock: Callable[[], float] = time.time
    ) -> None:
        self._owner = owner
        self._limit = limit
        self._clock = clock
        self._lock = threading.Lock()
        self._window = -1
        self._count = 0

    def admit(self) -> bool:
        # While the cache is known to be down, the counter is not asked either: a request must
        # not wait out its timeouts more often than the outage retries (RETRY_SECONDS).
        if self._limit <= 0 or not self._owner._outage.usable():
            return True
        window = int(self._clock() // 60)
        try:
            return self._started(window) <= self._limit
        except CACHE_ERRORS as error:
            self._owner._outage.failed(error)
            return True

    def _started(self, window: int) -> int:
        """One more start in this minute's counter; how many so far."""
        settings = self._owner.settings
        if settings.backend == "redis":
            key = f"dashsignal:{settings.app_name}:started:{window}"
            cache = self._owner.cache
            cache.add(key, 0, timeout=120)
            return int(cache.cache.inc(key) or 0)
        if settings.backend == "filesystem":
            return self._started_on_host(settings.cache_dir / "started", window)
        with self._lock:
            if window != self._window:
                self._window, self._count = window, 0
            self._count += 1
            return self._count

    def _started_on_host(self, path: Path, window: int) -> int:
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, path.open("a+", encoding="ascii") as counter:
            fcntl.flock(counter, fcntl.LOCK_EX)  # released when the file closes
            counter.seek(0)
            words = counter.read().split()
            same = len(words) == 2 and words[0] == str(window) and words[1].isdigit()
            count = int(words[1]) + 1 if same else 1
            counter.truncate(0)
            counter.write(f"{window} {count}\n")
        return count
