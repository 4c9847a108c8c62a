"""What a dashboard's cache is: the spec's choices, and what the environment overrides.

The backend is chosen when the app starts. dashsignal.toml's backend is the default written into
the project's settings; the environment variable DASHSIGNAL_CACHE (filesystem, redis, simple or
null) overrides it, with REDIS_URL and CACHE_DIR, so that a project developed on `filesystem`
runs on Redis in production without regenerating anything.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "BACKENDS",
    "DEFAULT_REDIS_URL",
    "ENVIRONMENT_PREPARERS",
    "CacheSettings",
    "InvalidSettings",
]

BACKENDS = ("filesystem", "redis", "simple", "null")
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


# Called with the declared settings whenever the environment is read for them, before it is read:
# dashsignal.testing adds one that gives a Redis app the test session's own REDIS_URL.
ENVIRONMENT_PREPARERS: list[Callable[[CacheSettings], None]] = []


class InvalidSettings(ValueError):
    """A setting from the environment that the runtime cannot use."""


@dataclass(frozen=True)
class CacheSettings:
    """The cache of one dashboard, as its wiring declares it (see dashsignal.toml's [cache])."""

    app_name: str
    # Changes whenever the declared filters change, so entries made for an older spec are never
    # read.
    spec_version: str
    backend: str = "filesystem"
    # Seconds a cached dataset is kept (0: until evicted).
    timeout: int = 300
    # Longest a request waits for another worker's computation of the same data; it then shows
    # "still computing" rather than wait on (below gunicorn's worker timeout).
    lock_timeout: int = 20
    # gunicorn's worker timeout (the project's gunicorn.conf.py): longer than any lock wait.
    worker_timeout: int = 30
    # At most this many new computations from the filters start a minute (0: no cap).
    new_per_minute: int = 240
    # Seconds between two runs of a computation's data_version() probe in each process: a
    # change of the data is in every key within this time (dashsignal.freshness).
    version_check: float = 30
    # The compute step runs as a Dash background job, outside the web workers.
    background: bool = False
    # One folder shared by every worker on this host (filesystem entries, locks, job slots).
    cache_dir: Path = Path(".cache")
    redis_url: str = DEFAULT_REDIS_URL
    # Refuse callback requests larger than this: a filter change sends a few kilobytes at most.
    max_request_bytes: int = 1024 * 1024
    # Redis entries larger than this are not cached (each reader computes them), so that no
    # filter state can fill the server's memory; the server's own maxmemory bounds the total.
    max_entry_bytes: int = 256 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise InvalidSettings(
                f"unknown cache backend {self.backend!r}: one of {', '.join(BACKENDS)}"
            )

    def from_environment(self, environ: Mapping[str, str] = os.environ) -> CacheSettings:
        """These settings with DASHSIGNAL_CACHE, REDIS_URL and CACHE_DIR applied."""
        for prepare in ENVIRONMENT_PREPARERS:
            prepare(self)
        backend = environ.get("DASHSIGNAL_CACHE") or self.backend
        if backend not in BACKENDS:
            raise InvalidSettings(
                f"DASHSIGNAL_CACHE={backend!r} is not a cache backend: one of {', '.join(BACKENDS)}"
            )
        cache_dir = environ.get("CACHE_DIR")
        return dataclasses.replace(
            self,
            backend=backend,
            cache_dir=Path(cache_dir) if cache_dir else self.cache_dir,
            redis_url=environ.get("REDIS_URL") or self.redis_url,
        )

    @property
    def shared(self) -> bool:
        """Whether every worker process reads the same entries (not so for simple and null)."""
        return self.backend in ("filesystem", "redis")
