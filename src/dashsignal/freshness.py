"""Fresh data: what every cache key says about the data its entry was made from.

Two things, shared by every worker and host through the cache backend:

- **The version** a computation's probe reports: its module's `data_version()` (cheap: a
  `SELECT max(updated_at)`, a row count, a file's mtime). Each process evaluates it at most every
  `version_check` seconds and publishes what it found; every request reads what was published
  last. A change makes every entry of that computation, and of everything derived from it,
  unreachable at once for every worker: their keys hold the version. Nothing is deleted under a
  reader's feet; the old entries age out with the cache's timeout.
- **The generation**, a random token that `invalidate` replaces: in every key of every
  computation, read on every request, so that after `invalidate` returns no request is answered
  from an entry made before it, whichever worker or host it reaches. A random token rather than a
  counter: a generation the backend lost (evicted, flushed) becomes a new token, never an old one.

On `simple` (one process's memory) both live in that process: `invalidate` from another process
reaches nothing. On `null` nothing is cached, so there is nothing to invalidate.

A probe that fails (the database is down) is treated like a failing query: logged once until it
succeeds again, its last good version kept (the views keep showing the entries made from it) and
the state marked stale, so that signals can say so.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import redis

from dashsignal.computations import Computation, Computations
from dashsignal.settings import CacheSettings

__all__ = ["PROBE_NAME", "Freshness", "FreshnessState"]

logger = logging.getLogger(__name__)

# The function a computation's module may define: its data's version.
PROBE_NAME = "data_version"
# Outside a request (a command, a job), what was read is reused for this long.
UNREQUESTED_SECONDS = 0.25
# A failing probe is tried again this often at most (sooner than version_check, if that is
# longer): the stale mark goes as soon as the database answers.
RETRY_SECONDS = 5.0
_STATE = "dashsignal_freshness"


@dataclass(frozen=True)
class FreshnessState:
    """What the keys of one request hold: the generation, and each probed computation's
    version; `stale` names the computations whose probe is failing in this process."""

    generation: str
    versions: Mapping[str, str]
    stale: frozenset[str] = frozenset()


class _Store(Protocol):
    def read(self, keys: Sequence[str]) -> list[str | None]: ...

    def write(self, key: str, value: str) -> None: ...

    def add(self, key: str, value: str) -> None:
        """Write `value` unless the key holds one already."""

    def first_generation(self) -> str:
        """The generation to start with where there is none."""


class _RedisStore:
    """One Redis for every host: MGET for the reads of a request, keys without expiry."""

    def __init__(self, url: str) -> None:
        self._client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=5)

    def read(self, keys: Sequence[str]) -> list[str | None]:
        values: list[Any] = self._client.mget(list(keys))  # type: ignore[assignment]
        return [value.decode("utf-8") if isinstance(value, bytes) else None for value in values]

    def write(self, key: str, value: str) -> None:
        self._client.set(key, value)

    def add(self, key: str, value: str) -> None:
        self._client.set(key, value, nx=True)

    def first_generation(self) -> str:
        return secrets.token_hex(8)  # Redis may have lost one: never an old token again


class _FileStore:
    """One folder for every worker of a host, apart from flask-caching's (which prunes its
    files above a threshold): each key a small file, replaced whole by a rename."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder

    def _path(self, key: str) -> Path:
        return self._folder / hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]

    def read(self, keys: Sequence[str]) -> list[str | None]:
        values: list[str | None] = []
        for key in keys:
            try:
                values.append(self._path(key).read_text(encoding="utf-8") or None)
            except FileNotFoundError:
                values.append(None)
        return values

    def write(self, key: str, value: str) -> None:
        with self._written(value) as temporary:
            Path(temporary).replace(self._path(key))

    def add(self, key: str, value: str) -> None:
        with self._written(value) as temporary, contextlib.suppress(FileExistsError):
            os.link(temporary, self._path(key))  # fails when another process was first

    def first_generation(self) -> str:
        return secrets.token_hex(8)  # the folder may have been emptied: never an old token

    @contextlib.contextmanager
    def _written(self, value: str) -> Iterator[str]:
        """A temporary file in the folder holding `value`, removed afterwards unless renamed."""
        self._folder.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=self._folder, prefix=".")
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
                stream.write(value)
            yield temporary
        finally:
            with contextlib.suppress(OSError):
                Path(temporary).unlink()


