"""What signing in costs a request: the gate of dashsignal.auth, in one process.

A small dashboard (one filter, a query that returns 20 rows, one view) is built from the runtime
four times: without users (the gate is not installed), with `basic` auth (HTTP Basic against a
users file of werkzeug scrypt hashes), with `proxy` auth (a trusted proxy's header) and with a
`session` scope (a signed session cookie, no users). Each answers `--requests` GETs of
`/_dash-dependencies` through Flask's test client, the cheapest request the renderer sends, so
that the gate's share is as large as it can be; reported is the median time per request, and for
`basic` also the first request of each user (the scrypt check a new sign-in costs) against the
ones after it (the verified sign-in remembered for SIGN_IN_SECONDS). Nothing is asserted.

    python benchmarks/bench_auth.py [--requests N]
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

import pandas as pd
from dash import Dash, html

from dashsignal import QUERY, CacheSettings, Computation, Computations, Filter, Filters, Signaling
from dashsignal.auth import SECRET_ENV, BasicAuth, ProxyAuth
from dashsignal.users import add_user

FILTERS = Filters(Filter("year", "range", "Year", min=2020, max=2024, step=1, default=[2020, 2024]))


def build(folder: Path, auth: Any, scope: str) -> Any:
    data = types.ModuleType("bench_data")
    data.expensive_query = lambda filters, *subject: pd.DataFrame({"n": range(20)})
    settings = CacheSettings("bench", "1", cache_dir=folder / "cache")
    signaling = Signaling(
        settings,
        FILTERS,
        Computations(Computation(QUERY, data, "expensive_query", scope=scope)),
        auth=auth,
    )
    app = Dash(__name__)
    app.layout = html.Div()
    signaling.init_app(app)
    return app.server.test_client()


def per_request(client: Any, requests: int, headers: dict[str, str]) -> float:
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        response = client.get("/_dash-dependencies", headers=headers)
        times.append(time.perf_counter() - start)
        assert response.status_code == 200, response.status_code
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    arguments = parser.parse_args()
    os.environ[SECRET_ENV] = "b" * 64
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        users = folder / "users.toml"
        add_user(users, "alice", "alice-password", {"region": "North"})
        token = base64.b64encode(b"alice:alice-password").decode()
        rows = []
        cases = [
            ("no users (no gate)", None, "shared", {}),
            (
                "basic, remembered sign-in",
                BasicAuth(users),
                "user",
                {"Authorization": f"Basic {token}"},
            ),
            ("proxy header", ProxyAuth(), "user", {"X-Forwarded-User": "alice"}),
            ("session scope (cookie)", None, "session", {}),
        ]
        for name, auth, scope, headers in cases:
            client = build(folder / name.split()[0], auth, scope)
            per_request(client, 20, headers)  # warm-up, first sign-in included
            rows.append((name, per_request(client, arguments.requests, headers)))
        # What a new sign-in costs: the scrypt check, once per user and process.
        cold = []
        for attempt in range(10):
            auth = BasicAuth(users)
            client = build(folder / f"cold{attempt}", auth, "user")
            start = time.perf_counter()
            client.get("/_dash-dependencies", headers={"Authorization": f"Basic {token}"})
            cold.append((time.perf_counter() - start) * 1000)
    print(
        f"Python {sys.version.split()[0]}, {arguments.requests} GETs of /_dash-dependencies each\n"
    )
    print("| gate | median per request (ms) | over no users (ms) |")
    print("| --- | ---: | ---: |")
    base = rows[0][1]
    for name, median in rows:
        print(f"| {name} | {median:.3f} | {median - base:+.3f} |")
    print(f"| basic, a new sign-in (scrypt check) | {statistics.median(cold):.1f} | |")


if __name__ == "__main__":
    main()
