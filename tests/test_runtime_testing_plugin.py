"""The pytest plugin dashsignal.testing, as a generated project's tests use it: a small project
built by hand on the runtime (an app.py with one filter, the query signalled in a store and one
indicator), whose own tests use the plugin's fixtures, run by a real pytest in a subprocess.

Its tests pass where the app does what they say, and fail where it does not (a test that
expects the query to run twice fails): the fixtures are live, not stubs. The plugin itself
loads without Dash or pandas, so that pytest runs of projects without the runtime stay cheap.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# Slow (a project's pytest in a subprocess, and Chrome): `pytest -m "not e2e"` leaves them out.
pytestmark = pytest.mark.e2e

DATA = '''
"""The query: a region's total, 10 for the North and 20 for the South."""

import time

import pandas as pd

DATA_VERSION = "1"
DEMO_DELAY_SECONDS = 1.0
AMOUNTS = {"North": 10, "South": 20}


def expensive_query(filters):
    time.sleep(DEMO_DELAY_SECONDS)
    regions = list(AMOUNTS) if filters["region"] is None else [filters["region"]]
    return pd.DataFrame({"region": regions, "amount": [AMOUNTS[r] for r in regions]})
'''

APP = '''
"""One filter, the query signalled in a store, one indicator showing its total."""

import os

from dash import Dash, Input, Output, dcc, html

import data
from dashsignal import CacheSettings, Computation, Computations, Filter, Filters, Signaling

# The compute step as a background job (in a child process, or on Celery with Redis).
BACKGROUND = os.environ.get("T_BACKGROUND") == "1"
FILTERS = Filters(Filter("region", "dropdown", "Region", options=("North", "South")))
SIGNALING = Signaling(
    CacheSettings(app_name="t", spec_version="1", backend="filesystem", background=BACKGROUND),
    FILTERS,
    Computations(Computation("query", data, "expensive_query", version_name="DATA_VERSION")),
    signals={"query": "dashsignal-signal"},
)
if BACKGROUND:
    # As a generated project does (celery -A app:celery_app worker): before create_app runs.
    celery_app = SIGNALING.celery_app


def create_app():
    app = Dash(__name__)
    SIGNALING.init_app(app)
    app.layout = html.Div(
        [FILTERS["region"].control(), dcc.Store(id="dashsignal-signal"), html.Div(id="total")]
    )

    jobs = {"background": True, "manager": SIGNALING.background_manager()} if BACKGROUND else {}

    @app.callback(
        Output("dashsignal-signal", "data"), inputs={"filters": FILTERS.inputs()}, **jobs
    )
    def compute(filters):
        return SIGNALING.signal("query", filters)

    @app.callback(Output("total", "children"), Input("dashsignal-signal", "data"))
    def total(signal):
        frame = SIGNALING.result_for("query", signal)
        return "-" if frame is None else str(int(frame["amount"].sum()))

    return app


