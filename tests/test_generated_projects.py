"""End to end: generated projects import, wire the callback graph of their spec, pass ruff and
their own tests, and serve the signaling pattern over real HTTP under gunicorn."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dashsignal_cli.names import SIGNAL_ID
from dashsignal_cli.spec import Spec
from dashsignal_cli.specfile import parse_spec_text

from project_helpers import expected_callback_graph, generate, make_spec

pytestmark = pytest.mark.e2e

ALL_FILTER_KINDS = (
    "region:dropdown",
    "channel:multi=Online,Retail,Partner",
    "segment:checklist",
    "year:radio=2023,2024,2025",
    "price:range=0.5..99.5",
    "period:dates=2025-01-01..2025-06-30",
)
ALL_VIEW_KINDS = ("sales:graph", "share:graph", "spread:graph", "rows:table", "total:indicator")

PROJECTS = {
    "demo-filesystem": make_spec(
        "demo",
        views=("sales:graph", "share:graph", "rows:table", "total:indicator"),
        filters=("region:dropdown", "product:multi", "year:range"),
    ),
    "every-kind-simple": make_spec(
        "every_kind", views=ALL_VIEW_KINDS, filters=ALL_FILTER_KINDS, backend="simple"
    ),
    "every-kind-redis": make_spec(
        "every_kind", views=ALL_VIEW_KINDS, filters=ALL_FILTER_KINDS, backend="redis"
    ),
    "null-cache": make_spec("nocache", backend="null", filters=("region:radio",)),
    "background-diskcache": make_spec("slow", background=True, backend="filesystem"),
    "background-celery": make_spec("slow", background=True, backend="redis"),
    # Every row of the seed's table at once: shared data, sequential stages (declared child
    # first), an independent computation and real-time updates.
    "chained-stages": parse_spec_text(
        """
        [app]
        name = "chained"
        [[filters]]
        id = "region"
        options = ["North", "South", "East"]
        [[filters]]
        id = "period"
        kind = "dates"
        min = 2024-01-01
        max = 2025-12-31
        [[stages]]
        id = "weekly"
        source = "daily"
        [[stages]]
        id = "daily"
        [[views]]
        id = "sales"
        [[views]]
        id = "by_region"
        source = "daily"
        [[views]]
        id = "weekly_rows"
        kind = "table"
        source = "weekly"
        [[views]]
        id = "weekly_total"
        kind = "indicator"
        source = "weekly"
        [[views]]
        id = "target"
        source = "own"
        [[views]]
        id = "ticker"
        kind = "indicator"
        source = "live"
        interval = 2
        """
    ),
    "memoize-redis": parse_spec_text(
        """
        [app]
        name = "memo"
        pattern = "memoize"
        [cache]
        backend = "redis"
        [[filters]]
        id = "channel"
        kind = "checklist"
        options = ["Online", "Retail"]
        [[filters]]
        id = "price"
        kind = "range"
        min = 0
        max = 100
        step = 5
        [[stages]]
        id = "daily"
        [[views]]
        id = "sales"
        [[views]]
        id = "share"
        [[views]]
        id = "daily_total"
        kind = "indicator"
        source = "daily"
        [[views]]
        id = "targets"
        kind = "table"
        source = "own"
        [[views]]
        id = "feed"
        source = "live"
        """
    ),
    # Users: basic auth, the query and an own view scoped to the user, a stage that inherits it,
    # a live view that is shared.
    "users-basic": parse_spec_text(
        """
        [app]
        name = "users"
        auth = "basic"
        scope = "user"
        [data]
        source = "duckdb"
        [[filters]]
        id = "region"
        options = ["North", "South", "East", "West"]
        [[filters]]
        id = "year"
        kind = "range"
        min = 2019
        max = 2025
        [[stages]]
        id = "daily"
        [[views]]
        id = "sales"
        [[views]]
        id = "rows"
        kind = "table"
        source = "daily"
        [[views]]
        id = "target"
        source = "own"
        [[views]]
        id = "ticker"
        kind = "indicator"
        source = "live"
        scope = "shared"
        """
    ),
    # Per-session data without users, in the memoize pattern on Redis.
    "sessions-memoize": parse_spec_text(
        """
        [app]
        name = "sessions"
        pattern = "memoize"
        scope = "session"
        [cache]
        backend = "redis"
        [[filters]]
        id = "product"
        kind = "multi"
        options = ["Basic", "Plus", "Pro"]
        [[views]]
        id = "sales"
        [[views]]
        id = "total"
        kind = "indicator"
        [[views]]
        id = "mine"
        source = "own"
        """
    ),
    "hostile-text": make_spec(
        "hostile",
        title='Q3 """ \'\' {{ 7*7 }} {% raw %} \\ é 数据 🚀\nsecond line',
        views=("a:graph", "b:table"),
        filters=('who:dropdown=O\'Brien,say "hi",{{ x }},\\n,日本',),
    ),
}


