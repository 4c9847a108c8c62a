"""Users and scopes in the runtime (dashsignal.auth): the gate answers 401 before anything runs,
each user's results are keyed by a keyed hash of the user, derived from the request, and a
signal carries nothing of it.

A small dashboard built from the library alone, driven over HTTP through Flask's test client
(the same requests the renderer sends): one filter, a query scoped to the user (or the session)
that returns the rows of the user's region, and one view that lists the regions it was given.
"""

from __future__ import annotations

import base64
import logging
import os
import subprocess
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from dash import Dash, Input, Output

from dashsignal import QUERY, CacheSettings, Computation, Computations, Filter, Filters, View
from dashsignal.auth import (
    SECRET_ENV,
    BasicAuth,
    CustomAuth,
    NoAuth,
    ProxyAuth,
    Session,
    User,
    read_users,
)
from dashsignal.layout import indicator_card, page
from dashsignal.settings import InvalidSettings
from dashsignal.signaling import Signaling
from dashsignal.testing.endpoint import DashEndpoint
from dashsignal.testing.signin import sign_in_headers, to_environ
from dashsignal.users import add_user
from dashsignal.users import main as users_main

SECRET = "s" * 40
SIGNAL_ID = "dashsignal-signal"
FILTERS = Filters(Filter("year", "range", "Year", min=2020, max=2024, step=1, default=[2020, 2024]))
ROWS = pd.DataFrame({"region": ["North", "South", "East", "West"] * 5, "year": range(2020, 2040)})
ALICE = User("alice", {"region": "North"})
BOB = User("bob", {"region": "South"})
PASSWORDS = {"alice": "alice-password", "bob": "bob-password"}
YEARS = {"year": [2020, 2024]}


class Dashboard:
    """The app, its Signaling, and every run of its query (with whom it ran for)."""

    def __init__(self, app: Dash, signaling: Signaling, calls: list[tuple[Any, Any]]) -> None:
        self.app = app
        self.signaling = signaling
        self.calls = calls

    def client(self, headers: dict[str, str] | None = None, address: str = "127.0.0.1") -> Any:
        client = self.app.server.test_client()
        client.environ_base.update(to_environ(headers or {}))
        client.environ_base["REMOTE_ADDR"] = address
        return client

    def endpoint(self, user: User | None = None, **options: Any) -> DashEndpoint:
        headers = (
            sign_in_headers(self.signaling.access, user, PASSWORDS.get(user.id, "")) if user else {}
        )
        return DashEndpoint(self.client(headers, **options), self.signaling)


def build(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    auth: Any = None,
    scope: str = "user",
    current_user: Callable[[User | None], User | None] | None = None,
    secret: str | None = SECRET,
    background: bool = False,
) -> Dashboard:
    calls: list[tuple[Any, Any]] = []
    data = types.ModuleType("scoped_data")

    def expensive_query(filters: dict[str, Any], *subject: Any) -> pd.DataFrame:
        calls.append((filters, subject[0] if subject else None))
        frame = ROWS[ROWS["year"].between(*filters["year"])]
        if subject and isinstance(subject[0], User):
            frame = frame[frame["region"] == subject[0].get("region")]
        return frame.reset_index(drop=True)

    data.expensive_query = expensive_query
    view = types.ModuleType("views.regions")
    view.summarise = lambda frame: sorted(set(frame["region"]))
    view.render = lambda regions: ",".join(regions) or "none"
    settings = CacheSettings(
        app_name="scoped",
        spec_version="1",
        backend="filesystem",
        cache_dir=tmp_path / "cache",
        background=background,
    )
    signaling = Signaling(
        settings,
        FILTERS,
        Computations(Computation(QUERY, data, "expensive_query", scope=scope)),
        signals={QUERY: SIGNAL_ID},
        views=[View("regions", view)],
        auth=auth,
        current_user=current_user,
    )
    if secret is None:
        monkeypatch.delenv(SECRET_ENV, raising=False)
    else:
        monkeypatch.setenv(SECRET_ENV, secret)
    monkeypatch.delenv("DASHSIGNAL_CACHE", raising=False)
    app = Dash(__name__)
    signaling.init_app(app)
    app.layout = page(
        "Scoped", FILTERS, indicators=[indicator_card("regions", "Regions")], stores=[SIGNAL_ID]
    )
    app.callback(Output(SIGNAL_ID, "data"), inputs={"filters": FILTERS.inputs()})(
        lambda filters: signaling.signal(QUERY, filters)
    )
    app.callback(Output("regions", "children"), Input(SIGNAL_ID, "data"))(
        lambda signal: view.render(signaling.summary_for("regions", signal) or [])
    )
    return Dashboard(app, signaling, calls)


