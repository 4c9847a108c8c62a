"""Users and their data under `gunicorn -w 4`, over real HTTP, and in two real browsers.

A project made by `dashsignal new acme --auth basic --scope user --yes` (DuckDB, the demo's
rule: each user sees the rows of their `region` attribute), with two users in its users file,
served by four gunicorn workers. Its data.py is the generated one with a counter wrapped around
`expensive_query` (the real query still runs on the real DuckDB file), so every computation is
counted with the user it ran for, from every worker.

- A request without credentials, or with wrong ones, gets 401 on every path and runs nothing.
- A stampede of each user (20 sessions each, all at once, every view): one computation per user
  and state, and no response to one user holds a row, a region or a total of the other's.
- A signal copied from one user's page into the other's (replayed, or forged with a cache key,
  a user name, a scope) reads the second user's own data, never the first's.
- A proxy-authenticated project believes its header from the proxy's address only.
- Two headless Chromium sessions signed in as the two users each see their own rows.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import http.client
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from dashsignal_cli.specfile import parse_spec_text

from cli_helpers import run_cli
from test_production import (
    HOST,
    HTTP_TIMEOUT,
    App,
    Reply,
    all_at_once,
    callback_body,
    start_app,
    stop_process,
)

pytestmark = pytest.mark.e2e

SECRET = secrets.token_hex(32)
USERS = {"alice": ("North", "alice-pass-1"), "bob": ("South", "bob-pass-22")}
OTHER_REGIONS = {"alice": ("South", "East", "West"), "bob": ("North", "East", "West")}
SESSIONS_PER_USER = 20
# Wrapped around the generated expensive_query: one JSON line per run, from every worker.
COUNTING = """

import json as _json
import os as _os

_uncounted_expensive_query = expensive_query


def expensive_query(filters, user):
    run = {"user": user.id, "filters": filters, "pid": _os.getpid()}
    with open(_os.environ["DS_TEST_COUNTER"], "a", encoding="utf-8") as _counter:
        _counter.write(_json.dumps(run) + "\\n")
    return _uncounted_expensive_query(filters, user)
"""


def basic(user: str, password: str | None = None) -> dict[str, str]:
    secret = USERS[user][1] if password is None else password
    token = base64.b64encode(f"{user}:{secret}".encode()).decode("ascii")
    return {"Authorization": f"Basic {token}"}


@dataclass
class Served:
    project: Path
    app: App
    process: Any

    def as_user(self, user: str) -> App:
        """The same server, every request sent with `user`'s credentials."""
        return App(
            port=self.app.port,
            log=self.app.log,
            counter=self.app.counter,
            cache_dir=self.app.cache_dir,
            callbacks=self.app.callbacks,
            headers=basic(user),
        )

    def runs(self) -> list[dict[str, Any]]:
        text = self.app.counter.read_text() if self.app.counter.exists() else ""
        return [json.loads(line) for line in text.splitlines() if line]

    def runs_per_user(self, filters: dict[str, Any]) -> Counter[str]:
        return Counter(run["user"] for run in self.runs() if run["filters"] == filters)


def make_project(tmp: Path, *flags: str) -> Path:
    made = run_cli("new", "acme", *flags, "--yes", cwd=tmp)
    assert made.returncode == 0, made.stderr
    project = tmp / "acme"
    data = project / "data.py"
    text = data.read_text().replace("DEMO_DELAY_SECONDS = 0.4", "DEMO_DELAY_SECONDS = 0.3")
    data.write_text(text + COUNTING)
    return project


def add_users(project: Path) -> None:
    for name, (region, password) in USERS.items():
        added = subprocess.run(
            [sys.executable, "-m", "dashsignal.users", "add", "users.toml", name]
            + ["--attribute", f"region={region}", "--password-stdin"],
            input=password + "\n",
            cwd=project,
            capture_output=True,
            text=True,
            check=False,
        )
        assert added.returncode == 0, added.stderr


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("users")
    project = make_project(tmp, "--auth", "basic", "--scope", "user")
    add_users(project)
    spec = parse_spec_text((project / "dashsignal.toml").read_text())
    app, process = start_app(
        tmp,
        spec,
        existing=project,
        environ={"DASHSIGNAL_SECRET_KEY": SECRET},
        headers=basic("alice"),
    )
    try:
        yield Served(project, app, process)
    finally:
        stop_process(process)


def request(port: int, method: str, path: str, headers: dict[str, str], body: Any = None) -> Reply:
    connection = http.client.HTTPConnection(HOST, port, timeout=HTTP_TIMEOUT)
    try:
        raw = None if body is None else json.dumps(body).encode()
        sent = dict(headers) | ({"Content-Type": "application/json"} if raw else {})
        connection.request(method, path, body=raw, headers=sent)
        response = connection.getresponse()
        return Reply(response.status, response.read())
    finally:
        connection.close()