app = create_app()
server = app.server
'''

PYPROJECT = """
[tool.pytest.ini_options]
pythonpath = ["."]
{extra}
"""

# The project's own tests, on the plugin's fixtures only.
PASSING = """
import data
from dashsignal import Signaling


def test_a_filter_change_runs_the_query_once_and_updates_the_total(
    endpoint, computations, query_calls
):
    results = endpoint.change({"region": "North"})
    assert results["total"].value("total", "children") == "10"
    assert results["dashsignal-signal"].value("dashsignal-signal", "data") == {
        "filters": {"region": "North"}
    }
    assert query_calls == [{"region": "North"}]
    assert computations.counts() == {"query": 1}
    # The same state again is read from the cache.
    assert endpoint.change({"region": "North"})["total"].value("total", "children") == "10"
    assert len(query_calls) == 1


def test_every_test_starts_on_an_empty_cache_and_an_empty_count(endpoint, query_calls):
    assert query_calls == []
    endpoint.change({"region": "North"})
    assert query_calls == [{"region": "North"}]


def test_an_undeclared_value_runs_nothing(endpoint, computations):
    assert endpoint.compute({"region": "West"}).status == 204
    assert endpoint.change({"region": 1})["dashsignal-signal"].status == 204
    assert computations.runs() == []


def test_a_view_reads_the_signal_it_is_given(endpoint, query_calls):
    result = endpoint.consume("total", {"filters": {"region": None}})
    assert result.value("total", "children") == "30"
    assert query_calls == [{"region": None}]
    assert endpoint.consume("total", None).value("total", "children") == "-"


def test_the_demo_delay_is_off_while_counting(computations):
    assert data.DEMO_DELAY_SECONDS == 0


def test_signaling_is_the_apps_and_its_cache_is_private(
    dash_app, signaling, views, tmp_path_factory
):
    assert isinstance(signaling, Signaling)
    assert dash_app.server.extensions["dashsignal"] is signaling
    assert list(signaling.filters) == ["region"]
    assert signaling.signals == {"query": "dashsignal-signal"}
    assert views == {"total": "indicator"}
    assert signaling.settings.backend == "{backend}"
    assert signaling.settings.cache_dir.is_relative_to(tmp_path_factory.getbasetemp())
"""

BACKGROUND_TESTS = """
def test_the_compute_step_runs_as_a_job_and_is_counted(endpoint, signaling, query_calls):
    assert signaling.settings.background
    pending = [endpoint.start_compute({"region": "South"}) for _ in range(2)]
    assert all(request.handles for request in pending)
    assert [endpoint.finish(request).status for request in pending] == [200, 200]
    assert query_calls == [{"region": "South"}]
"""

# On Redis, with its jobs on a Celery worker that the plugin starts.
REDIS_TESTS = """
def test_the_app_runs_on_a_redis_of_its_own(signaling, redis_url):
    assert signaling.settings.backend == "redis"
    assert signaling.settings.redis_url == redis_url
    assert not redis_url.startswith("redis://127.0.0.1:6379/")


def test_a_celery_app_made_before_create_app_sends_its_jobs_to_the_session_redis(
    dash_app, redis_url
):
    import app

    assert app.celery_app.conf.broker_url == redis_url
    assert app.celery_app.conf.result_backend == redis_url
"""

FAILING = """
def test_expects_two_runs(endpoint, query_calls):
    endpoint.change({"region": "South"})
    assert len(query_calls) == 2


def test_expects_another_total(endpoint, computations):
    assert endpoint.change({"region": "South"})["total"].value("total", "children") == "10"
"""

BROWSER = """
from dashsignal.testing import change_filter


def test_a_filter_changed_in_the_page_redraws_the_view(page, signaling, query_calls):
    assert page.view_problems() == []
    assert page.duo.find_element("#total").text == "30"
    assert page.signal() == {"filters": {"region": None}}
    region = signaling.filters["region"]
    page.record_callbacks()

    value = change_filter(page, region, page.filter_value(region))

    assert value == "North"
    page.wait(lambda: page.duo.find_element("#total").text == "10", "the total was not redrawn")
    page.wait(page.idle, "the page did not settle")
    assert page.filter_values() == {"region": "North"}
    assert page.signal() == {"filters": {"region": "North"}}
    assert query_calls == [{"region": None}, {"region": "North"}]
    answers = [call["response"] for call in page.answered_calls()]
    assert {"total": {"children": "10"}} in answers
    assert page.console_errors() == []
"""


def make_project(
    root: Path, tests: dict[str, str], *, module: str = "app", extra: str = ""
) -> Path:
    """A project in `root`: data.py, the app in `module`.py, and `tests` (by file name)."""
    (root / "tests").mkdir(parents=True)
    (root / "data.py").write_text(textwrap.dedent(DATA))
    (root / f"{module}.py").write_text(textwrap.dedent(APP))
    (root / "pyproject.toml").write_text(PYPROJECT.format(extra=extra))
    for name, text in tests.items():
        (root / "tests" / name).write_text(textwrap.dedent(text))
    return root


def run_pytest(
    project: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {
        name: value
        for name, value in os.environ.items()
        if name not in ("REDIS_URL", "CACHE_DIR", "DASHSIGNAL_CACHE", "PYTEST_ADDOPTS")
    }
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=project,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_importing_the_plugin_imports_neither_dash_nor_pandas() -> None:
    heavy = ("dash", "flask", "pandas", "numpy", "plotly", "selenium")
    code = (
        "import sys, dashsignal.testing\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


def test_a_projects_tests_pass_on_the_plugins_fixtures(tmp_path: Path) -> None:
    # Its app is in dashboard.py, which the ini option says (the other projects: app.py).
    tests = {"test_signaling.py": PASSING.replace("{backend}", "filesystem")}
    extra = 'dashsignal_app = "dashboard:app"'
    project = make_project(tmp_path / "project", tests, module="dashboard", extra=extra)

    result = run_pytest(project, f"--basetemp={tmp_path / 'basetemp'}")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 passed" in result.stdout


def test_the_fixtures_are_live_a_wrong_expectation_fails(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", {"test_wrong.py": FAILING})

    result = run_pytest(project)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "2 failed" in result.stdout
    assert "assert 1 == 2" in result.stdout
    assert "assert '20' == '10'" in result.stdout


def test_an_app_imported_before_the_fixture_is_refused(tmp_path: Path) -> None:
    early = "import app\n\n\ndef test_early(endpoint):\n    pass\n"
    project = make_project(tmp_path / "project", {"test_early.py": early})

    result = run_pytest(project)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "was imported before the dash_app fixture ran" in result.stdout


@pytest.mark.parametrize("backend", ["filesystem", "redis"])
def test_background_jobs_are_counted_from_their_own_process(tmp_path: Path, backend: str) -> None:
    if backend == "redis" and shutil.which("redis-server") is None:
        pytest.skip("no redis-server on PATH")
    tests = {"test_signaling.py": PASSING.replace("{backend}", backend)}
    tests["test_background.py"] = BACKGROUND_TESTS
    if backend == "redis":
        tests["test_redis.py"] = REDIS_TESTS
    project = make_project(tmp_path / "project", tests)

    env = {"T_BACKGROUND": "1", "DASHSIGNAL_CACHE": backend}
    result = run_pytest(project, f"--basetemp={tmp_path / 'b'}", env=env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{9 if backend == 'redis' else 7} passed" in result.stdout


@pytest.mark.skipif(shutil.which("chromedriver") is None, reason="no chromedriver on PATH")
def test_the_page_helpers_change_a_filter_in_chrome(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", {"test_browser.py": BROWSER})

    result = run_pytest(project, "--headless", "-rs")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