def run(args: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    # Fresh from the generator: the browser test also checks the demo's own view modules.
    env = {**os.environ, "DASHSIGNAL_DEMO_CHECKS": "1"}
    # A project with users or scopes refuses to start without a secret (its tests make their own).
    env.setdefault("DASHSIGNAL_SECRET_KEY", "generated-projects-" + "k" * 32)
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module", params=sorted(PROJECTS))
def project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = PROJECTS[request.param]
    return generate(tmp_path_factory.mktemp(request.param) / spec.app.name, spec)


def spec_of(project: Path) -> Spec:
    from dashsignal_cli.specfile import load_spec

    return load_spec(project / "dashsignal.toml")


def test_generated_code_passes_ruff(project: Path) -> None:
    ruff = [sys.executable, "-m", "ruff"]
    checked = run([*ruff, "check", "--no-cache", "."], project)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # Also with ruff's defaults only, ignoring the project's own stricter settings.
    default = run([*ruff, "check", "--no-cache", "--isolated", "."], project)
    assert default.returncode == 0, default.stdout + default.stderr


def test_demo_code_is_ruff_formatted(project: Path) -> None:
    if spec_of(project).app.name == "hostile":
        return  # long free text cannot keep within the line length; it is checked for syntax
    formatted = run([sys.executable, "-m", "ruff", "format", "--check", "--no-cache", "."], project)
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


IMPORT_APP = """
import json
import app
print(json.dumps({
    "server": type(app.server).__name__,
    "title": app.app.title,
    "callbacks": [
        {"output": key, "inputs": [[d["id"], d["property"]] for d in value["inputs"]]}
        for key, value in app.app.callback_map.items()
    ],
}))
"""


def test_app_imports_and_wires_the_callback_graph_of_its_spec(project: Path) -> None:
    spec = spec_of(project)
    imported = run([sys.executable, "-c", IMPORT_APP], project)
    assert imported.returncode == 0, imported.stderr
    graph = json.loads(imported.stdout.splitlines()[-1])
    assert graph["server"] == "Flask"
    assert graph["title"] == spec.app.title

    callbacks = {cb["output"]: sorted(cb["inputs"]) for cb in graph["callbacks"]}
    assert callbacks == expected_callback_graph(spec)


def test_generated_projects_own_tests_pass(project: Path) -> None:
    result = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs"], project)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in summary
    assert "skipped" not in summary, "a generated test was skipped: " + result.stdout[-2000:]
    # Third-party deprecations are filtered in the project's pytest settings: a user sees their own.
    assert "warning" not in summary, "warnings in the project's test run: " + result.stdout[-3000:]


# --- production form: gunicorn with several workers, real HTTP ---------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json"} if data else {}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        raw = response.read()
        if response.headers.get_content_type() == "application/json" and raw:
            return response.status, json.loads(raw)
        return response.status, raw


@pytest.fixture
def gunicorn_server(tmp_path: Path) -> Iterator[str]:
    spec = PROJECTS["demo-filesystem"]
    project = generate(tmp_path / spec.app.name, spec)
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent))
    assert gunicorn, "gunicorn must be installed beside this Python"
    port = free_port()
    process = subprocess.Popen(
        [gunicorn, "app:server", "-w", "3", "-b", f"127.0.0.1:{port}", "--timeout", "60"],
        cwd=project,
        env={"PATH": str(Path(sys.executable).parent), "CACHE_DIR": str(tmp_path / "cache")},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                http(url + "/")
                break
            except OSError:
                assert process.poll() is None, process.communicate()[0]
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_gunicorn_serves_the_page_and_the_callbacks(gunicorn_server: str) -> None:
    status, page = http(gunicorn_server + "/")
    assert status == 200 and b"_dash-renderer" in page or b"dash" in page
    _, callbacks = http(gunicorn_server + "/_dash-dependencies")
    compute = next(cb for cb in callbacks if cb["output"] == f"{SIGNAL_ID}.data")
    values = {"region": "North", "product": ["Pro", "Basic"], "year": [2020, 2023]}
    status, computed = http(
        gunicorn_server + "/_dash-update-component",
        {
            "output": compute["output"],
            "outputs": {"id": SIGNAL_ID, "property": "data"},
            "inputs": [{**dep, "value": values[dep["id"]]} for dep in compute["inputs"]],
            "changedPropIds": ["region.value"],
            "state": [],
        },
    )
    assert status == 200
    signal = computed["response"][SIGNAL_ID]["data"]
    assert signal == {
        "filters": {"region": "North", "product": ["Basic", "Pro"], "year": [2020, 2023]}
    }
    assert len(json.dumps(signal)) < 300
    status, total = http(
        gunicorn_server + "/_dash-update-component",
        {
            "output": "total.children",
            "outputs": {"id": "total", "property": "children"},
            "inputs": [{"id": SIGNAL_ID, "property": "data", "value": signal}],
            "changedPropIds": [f"{SIGNAL_ID}.data"],
            "state": [],
        },
    )
    assert status == 200
    assert re.fullmatch(r"\D{0,3}?[\d,]+(\.\d+)?\D{0,3}", total["response"]["total"]["children"])