def demo_filters(year_low: int) -> dict[str, Any]:
    return {"region": None, "product": [], "year": [year_low, 2025]}


def expected_total(project: Path, region: str, filters: dict[str, Any]) -> float:
    """The user's total, read from the project's DuckDB file directly (not through the app)."""
    with duckdb.connect(str(project / "data" / "sales.duckdb"), read_only=True) as connection:
        (total,) = connection.execute(
            "SELECT coalesce(sum(amount), 0) FROM sales WHERE region = ? AND year BETWEEN ? AND ?",
            [region, *filters["year"]],
        ).fetchone() or (0,)
    return float(total)


def view_payloads(replies: list[tuple[dict[str, Any], Reply]]) -> dict[str, Any]:
    """Each view's answer, by view id."""
    payloads = {}
    for callback, reply in replies:
        assert reply.status == 200, reply.describe()
        view = callback["output"].split(".")[0].lstrip(".")
        payloads[view] = reply.json()["response"]
    return payloads


def foreign_hits(user: str, replies: list[tuple[dict[str, Any], Reply]]) -> list[str]:
    """The views whose answer to `user` names a region that is not theirs."""
    hits = []
    for callback, reply in replies:
        body = reply.body.decode("utf-8", "replace")
        hits += [
            f"{callback['output']}: {region}"
            for region in OTHER_REGIONS[user]
            if f'"{region}"' in body
        ]
    return hits


def shown_total(payloads: dict[str, Any]) -> float | None:
    """The number the total's card shows; None for its empty state (a dash)."""
    digits = re.sub(r"[^0-9.\-]", "", str(payloads["total"]["total"]["children"]))
    return float(digits) if any(c.isdigit() for c in digits) else None


# --- the gate ---------------------------------------------------------------------------------

PATHS = ["/", "/_dash-layout", "/_dash-dependencies", "/assets/dashsignal.css", "/_favicon.ico"]


@pytest.mark.parametrize(
    "credentials",
    [
        {},
        basic("alice", "wrong-password"),
        basic("carol", "alice-pass-1"),
        {"Authorization": "Basic !!"},
    ],
    ids=["none", "wrong-password", "unknown-user", "garbage"],
)
def test_without_valid_credentials_every_path_gets_401_and_runs_nothing(
    served: Served, credentials: dict[str, str]
) -> None:
    before = len(served.runs())
    alice = served.as_user("alice")
    body = callback_body(alice.compute_callback, [None, [], [2021, 2025]])

    answers = [request(served.app.port, "GET", path, credentials) for path in PATHS]
    answers.append(request(served.app.port, "POST", "/_dash-update-component", credentials, body))

    assert [answer.status for answer in answers] == [401] * len(answers)
    assert len(served.runs()) == before
    assert b"Traceback" not in b"".join(answer.body for answer in answers)


# --- two users, a stampede of each -------------------------------------------------------------


def test_a_stampede_of_two_users_computes_once_each_and_never_crosses(served: Served) -> None:
    filters = demo_filters(2020)
    users = [name for name in USERS for _ in range(SESSIONS_PER_USER)]

    def session(user: str) -> tuple[str, Any, list[tuple[dict[str, Any], Reply]]]:
        signal, replies = served.as_user(user).change_filters(filters)
        return user, signal, replies

    sessions = all_at_once([functools.partial(session, user) for user in users])

    requests = sum(1 + len(replies) for _, _, replies in sessions)
    hits = [hit for user, _, replies in sessions for hit in foreign_hits(user, replies)]
    totals = {user: {shown_total(view_payloads(replies))} for user, _, replies in sessions}
    per_user = served.runs_per_user(filters)
    print(
        f"\ntwo users x {SESSIONS_PER_USER} sessions: {requests} requests, {len(hits)} cross-user "
        f"hits, computations per user {dict(per_user)}, totals {totals}"
    )
    assert hits == []
    assert per_user == Counter({"alice": 1, "bob": 1})
    for user, (region, _) in USERS.items():
        assert totals[user] == {round(expected_total(served.project, region, filters), 2)}
    assert not any(
        name in json.dumps(signal)
        for _, signal, _ in sessions
        for name in ("alice", "bob", "North", "South")
    )


def test_a_signal_replayed_by_the_other_user_reads_only_their_own_data(served: Served) -> None:
    filters = demo_filters(2022)
    alice, bob = served.as_user("alice"), served.as_user("bob")
    signal, _ = alice.change_filters(filters)
    forged = [
        signal,
        {**signal, "user": "alice"},
        {**signal, "scope": "alice", "cache_key": "dashsignal:acme:query:alice"},
        {"filters": {**signal["filters"], "user": "alice"}},
    ]

    replies = [(cb, bob.consume(cb, value)) for value in forged for cb in bob.consumer_callbacks]

    assert foreign_hits("bob", replies) == []
    assert all(reply.status in (200, 204) for _, reply in replies)
    totals = {
        shown_total(view_payloads([(cb, r)]))
        for cb, r in replies
        if "total" in cb["output"] and r.status == 200
    }
    assert totals <= {round(expected_total(served.project, "South", filters), 2), None}
    assert round(expected_total(served.project, "South", filters), 2) in totals
    assert served.runs_per_user(filters) == Counter({"alice": 1, "bob": 1})


