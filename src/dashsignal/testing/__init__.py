"""dashsignal's pytest plugin: the fixtures a generated project's tests use.

Installed with dashsignal, it is loaded by every pytest run (the pytest11 entry point), and
imports nothing heavy until a fixture is used: a project's tests get

- `dash_app`: the app exactly as the project builds it (module:attribute from the ini option
  `dashsignal_app`, "app:app" by default), on a cache directory of its own (and a Redis of its
  own when the app's backend is redis, with a Celery worker when its jobs run in the
  background);
- `signaling`: the app's `dashsignal.Signaling`; `views`: its views by id, with their kind;
- `endpoint`: a `DashEndpoint`, the app's callbacks called over HTTP as the renderer calls them,
  on an empty cache;
- `computations`: a `ComputationLog` of every run of every computation during the test (from
  any process), with the demo delays off; `query_calls`: the filters of each query run;
  `query_log`: the file they are recorded in; `counted_functions`: what is counted (override it
  to count more, a live view's fetch say);
- `page`: the app open in Chrome, every view drawn (a `Page`), in one browser and server for the
  session (`dashsignal_browser`, dash[testing]'s `DashComposite`), and `change_filter`, which
  changes a filter the way a user does;
- `redis_url`: REDIS_URL, or a throwaway redis-server;
- Chrome's options for dash[testing] (the `pytest_setup_options` hook).
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import secrets
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest

if TYPE_CHECKING:
    from dash import Dash

    from dashsignal.auth import User
    from dashsignal.signaling import Signaling
    from dashsignal.testing.browser import Page
    from dashsignal.testing.counting import ComputationLog, Counted, QueryCalls
    from dashsignal.testing.endpoint import DashEndpoint

__all__ = [
    "VIEWPORT",
    "CallbackResult",
    "ComputationLog",
    "Counted",
    "DashEndpoint",
    "Page",
    "Pending",
    "Prop",
    "QueryCalls",
    "change_filter",
    "click_an_option",
    "computations",
    "counted_functions",
    "dash_app",
    "dashsignal_browser",
    "dashsignal_celery_worker",
    "dashsignal_user",
    "endpoint_fixture",
    "filter_props",
    "free_port",
    "holds",
    "page",
    "pick_in_dropdown",
    "query_calls",
    "query_log",
    "redis_url",
    "signaling",
    "step_a_slider_handle",
    "type_a_date",
    "views",
]

# Where each helper class and function lives: loaded on first use.
_EXPORTS = {
    "CallbackResult": "dashsignal.testing.endpoint",
    "DashEndpoint": "dashsignal.testing.endpoint",
    "Pending": "dashsignal.testing.endpoint",
    "Prop": "dashsignal.testing.endpoint",
    "filter_props": "dashsignal.testing.endpoint",
    "ComputationLog": "dashsignal.testing.counting",
    "Counted": "dashsignal.testing.counting",
    "QueryCalls": "dashsignal.testing.counting",
    "free_port": "dashsignal.testing.services",
    "VIEWPORT": "dashsignal.testing.browser",
    "Page": "dashsignal.testing.browser",
    "change_filter": "dashsignal.testing.browser",
    "click_an_option": "dashsignal.testing.browser",
    "holds": "dashsignal.testing.browser",
    "pick_in_dropdown": "dashsignal.testing.browser",
    "step_a_slider_handle": "dashsignal.testing.browser",
    "type_a_date": "dashsignal.testing.browser",
}

if TYPE_CHECKING:
    from dashsignal.testing.browser import (
        VIEWPORT,
        change_filter,
        click_an_option,
        holds,
        pick_in_dropdown,
        step_a_slider_handle,
        type_a_date,
    )
    from dashsignal.testing.endpoint import CallbackResult, Pending, Prop, filter_props
    from dashsignal.testing.services import free_port


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dashsignal.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def pytest_addoption(parser: pytest.Parser) -> None:
    """The ini option `dashsignal_app`: where the project's Dash app is."""
    parser.addini(
        "dashsignal_app",
        "the project's Dash app for dashsignal's fixtures, as module:attribute",
        default="app:app",
    )
    parser.addini(
        "dashsignal_user",
        "the user the fixtures sign in as, for an app with [app] auth: NAME [ATTRIBUTE=VALUE]...",
        default="tester",
    )


