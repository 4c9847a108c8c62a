"""Session fixtures shared by several test modules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pg_helpers import PostgresCluster, postgres_bin


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The SQLAlchemy URL of a PostgreSQL cluster of this test session's own (one per xdist
    worker), started on first use and stopped at the end of the session."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        pytest.fail("these tests need PostgreSQL's initdb (apt-get install postgresql)")
    cluster = PostgresCluster(bin_dir)
    try:
        cluster.start()
        yield cluster.url
    finally:
        cluster.stop()
