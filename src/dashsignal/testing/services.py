"""The servers a test session may need besides the app: a throwaway Redis, a Celery worker."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

__all__ = ["free_port", "redis_server", "celery_worker"]

# Longest wait for a server to answer after it started.
REDIS_START_SECONDS = 10
CELERY_START_SECONDS = 60


class ServiceUnavailable(RuntimeError):
    """A server the tests need cannot be started here."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def redis_server() -> Iterator[str]:
    """A throwaway redis-server on a free local port, without persistence: its URL."""
    server = shutil.which("redis-server")
    if server is None:
        raise ServiceUnavailable(
            "the redis backend needs a Redis server: set REDIS_URL or install redis-server"
        )
    port = free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + REDIS_START_SECONDS
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise ServiceUnavailable("redis-server did not start") from None
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def celery_worker(app: str, project: Path, env: Mapping[str, str]) -> Iterator[None]:
    """A real Celery worker for the app's background jobs (`python -m
    dashsignal.testing.celery_worker`), run in `project` with `env` (REDIS_URL and QUERY_LOG
    among it), until the block ends."""
    worker = subprocess.Popen(
        [sys.executable, "-m", "dashsignal.testing.celery_worker"],
        cwd=project,
        env={**os.environ, **env, "DASHSIGNAL_APP": app},
    )
    try:
        _wait_for_a_celery_worker(env["REDIS_URL"], worker)
        yield
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def _wait_for_a_celery_worker(redis_url: str, worker: subprocess.Popen[bytes]) -> None:
    # A job sent before a worker listens is seen by Dash as cancelled: wait for a ping reply.
    from celery import Celery

    probe = Celery(broker=redis_url)
    deadline = time.monotonic() + CELERY_START_SECONDS
    while not probe.control.ping(timeout=0.5):
        if worker.poll() is not None:
            raise ServiceUnavailable("the Celery worker exited")
        if time.monotonic() > deadline:
            raise ServiceUnavailable(f"no Celery worker answered within {CELERY_START_SECONDS} s")