@pytest.fixture
def users_file(tmp_path: Path) -> Path:
    path = tmp_path / "users.toml"
    for user in (ALICE, BOB):
        add_user(path, user.id, PASSWORDS[user.id], dict(user.attributes))
    return path


@pytest.fixture
def basic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, users_file: Path) -> Dashboard:
    monkeypatch.delenv("DASHSIGNAL_USERS", raising=False)
    return build(tmp_path, monkeypatch, auth=BasicAuth(users_file, realm="Scoped"))


def regions(endpoint: DashEndpoint, filters: dict[str, Any] = YEARS) -> str:
    results = endpoint.change(filters)
    return str(results["regions"].value("regions", "children"))


# --- the gate --------------------------------------------------------------------------------

PATHS = ["/", "/_dash-layout", "/_dash-dependencies", "/assets/none.css", "/_favicon.ico"]


@pytest.mark.parametrize("path", PATHS)
def test_a_request_without_credentials_gets_401_and_runs_nothing(
    basic: Dashboard, path: str
) -> None:
    response = basic.client().get(path)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="Scoped", charset="UTF-8"'
    assert basic.calls == []


def test_a_callback_request_without_credentials_gets_401_before_the_guard(basic: Dashboard) -> None:
    body = {"output": f"{SIGNAL_ID}.data", "outputs": {"id": SIGNAL_ID, "property": "data"}}
    for client in (basic.client(), basic.client({"Authorization": "Basic " + "x" * 20})):
        assert client.post("/_dash-update-component", json=body).status_code == 401
        assert client.post("/_dash-update-component", data=b"{not json").status_code == 401
    assert basic.calls == []


@pytest.mark.parametrize(
    "credentials",
    ["alice:wrong-password", "carol:alice-password", "alice:", ":", "alice", "bob:alice-password"],
)
def test_wrong_credentials_get_401(basic: Dashboard, credentials: str) -> None:
    token = base64.b64encode(credentials.encode()).decode()
    assert basic.client({"Authorization": f"Basic {token}"}).get("/").status_code == 401
    assert basic.client({"Authorization": f"Bearer {token}"}).get("/").status_code == 401


def test_a_user_removed_from_the_file_is_refused_at_once(
    basic: Dashboard, users_file: Path
) -> None:
    alice = basic.client(sign_in_headers(basic.signaling.access, ALICE, PASSWORDS["alice"]))
    assert alice.get("/").status_code == 200  # and now remembered as verified
    assert users_main(["remove", str(users_file), "alice"]) == 0

    assert alice.get("/").status_code == 401


# --- scopes ----------------------------------------------------------------------------------


def test_each_user_sees_their_own_rows_and_one_query_each(basic: Dashboard) -> None:
    alice, again, bob = basic.endpoint(ALICE), basic.endpoint(ALICE), basic.endpoint(BOB)

    assert regions(alice) == "North"
    assert regions(again) == "North"  # another session of alice: read from the cache
    assert regions(bob) == "South"
    assert [user for _, user in basic.calls] == [ALICE, BOB]


def test_keys_are_keyed_hashes_that_name_nobody(basic: Dashboard) -> None:
    keys = keys_for(basic, [ALICE, BOB, User("alice", {"region": "South"})])

    assert len(set(keys)) == 3  # a user moved to another region reads other entries
    assert not any("alice" in key or "North" in key or "South" in key for key in keys)


def test_a_signal_replayed_by_another_user_reads_their_own_data(basic: Dashboard) -> None:
    alice, bob = basic.endpoint(ALICE), basic.endpoint(BOB)
    signal = alice.compute(YEARS).value(SIGNAL_ID, "data")
    assert "alice" not in repr(signal) and "North" not in repr(signal)

    replayed = bob.consume("regions", signal).value("regions", "children")

    assert replayed == "South"
    assert [user for _, user in basic.calls] == [ALICE, BOB]


def test_a_forged_signal_reads_nothing_foreign(basic: Dashboard) -> None:
    alice, bob = basic.endpoint(ALICE), basic.endpoint(BOB)
    regions(alice)
    forged = [
        {"filters": YEARS, "user": "alice"},
        {"filters": YEARS, "scope": "alice", "cache_key": "dashsignal:scoped"},
        {"filters": {"year": [2020, 2024], "user": "alice"}},
    ]
    answers = [bob.consume("regions", signal) for signal in forged]

    assert all("North" not in repr(answer.outputs) for answer in answers)


