"""[app] auth and scope, [auth], a view's scope: read, refused, written, and given by flags."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from dashsignal_cli.answers import command_line
from dashsignal_cli.errors import SpecError
from dashsignal_cli.spec import AppSpec, AuthSpec, spec_from_data
from dashsignal_cli.specfile import dump_spec, parse_spec_text

from cli_helpers import assert_clean_error, run_cli

BASE: dict[str, Any] = {
    "app": {"name": "shop"},
    "filters": [{"id": "region", "kind": "dropdown", "options": ["North", "South"]}],
    "views": [
        {"id": "sales", "kind": "graph"},
        {"id": "forecast", "kind": "graph", "source": "own"},
    ],
}


def spec_of(**changes: Any) -> Any:
    """The spec of BASE with `changes` (`app__auth="basic"`, `auth={...}`, `forecast={...}`)."""
    data = copy.deepcopy(BASE)
    for key, value in changes.items():
        if key == "forecast":
            data["views"][1].update(value)
        elif key == "sales":
            data["views"][0].update(value)
        elif "__" in key:
            table, name = key.split("__")
            data.setdefault(table, {})[name] = value
        else:
            data[key] = value
    return spec_from_data(data)


def test_a_spec_without_the_keys_reads_and_is_written_as_before() -> None:
    spec = spec_of()
    assert (spec.app.auth, spec.app.scope) == ("none", "shared")
    assert spec.auth == AuthSpec()
    assert spec.views[1].scope is None and spec.scope_of(spec.views[1]) == "shared"
    assert not spec.needs_secret
    text = dump_spec(spec)
    assert "auth" not in text and "scope" not in text


@pytest.mark.parametrize(
    "changes",
    [
        {"app__auth": "basic"},
        {"app__auth": "proxy", "app__scope": "user"},
        {"app__auth": "custom", "app__scope": "session"},
        {"app__scope": "session"},
        {"app__auth": "basic", "forecast": {"scope": "user"}},
        {"forecast": {"scope": "session"}},
        {"app__auth": "basic", "app__scope": "user", "forecast": {"scope": "shared"}},
        {"app__auth": "basic", "auth": {"users": "config/people.toml"}},
        {
            "app__auth": "proxy",
            "auth": {"header": "X-Auth-Request-User", "proxies": ["10.0.0.0/8", "fd00::1"]},
        },
        # A key another mode reads is kept, and written back.
        {"app__auth": "basic", "auth": {"header": "X-User"}},
    ],
    ids=str,
)
def test_every_key_is_read_and_written_back(changes: dict[str, Any]) -> None:
    spec = spec_of(**changes)
    app = changes.get("app__auth", "none"), changes.get("app__scope", "shared")
    assert (spec.app.auth, spec.app.scope) == app
    if "forecast" in changes:
        assert spec.views[1].scope == changes["forecast"]["scope"]
    for key, value in changes.get("auth", {}).items():
        assert getattr(spec.auth, key) == (tuple(value) if isinstance(value, list) else value)
    assert spec.needs_secret
    assert parse_spec_text(dump_spec(spec)) == spec


def test_the_spec_file_writes_the_keys_its_mode_reads_with_their_comments() -> None:
    basic = dump_spec(spec_of(app__auth="basic", app__scope="user"))
    assert 'auth = "basic" # none | basic | proxy | custom' in basic
    assert 'scope = "user" # shared | user | session' in basic
    assert '\n[auth]\nusers = "users.toml" # ' in basic
    assert "header" not in basic and "proxies" not in basic
    proxy = dump_spec(spec_of(app__auth="proxy"))
    assert 'header = "X-Forwarded-User" # ' in proxy
    assert 'proxies = ["127.0.0.1", "::1"] # ' in proxy
    assert "users =" not in proxy
    assert "[auth]" not in dump_spec(spec_of(app__auth="custom"))
    own = dump_spec(spec_of(forecast={"scope": "session"}))
    assert 'source = "own"\nscope = "session" # ' in own


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"app__auth": "ldap"}, "app.auth: unknown mode 'ldap'; allowed: none, basic, proxy"),
        ({"app__scope": "team"}, "app.scope: unknown scope 'team'; allowed: shared, user"),
        ({"app__scope": "user"}, 'app.scope: scope "user" needs a signed-in user'),
        ({"forecast": {"scope": "user"}}, 'views[1].scope: scope "user" needs a signed-in user'),
        ({"forecast": {"scope": "me"}}, "views[1].scope: unknown scope 'me'"),
        ({"sales": {"scope": "session"}}, "views[0].scope: only an own or live view"),
        (
            {"app__scope": "session", "app__background": True},
            "app.scope: scope 'session' with a background compute step",
        ),
        (
            {"app__auth": "basic", "app__background": True, "forecast": {"scope": "user"}},
            "views[1].scope: scope 'user' with a background compute step",
        ),
        ({"auth": {"users": "../users.toml"}}, "auth.users: '../users.toml' is not a file path"),
        ({"auth": {"users": "/etc/users.toml"}}, "auth.users: '/etc/users.toml' is not a file"),
        ({"auth": {"header": "X User"}}, "auth.header: 'X User' is not an HTTP header name"),
        ({"auth": {"header": ""}}, "auth.header: '' is not an HTTP header name"),
        ({"auth": {"proxies": []}}, "auth.proxies: a non-empty list"),
        ({"auth": {"proxies": "127.0.0.1"}}, "auth.proxies: a non-empty list"),
        ({"auth": {"proxies": ["10.0.0.300"]}}, "auth.proxies[0]: '10.0.0.300' is not an IP"),
        ({"auth": {"proxies": ["::1", 7]}}, "auth.proxies[1]: 7 is not an IP address"),
        ({"auth": {"password": "x"}}, "auth.password: unknown key; allowed here: users, header"),
        ({"auth": "basic"}, "auth: must be a table"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_what_is_refused_is_named_in_one_line(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError) as raised:
        spec_of(**changes)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_background_step_with_the_shared_scope_is_still_allowed() -> None:
    spec = spec_of(app__auth="basic", app__background=True)
    assert spec.app == AppSpec(name="shop", title="Shop", background=True, auth="basic")


def test_new_takes_auth_and_scope_flags(tmp_path: Path) -> None:
    result = run_cli("new", "shop", "--auth", "basic", "--scope", "user", "--yes", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    spec = parse_spec_text((tmp_path / "shop" / "dashsignal.toml").read_text())
    assert (spec.app.auth, spec.app.scope) == ("basic", "user")
    assert (tmp_path / "shop" / "auth.py").is_file()
    assert "/users.toml" in (tmp_path / "shop" / ".gitignore").read_text()
    line = command_line(spec, Path())
    assert "--auth basic --scope user" in line
    assert "--auth" not in command_line(spec_of(), Path())


def test_new_without_the_flags_makes_a_project_without_users(tmp_path: Path) -> None:
    result = run_cli("new", "shop", "--yes", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    spec = parse_spec_text((tmp_path / "shop" / "dashsignal.toml").read_text())
    assert (spec.app.auth, spec.app.scope) == ("none", "shared")
    assert not (tmp_path / "shop" / "auth.py").exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--auth", "ldap"), "--auth: unknown mode 'ldap'; allowed: none, basic, proxy, custom"),
        (("--scope", "team"), "--scope: unknown scope 'team'; allowed: shared, user, session"),
        (("--scope", "user"), '--scope: scope "user" needs a signed-in user'),
        (("--scope", "session", "--background"), "--scope: scope 'session' with a background"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, tuple) else "",
)
def test_new_refuses_bad_flags_in_one_line_and_writes_nothing(
    tmp_path: Path, flags: tuple[str, ...], message: str
) -> None:
    result = run_cli("new", "shop", *flags, "--yes", cwd=tmp_path)
    assert message in assert_clean_error(result)
    assert list(tmp_path.iterdir()) == []
