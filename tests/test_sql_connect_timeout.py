"""A PostgreSQL server that accepts the connection and never answers (a stuck server, a proxy
whose database is gone): `Database(timeout=...)` must give up within its timeout, as it does for
a slow statement, so that the views show their error state instead of the worker being killed.

The engine sets `statement_timeout` once connected, and gives libpq a `connect_timeout` of half
the timeout (at least 2 s) for getting there; without it the attempt waited forever.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from dashsignal.sql import Database

TIMEOUT = 2.0
# How long the test waits for the read to give up: the timeout and a margin.
WAIT = TIMEOUT + 6.0


@pytest.fixture
def silent_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """A port on 127.0.0.1 whose kernel completes the TCP handshake (the listen backlog) and
    where nothing ever reads or answers. Closed at the end, which resets what waits on it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    port = int(server.getsockname()[1])
    monkeypatch.setenv("DATABASE_URL", f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres")
    try:
        yield port
    finally:
        server.close()


def test_a_server_that_never_answers_fails_the_read_within_the_timeout(
    silent_server: int,
) -> None:
    database = Database("sqlite:///unused.db", timeout=TIMEOUT)
    outcome: list[BaseException | str] = []

    def read() -> None:
        try:
            database.read("SELECT 1")
            outcome.append("returned")
        except BaseException as error:  # noqa: BLE001 - reported below
            outcome.append(error)

    started = time.monotonic()
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(WAIT)
    waited = time.monotonic() - started
    try:
        assert not reader.is_alive(), f"the read still waits after {waited:.1f} s"
        [error] = outcome
        assert isinstance(error, sa.exc.OperationalError), error
        assert waited < WAIT
    finally:
        database.dispose()
