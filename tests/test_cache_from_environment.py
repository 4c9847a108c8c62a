"""The cache backend is chosen when the app starts: a generated project's spec backend is the
default, and DASHSIGNAL_CACHE (with REDIS_URL, CACHE_DIR) overrides it without a regenerate.

Each case runs the generated project in a process of its own, with a real redis-server, and asks
its callback endpoint for one filter change; where the entry landed says which backend served it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from project_helpers import generate, make_spec
from runtime_helpers import running_redis

pytestmark = pytest.mark.e2e

# One filter change through the real endpoint; then what the app says it runs on.
CHANGE = """
import json
import app
from signaling.computations import SIGNALING
client = app.server.test_client()
body = {
    "output": "dashsignal-signal.data",
    "outputs": {"id": "dashsignal-signal", "property": "data"},
    "inputs": [
        {"id": "region", "property": "value", "value": "North"},
        {"id": "year", "property": "value", "value": [2020, 2023]},
    ],
    "changedPropIds": ["region.value"],
    "state": [],
}
response = client.post("/_dash-update-component", json=body)
print(json.dumps({"status": response.status_code, "backend": SIGNALING.settings.backend}))
"""


def run_app(project: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CHANGE],
        cwd=project,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def entries_on_disk(cache_dir: Path) -> list[Path]:
    data = cache_dir / "data"
    return [p for p in data.iterdir() if p.is_file()] if data.exists() else []


@pytest.mark.parametrize(
    ("declared", "chosen"), [("filesystem", "redis"), ("redis", "filesystem"), ("filesystem", None)]
)
def test_dashsignal_cache_overrides_the_spec_backend_when_the_app_starts(
    tmp_path: Path, declared: str, chosen: str | None
) -> None:
    project = generate(tmp_path / "shop", make_spec("shop", backend=declared))
    cache_dir = tmp_path / "cache"
    with running_redis(tmp_path / "redis") as server:
        env = {"REDIS_URL": server.url, "CACHE_DIR": str(cache_dir)}
        if chosen is not None:
            env["DASHSIGNAL_CACHE"] = chosen
        done = run_app(project, env)
        assert done.returncode == 0, done.stderr
        answer = json.loads(done.stdout.splitlines()[-1])
        with server.client() as client:
            in_redis = list(client.scan_iter("flask_cache_dashsignal:shop:*"))

    backend = chosen or declared
    assert answer == {"status": 200, "backend": backend}
    assert bool(in_redis) == (backend == "redis"), in_redis
    assert bool(entries_on_disk(cache_dir)) == (backend == "filesystem")


def test_an_unknown_dashsignal_cache_stops_the_app_with_one_line(tmp_path: Path) -> None:
    project = generate(tmp_path / "shop", make_spec("shop"))
    done = run_app(project, {"DASHSIGNAL_CACHE": "memcached", "CACHE_DIR": str(tmp_path)})
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last == (
        "dashsignal.settings.InvalidSettings: DASHSIGNAL_CACHE='memcached' is not a cache "
        "backend: one of filesystem, redis, simple, null"
    )