def keys_for(dashboard: Dashboard, users: list[User]) -> list[str]:
    """The key of the query's result for YEARS, for each user (as their requests derive it)."""
    from flask import g

    keys = []
    for user in users:
        with dashboard.app.server.test_request_context():
            g.dashsignal_user = user
            keys.append(dashboard.signaling.data.key(QUERY, YEARS))
    return keys


def test_a_scoped_result_outside_a_request_is_refused(basic: Dashboard) -> None:
    from dashsignal.auth import Unauthenticated

    with basic.app.server.app_context(), pytest.raises(Unauthenticated):
        basic.signaling.data.load(QUERY, YEARS)
    assert basic.calls == []


# --- the proxy -------------------------------------------------------------------------------


@pytest.fixture
def proxied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Dashboard:
    monkeypatch.delenv("DASHSIGNAL_TRUSTED_PROXIES", raising=False)
    return build(
        tmp_path,
        monkeypatch,
        auth=ProxyAuth("X-Forwarded-User", ["127.0.0.1", "10.1.0.0/16"]),
        current_user=lambda user: user and User(user.id, {"region": user.id.title()}),
    )


def test_the_proxys_header_signs_in_from_a_proxy_address(proxied: Dashboard) -> None:
    assert regions(proxied.endpoint(User("north"))) == "North"
    assert regions(proxied.endpoint(User("south"), address="10.1.2.3")) == "South"


@pytest.mark.parametrize("address", ["10.2.0.1", "192.168.1.9", "::1", "not-an-address"])
def test_the_header_from_anywhere_else_is_ignored(proxied: Dashboard, address: str) -> None:
    client = proxied.client({"X-Forwarded-User": "north", "X-Forwarded-For": "127.0.0.1"}, address)

    assert client.get("/").status_code == 401
    assert client.post("/_dash-update-component", json={}).status_code == 401
    assert proxied.calls == []


def test_no_header_from_the_proxy_gets_401(proxied: Dashboard) -> None:
    assert proxied.client().get("/").status_code == 401
    assert proxied.client({"X-Forwarded-User": ""}).get("/").status_code == 401
    assert proxied.client({"X-Forwarded-User": "a\x07b"}).get("/").status_code == 401


def test_the_environment_names_the_proxies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHSIGNAL_TRUSTED_PROXIES", "10.9.9.9, 10.8.0.0/24")
    app = build(tmp_path, monkeypatch, auth=ProxyAuth(), current_user=None, scope="shared")
    header = {"X-Forwarded-User": "north"}

    assert app.client(header, "10.8.0.7").get("/").status_code == 200
    assert app.client(header, "127.0.0.1").get("/").status_code == 401


def test_a_bad_proxy_address_stops_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DASHSIGNAL_TRUSTED_PROXIES", "10.9.9.300")
    with pytest.raises(InvalidSettings, match="10.9.9.300"):
        build(tmp_path, monkeypatch, auth=ProxyAuth(), scope="shared")


# --- the project's hook ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hook", "logged"),
    [
        (lambda user: None, ""),
        (lambda user: "alice", "not a dashsignal.auth.User"),
        (lambda user: 1 / 0, "auth.current_user failed"),
    ],
)
def test_a_hook_that_refuses_or_fails_gets_401(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    hook: Callable[[User | None], Any],
    logged: str,
) -> None:
    app = build(tmp_path, monkeypatch, auth=CustomAuth(), current_user=hook)
    with caplog.at_level(logging.INFO):
        assert app.client().get("/").status_code == 401
    assert logged in caplog.text


def test_a_custom_hook_alone_signs_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def from_header(_: User | None) -> User | None:
        from flask import request

        name = request.headers.get("X-Test-User")
        return User(name, {"region": "East"}) if name else None

    app = build(tmp_path, monkeypatch, auth=CustomAuth(), current_user=from_header)

    assert regions(DashEndpoint(app.client({"X-Test-User": "eve"}), app.signaling)) == "East"
    assert app.client().get("/").status_code == 401


# --- sessions --------------------------------------------------------------------------------


def test_each_browser_session_has_its_own_entries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = build(tmp_path, monkeypatch, auth=None, scope="session")
    first, second = app.endpoint(), app.endpoint()

    for endpoint in (first, first, second):
        assert regions(endpoint) == "East,North,South,West"

    sessions = [subject for _, subject in app.calls]
    assert len(sessions) == 2 and all(isinstance(s, Session) for s in sessions)
    assert sessions[0] != sessions[1]