# --- the app -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def dash_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Dash]:
    """The app exactly as the project builds it, on a cache directory of its own (CACHE_DIR),
    and on a Redis of its own when its backend is redis (REDIS_URL, see `redis_url`: set
    before the runtime first reads the environment, through dashsignal.settings'
    ENVIRONMENT_PREPARERS), with a Celery worker when its jobs run in the background there.
    The environment stays so until the session ends."""
    from dashsignal.auth import SECRET_ENV, USERS_ENV
    from dashsignal.settings import ENVIRONMENT_PREPARERS, CacheSettings
    from dashsignal.testing.loading import imported, load_app, signaling_of
    from dashsignal.testing.signin import write_test_users

    spec = str(request.config.getini("dashsignal_app"))
    if imported(spec):
        pytest.fail(
            f"the app's module ({spec}) was imported before the dash_app fixture ran, so it does "
            "not run on a private cache: import it in tests through the fixture only",
            pytrace=False,
        )
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        # An app with users: a secret and (basic) a users file of the session's own.
        if not os.environ.get(SECRET_ENV):
            environment.setenv(SECRET_ENV, secrets.token_hex(32))
        users = tmp_path_factory.mktemp("users") / "users.toml"
        write_test_users(users, request.getfixturevalue("dashsignal_user"))
        environment.setenv(USERS_ENV, str(users))

        def prepare(settings: CacheSettings) -> None:
            # A Redis of the session's own, before anything reads REDIS_URL (the Celery app an
            # app.py names before create_app does too).
            if (os.environ.get("DASHSIGNAL_CACHE") or settings.backend) == "redis":
                environment.setenv("REDIS_URL", request.getfixturevalue("redis_url"))

        ENVIRONMENT_PREPARERS.append(prepare)
        try:
            app = load_app(spec)
        finally:
            ENVIRONMENT_PREPARERS.remove(prepare)
        settings = signaling_of(app).settings
        if settings.backend == "redis" and settings.background:
            request.getfixturevalue("dashsignal_celery_worker")
        yield app
        # Celery's handles of the jobs sent unsubscribe from Redis when collected: collect them
        # now, while the session's Redis still answers.
        gc.collect()


@pytest.fixture(scope="session")
def dashsignal_user(request: pytest.FixtureRequest) -> User:
    """The user the fixtures sign in as, when the app has users (ini option dashsignal_user)."""
    from dashsignal.testing.signin import test_user

    return test_user(str(request.config.getini("dashsignal_user")))


@pytest.fixture(scope="session")
def signaling(dash_app: Dash) -> Signaling:
    """The app's dashsignal.Signaling: its filters, computations, signals, settings and cache."""
    from dashsignal.testing.loading import signaling_of

    return signaling_of(dash_app)


@pytest.fixture(scope="session")
def views(dash_app: Dash, signaling: Signaling) -> dict[str, str]:
    """Every view of the page by id, with its kind: graph, table or indicator (each component
    a callback draws a figure, rows or a text into, besides the signal stores)."""
    from dashsignal.testing.loading import views_of

    return views_of(dash_app, signaling)


# Named apart from the submodule dashsignal.testing.endpoint, which importing would put in its
# place in this module's namespace (before pytest reads the plugin, that hid the fixture).
@pytest.fixture(name="endpoint")
def endpoint_fixture(dash_app: Dash, signaling: Signaling, dashsignal_user: User) -> DashEndpoint:
    """The app's callback endpoint, with an empty cache."""
    from dashsignal.testing.endpoint import DashEndpoint
    from dashsignal.testing.signin import sign_in_headers, to_environ

    with dash_app.server.app_context():
        signaling.data.clear()
    client = dash_app.server.test_client()
    client.environ_base.update(to_environ(sign_in_headers(signaling.access, dashsignal_user)))
    return DashEndpoint(client, signaling)


# --- counting computations -------------------------------------------------------------------


