"""Signing the tests in to a dashboard with users (`[app] auth`).

The `dash_app` fixture gives the app a secret of the session's own (DASHSIGNAL_SECRET_KEY, when
the environment has none) and, for `basic`, a users file of its own (DASHSIGNAL_USERS) holding
one test user: the ini option `dashsignal_user` ("tester" by default; `tester region=North`
gives it attributes). The `endpoint` client and the `page` browser then send what the app's mode
believes: Basic credentials, or the proxy's header (the test client's address is 127.0.0.1).
A `custom` mode's hook decides alone: its tests sign in their own way.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from pathlib import Path

from dashsignal.auth import Access, ProxyAuth, User

__all__ = ["TEST_PASSWORD", "sign_in_headers", "test_user", "to_environ", "write_test_users"]

# The test user's password: only ever in a users file the fixtures write for one session.
TEST_PASSWORD = "dashsignal-tests-" + secrets.token_hex(8)


def test_user(described: str) -> User:
    """The user an ini option describes: `NAME [ATTRIBUTE=VALUE]...`."""
    name, *pairs = described.split() or ["tester"]
    attributes = dict(pair.split("=", 1) for pair in pairs if "=" in pair)
    return User(name, attributes)


def write_test_users(path: Path, user: User) -> None:
    """A users file with `user` alone, whose password is TEST_PASSWORD."""
    from dashsignal.users import add_user

    add_user(path, user.id, TEST_PASSWORD, dict(user.attributes))


def sign_in_headers(
    access: Access | None, user: User, password: str = TEST_PASSWORD
) -> dict[str, str]:
    """The headers that sign `user` in to an app with `access` (none: no headers)."""
    if access is None:
        return {}
    mode = access.auth.mode
    if mode == "basic":
        token = base64.b64encode(f"{user.id}:{password}".encode()).decode("ascii")
        return {"Authorization": f"Basic {token}"}
    if isinstance(access.auth, ProxyAuth):
        return {access.auth.header: user.id}
    return {}


def to_environ(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers as a WSGI environ's keys (a Flask test client's environ_base)."""
    return {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}