def test_a_session_cookie_the_browser_made_up_is_not_believed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = build(tmp_path, monkeypatch, auth=None, scope="session")
    client = app.client()
    client.set_cookie("dashsignal-scoped", "eyJkYXNoc2lnbmFsLnNlc3Npb24iOiJ4In0.forged.sig")
    regions(DashEndpoint(client, app.signaling))

    ((_, session),) = app.calls
    assert session.id != "x"


# --- what the app refuses to start with ------------------------------------------------------


@pytest.mark.parametrize("secret", [None, "", "short"])
def test_no_secret_stops_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, users_file: Path, secret: str | None
) -> None:
    with pytest.raises(InvalidSettings, match=SECRET_ENV):
        build(tmp_path, monkeypatch, auth=BasicAuth(users_file), secret=secret)


def test_the_secret_keys_the_scopes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, users_file: Path
) -> None:
    tokens = []
    for secret in (SECRET, "t" * 40):
        app = build(tmp_path, monkeypatch, auth=BasicAuth(users_file), secret=secret)
        assert app.signaling.access is not None
        tokens.append(app.signaling.access.token("user", ALICE))
    assert tokens[0] != tokens[1]


def test_declarations_that_cannot_work_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError, match="needs Signaling\\(auth=...\\)"):
        build(tmp_path, monkeypatch, auth=None, scope="user")
    with pytest.raises(ValueError, match="needs Signaling\\(auth=...\\)"):
        build(tmp_path, monkeypatch, auth=NoAuth(), scope="user")
    with pytest.raises(ValueError, match="background"):
        build(tmp_path, monkeypatch, auth=CustomAuth(), current_user=lambda u: u, background=True)
    with pytest.raises(ValueError, match="unknown scope"):
        Computation(QUERY, types.ModuleType("m"), "f", scope="team")
    with pytest.raises(ValueError, match="its source's scope"):
        Computation("daily", types.ModuleType("m"), "derive", source=QUERY, scope="user")


def test_a_shared_dashboard_is_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = build(tmp_path, monkeypatch, auth=None, scope="shared", secret=None)

    assert app.signaling.access is None
    assert regions(app.endpoint()) == "East,North,South,West"
    assert app.calls == [(YEARS, None)]


# --- the users file --------------------------------------------------------------------------


def run_users(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dashsignal.users", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )


def test_the_users_command_keeps_hashes_only(tmp_path: Path) -> None:
    path = tmp_path / "users.toml"
    added = run_users(
        "add", str(path), "dana", "-a", "region=West", "--password-stdin", stdin="p4ssword-dana\n"
    )

    assert added.returncode == 0, added.stderr
    text = path.read_text()
    assert "p4ssword-dana" not in text and "scrypt:" in text
    assert path.stat().st_mode & 0o077 == 0
    ((password_hash, user),) = read_users(path).values()
    assert user == User("dana", {"region": "West"})
    assert run_users("list", str(path)).stdout == "dana region=West\n"
    assert run_users("remove", str(path), "dana").returncode == 0
    assert read_users(path) == {}


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("add", "{file}", "dana", "--password-stdin"), "short\n", "at least 8"),
        (
            ("add", "{file}", "dana", "-a", "region", "--password-stdin"),
            "long-enough\n",
            "NAME=VALUE",
        ),
        (("add", "{file}", "da\x07na", "--password-stdin"), "long-enough\n", "control characters"),
        (("add", "{file}", "dana"), "", "--password-stdin"),
        (("remove", "{file}", "nobody"), "", "no user 'nobody'"),
        (("list", "{missing}"), "", "no users file"),
    ],
)
def test_the_users_command_refuses_bad_input_in_one_line(
    tmp_path: Path, args: tuple[str, ...], stdin: str, message: str
) -> None:
    path = tmp_path / "users.toml"
    add_user(path, "erin", "erin-password", {})
    before = path.read_bytes()
    filled = [a.format(file=path, missing=tmp_path / "none.toml") for a in args]

    result = run_users(*filled, stdin=stdin)

    assert result.returncode == 2
    assert message in result.stderr and result.stderr.count("\n") == 1
    assert path.read_bytes() == before


@pytest.fixture(autouse=True)
def _no_leftover_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("DASHSIGNAL_USERS", raising=False)
    yield