def test_the_log_holds_no_traceback(served: Served) -> None:
    served.app.assert_no_errors()


# --- a trusted proxy ---------------------------------------------------------------------------

# The project's hook, as a proxy deployment writes it: the region from the user's name.
PROXY_HOOK = """

from dashsignal.auth import User as _User

_REGIONS = {"alice": "North", "bob": "South"}


def current_user(signed_in):
    if signed_in is None:
        return None
    return _User(signed_in.id, {"region": _REGIONS.get(signed_in.id, "none")})
"""


def request_from(address: str, port: int, path: str, headers: dict[str, str]) -> int:
    connection = http.client.HTTPConnection(
        HOST, port, timeout=HTTP_TIMEOUT, source_address=(address, 0)
    )
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_a_proxy_header_is_believed_from_the_proxy_only(tmp_path: Path) -> None:
    project = make_project(tmp_path, "--auth", "proxy", "--scope", "user")
    hook = project / "auth.py"
    hook.write_text(hook.read_text() + PROXY_HOOK)
    spec = parse_spec_text((project / "dashsignal.toml").read_text())
    header = {"X-Forwarded-User": "bob"}
    app, process = start_app(
        tmp_path,
        spec,
        workers=2,
        existing=project,
        environ={"DASHSIGNAL_SECRET_KEY": SECRET, "DASHSIGNAL_TRUSTED_PROXIES": "127.0.0.1"},
        headers=header,
    )
    try:
        filters = demo_filters(2021)
        _, replies = app.change_filters(filters)
        from_elsewhere = [request_from("127.0.0.2", app.port, path, header) for path in PATHS]
        without = [request_from("127.0.0.1", app.port, path, {}) for path in PATHS]
    finally:
        stop_process(process)

    assert foreign_hits("bob", replies) == []
    assert shown_total(view_payloads(replies)) == round(
        expected_total(project, "South", filters), 2
    )
    assert from_elsewhere == [401] * len(PATHS)
    assert without == [401] * len(PATHS)
    runs = [json.loads(line) for line in app.counter.read_text().splitlines()]
    assert [run["user"] for run in runs] == ["bob"]


# --- two browsers ------------------------------------------------------------------------------


def chromium_options() -> Any:
    """dashsignal's options for Chrome, headless, without the sandbox a root user cannot have."""
    from dashsignal.testing import pytest_setup_options

    options = pytest_setup_options()
    options.add_argument("--headless")
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")
    return options


@contextlib.contextmanager
def browser_as(user: str) -> Iterator[Any]:
    """A headless Chromium of its own, every request of which carries `user`'s credentials."""
    from selenium import webdriver

    driver = webdriver.Chrome(options=chromium_options())
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": basic(user)})
        yield driver
    finally:
        driver.quit()


def shown_regions(driver: Any) -> set[str]:
    cells = driver.find_elements("css selector", '#rows .ag-cell[col-id="region"]')
    return {cell.text for cell in cells if cell.text}


def wait_for(condition: Any, seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = condition()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_two_browsers_signed_in_as_two_users_each_see_their_own_rows(served: Served) -> None:
    assert shutil.which("chromedriver"), "apt-get install chromium chromium-driver"
    url = f"http://{HOST}:{served.app.port}/"
    seen: dict[str, tuple[set[str], str]] = {}
    with browser_as("alice") as alice, browser_as("bob") as bob:
        alice.get(url)
        bob.get(url)
        for user, driver in (("alice", alice), ("bob", bob)):
            regions = wait_for(lambda driver=driver: shown_regions(driver))
            total = driver.find_element("css selector", "#total").text
            seen[user] = (regions, total)
    print(f"\ntwo browsers: {seen}")
    assert seen["alice"][0] == {"North"}
    assert seen["bob"][0] == {"South"}
    assert seen["alice"][1] != seen["bob"][1]


def test_a_browser_without_credentials_gets_nothing(served: Served) -> None:
    from selenium import webdriver

    driver = webdriver.Chrome(options=chromium_options())
    try:
        driver.get(f"http://{HOST}:{served.app.port}/")
        # The browser was challenged (headless Chromium shows no prompt): nothing of the app.
        assert "_dash-config" not in driver.page_source
        assert driver.find_elements("css selector", "#rows") == []
    finally:
        driver.quit()


@pytest.fixture(autouse=True)
def _environment_of_its_own() -> Iterator[None]:
    saved = os.environ.pop("DASHSIGNAL_USERS", None)
    yield
    if saved is not None:
        os.environ["DASHSIGNAL_USERS"] = saved