class _MemoryStore:
    """simple and null: this process only."""

    def __init__(self) -> None:
        self._values: dict[str, str] = {}
        self._lock = threading.Lock()

    def read(self, keys: Sequence[str]) -> list[str | None]:
        with self._lock:
            return [self._values.get(key) for key in keys]

    def write(self, key: str, value: str) -> None:
        with self._lock:
            self._values[key] = value

    def add(self, key: str, value: str) -> None:
        with self._lock:
            self._values.setdefault(key, value)

    def first_generation(self) -> str:
        # Nothing of this process's memory outlives it: the same keys in every process, as
        # before generations existed.
        return "0"


def _store(settings: CacheSettings) -> _Store:
    if settings.backend == "redis":
        return _RedisStore(settings.redis_url)
    if settings.backend == "filesystem":
        return _FileStore(settings.cache_dir / "freshness")
    return _MemoryStore()


@dataclass
class _Probe:
    """One computation's probe in this process."""

    computation: Computation
    # When it last ran (time.monotonic), what it found (a digest) and when (time.time).
    checked_at: float = float("-inf")
    token: str | None = None
    probed_at: float = 0.0
    failing: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class Freshness:
    """The generation and the probed versions of one dashboard, as every key holds them.
    `usable` and `failed` are the cache's outage tracker: while the backend is failing it is
    not asked, and the keys stay as they were."""

    def __init__(
        self,
        settings: CacheSettings,
        computations: Computations,
        *,
        usable: Callable[[], bool] = lambda: True,
        failed: Callable[[Exception], None] = lambda error: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._store = _store(settings)
        self._usable = usable
        self._failed = failed
        self._clock = clock
        prefix = f"dashsignal:{settings.app_name}:{settings.spec_version}"
        self._generation_key = f"{prefix}:generation"
        self._version_keys = {name: f"{prefix}:version:{name}" for name in computations}
        self._probes = {
            name: _Probe(computation)
            for name, computation in computations.items()
            if not computation.live and callable(getattr(computation.module, PROBE_NAME, None))
        }
        self._computations = computations
        # What this process read last: used while the backend is failing, and outside requests.
        self._last = FreshnessState(generation="none", versions={})
        self._last_read = float("-inf")
        self._lock = threading.Lock()

    @property
    def probed(self) -> frozenset[str]:
        """The computations that have a probe."""
        return frozenset(self._probes)

    def key_part(self, name: str) -> str:
        """What the keys of computation `name` hold of the data's freshness: the version of
        each probed computation it derives from, and the generation."""
        state = self.state()
        versions = [
            f"{c.name}@{state.versions.get(c.name, 'unprobed')}"
            for c in self._computations.lineage(name)
            if c.name in self._probes
        ]
        return "~".join([*versions, f"g{state.generation}"])

    def stale(self, name: str) -> bool:
        """Whether a probe that `name` derives from is failing in this process."""
        lineage = {c.name for c in self._computations.lineage(name)}
        return bool(lineage & self.state().stale)

    def state(self) -> FreshnessState:
        """The freshness this request's keys hold: read once per request (flask.g), and at most
        every UNREQUESTED_SECONDS outside one."""
        from flask import g, has_request_context

        if has_request_context():
            kept = g.get(_STATE)
            if isinstance(kept, FreshnessState):
                return kept
            state = self._read()
            setattr(g, _STATE, state)
            return state
        with self._lock:
            if self._clock() - self._last_read < UNREQUESTED_SECONDS:
                return self._last
        return self._read()

    def invalidate(self) -> str:
        """A new generation for every key, from now on, for every process sharing the
        backend; returns it."""
        generation = secrets.token_hex(8)
        self._store.write(self._generation_key, generation)
        with self._lock:
            self._last_read = float("-inf")
        logger.info("cache invalidated: generation %s", generation)
        return generation

    def probe_now(self) -> bool:
        """Run every probe now (not waiting for version_check); True when a version changed."""
        before = dict(self.state().versions)
        for probe in self._probes.values():
            probe.checked_at = float("-inf")
        with self._lock:
            self._last_read = float("-inf")
        return dict(self._read().versions) != before

    def _read(self) -> FreshnessState:
        for probe in self._probes.values():
            self._probe(probe)
        if not self._usable():
            return self._with_stale(self._last)
        names = sorted(self._probes)
        keys = [self._generation_key, *(self._version_keys[name] for name in names)]
        try:
            generation, *published = self._store.read(keys)
            if generation is None:
                # First start, or the backend lost it: a token no entry was ever made under.
                self._store.add(self._generation_key, self._store.first_generation())
                (generation,) = self._store.read([self._generation_key])
            versions = {}
            for name, text in zip(names, published, strict=True):
                versions[name] = self._reconciled(name, self._probes[name], text)
        except (redis.RedisError, OSError) as error:
            self._failed(error)
            return self._with_stale(self._last)  # keys stay as they were until it answers
        state = self._with_stale(FreshnessState(generation or "none", versions))
        with self._lock:
            self._last, self._last_read = state, self._clock()
        return state

    def _with_stale(self, state: FreshnessState) -> FreshnessState:
        stale = frozenset(name for name, probe in self._probes.items() if probe.failing)
        return FreshnessState(state.generation, state.versions, stale)

    def _reconciled(self, name: str, probe: _Probe, published: str | None) -> str:
        """The version every process uses for `name`: the one published last, unless this
        process's probe found another one since (then it publishes it)."""
        token, probed_at = _parse(published)
        if probe.token is not None and (token is None or probe.probed_at > probed_at):
            if probe.token != token:
                self._store.write(
                    self._version_keys[name],
                    json.dumps({"token": probe.token, "probed_at": probe.probed_at}),
                )
            return probe.token
        return token if token is not None else "unprobed"

    def _probe(self, probe: _Probe) -> None:
        """Run `probe` if version_check seconds have passed since it last ran here."""
        interval = self.settings.version_check
        if probe.failing:
            interval = min(interval, RETRY_SECONDS)
        # Until a first probe has answered, every thread waits for it: no key is derived
        # without a version. After that, one thread runs it when due; the others go on with the
        # version it found last.
        first = probe.token is None and not probe.failing
        if not first and self._clock() - probe.checked_at < interval:
            return
        if not probe.lock.acquire(blocking=first):
            return
        if (probe.token is not None or probe.failing) and (
            self._clock() - probe.checked_at < interval
        ):
            probe.lock.release()  # another thread ran it while this one waited
            return
        try:
            probe.checked_at = self._clock()
            function = getattr(probe.computation.module, PROBE_NAME)
            try:
                value = function()
            except Exception as error:
                if not probe.failing:
                    logger.warning(
                        "%s: %s() failed (%s: %s); keeping the last version it reported, the "
                        "views show its data as stale until it answers again",
                        probe.computation.name,
                        PROBE_NAME,
                        type(error).__name__,
                        error,
                    )
                probe.failing = True
                return
            if probe.failing:
                logger.warning("%s: %s() answers again", probe.computation.name, PROBE_NAME)
            probe.failing = False
            token = _digest(value)
            if token != probe.token:
                probe.token, probe.probed_at = token, time.time()
        finally:
            probe.lock.release()


def _parse(published: str | None) -> tuple[str | None, float]:
    if published is None:
        return None, 0.0
    try:
        data = json.loads(published)
        return str(data["token"]), float(data["probed_at"])
    except (ValueError, KeyError, TypeError):
        return None, 0.0  # damaged: as if absent, the next probe writes it again