@pytest.fixture(scope="session")
def query_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One file that every process appends the computations it runs to."""
    return tmp_path_factory.mktemp("queries") / "queries.jsonl"


@pytest.fixture(scope="session")
def counted_functions(signaling: Signaling) -> list[Counted]:
    """The functions `computations` counts: every computation's (a live view's fetch too),
    under its name. Override it to count more functions: `[*counted_computations(
    signaling.computations), Counted("export", reports, "export_csv")]`."""
    from dashsignal.testing.counting import counted_computations

    return counted_computations(signaling.computations)


@pytest.fixture
def computations(
    monkeypatch: pytest.MonkeyPatch, query_log: Path, counted_functions: list[Counted]
) -> ComputationLog:
    """Every run of every computation during the test (from any process); no demo delays."""
    from dashsignal.testing.counting import ComputationLog, count_runs

    log = ComputationLog(query_log)
    log.clear()
    count_runs(log, counted_functions, monkeypatch.setattr)
    return log


@pytest.fixture
def query_calls(computations: ComputationLog) -> QueryCalls:
    """Every run of the query (the project's data.expensive_query) during the test, with its
    filters."""
    from dashsignal.computations import QUERY
    from dashsignal.testing.counting import QueryCalls

    return QueryCalls(computations, QUERY)


# --- servers -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """REDIS_URL if set, else a throwaway redis-server on a free local port (skips the tests
    that need it where there is none)."""
    from dashsignal.testing.services import ServiceUnavailable, redis_server

    if url := os.environ.get("REDIS_URL"):
        yield url
        return
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(redis_server())
        except ServiceUnavailable as error:
            pytest.skip(str(error))
        yield url


@pytest.fixture(scope="session")
def dashsignal_celery_worker(
    request: pytest.FixtureRequest, redis_url: str, query_log: Path
) -> Iterator[None]:
    """A real Celery worker for the app's background jobs, counting into the query log (started
    by `dash_app` when the app's jobs run in the background on Redis)."""
    from dashsignal.testing.services import celery_worker

    spec = str(request.config.getini("dashsignal_app"))
    env = {"REDIS_URL": redis_url, "QUERY_LOG": str(query_log)}
    env |= {name: os.environ[name] for name in ("CACHE_DIR",) if name in os.environ}
    with celery_worker(spec, request.config.rootpath, env):
        yield


# --- the browser ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def dashsignal_browser(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, dash_app: Dash
) -> Iterator[Any]:
    """Chrome and the app's server (dash[testing]'s `DashComposite` over a `ThreadedRunner`,
    what `dash_duo` is made of), started once for the session: each `page` opens the app anew
    in them. Starting Chrome and the server for every test cost about 3 s a test."""
    if shutil.which("chromedriver") is None:
        pytest.skip("no chromedriver on PATH: install Chrome or Chromium and its chromedriver")
    from dash.testing.application_runners import ThreadedRunner
    from dash.testing.composite import DashComposite

    from dashsignal.testing.loading import signaling_of
    from dashsignal.testing.services import free_port
    from dashsignal.testing.signin import sign_in_headers

    option = request.config.getoption
    # dash.testing carries no annotations: its classes are called as Any.
    with (
        cast(Any, ThreadedRunner)() as server,
        cast(Any, DashComposite)(
            server=server,
            browser=option("webdriver"),
            remote=option("remote"),
            remote_url=option("remote_url"),
            headless=option("headless"),
            options=request.config.hook.pytest_setup_options(),
            download_path=str(tmp_path_factory.mktemp("download")),
            percy_assets_root=option("percy_assets"),
            percy_finalize=option("nopercyfinalize"),
            pause=option("pause"),
        ) as duo,
    ):
        duo.start_server(dash_app, navigate=False, port=free_port())
        headers = sign_in_headers(
            signaling_of(dash_app).access, request.getfixturevalue("dashsignal_user")
        )
        if headers:
            # Every request the page makes, its callbacks' included, carries them.
            duo.driver.execute_cdp_cmd("Network.enable", {})
            duo.driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": headers})
        yield duo


@pytest.fixture
def page(
    dashsignal_browser: Any,
    dash_app: Dash,
    signaling: Signaling,
    views: dict[str, str],
    computations: ComputationLog,
) -> Iterator[Page]:
    """The real app on an empty cache, open in Chrome (skipped without a chromedriver on PATH),
    every view drawn from the default filters. The browser is the session's; the page is new."""
    from dashsignal.testing.browser import VIEWPORT, Page

    duo = dashsignal_browser
    with dash_app.server.app_context():
        signaling.data.clear()
    opened = Page(duo, signaling, views)
    opened.use_viewport(*VIEWPORT)
    duo.reset_log_timestamp()  # console errors of earlier tests are theirs
    duo.server_url = duo.server.url  # navigates, and waits for the renderer
    opened.wait_until_drawn()
    yield opened
    # Leave nothing running into the next test's counts: let the page settle, then close it.
    with contextlib.suppress(Exception):
        opened.wait(opened.idle, "the page did not settle")
    duo.driver.get("about:blank")


@pytest.hookimpl(optionalhook=True)
def pytest_setup_options() -> Any:
    """Chrome's options for dash[testing]'s browser fixtures: no calls to Google's update, sync
    and first-run services, and headless where there is no screen to show it on."""
    from selenium.webdriver.chrome.options import Options

    options: Any = Options()  # selenium's options carry no annotations
    for flag in (
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ):
        options.add_argument(flag)
    if sys.platform == "linux" and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        options.add_argument("--headless")
    return options
