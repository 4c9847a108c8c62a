"""Who a request comes from, and whose cached data it may read.

A dashboard with users (`[app] auth` in dashsignal.toml) answers every request — the page, its
assets, every callback — with 401 until it knows the user, before anything else runs. Who the
user is comes from one of:

- `BasicAuth`: HTTP Basic credentials checked against a users file of password hashes
  (werkzeug's scrypt; never a password), managed with `python -m dashsignal.users`;
- `ProxyAuth`: a header set by an authenticating reverse proxy (oauth2-proxy, say), believed only
  when the request's peer address is one of the configured proxies: from anywhere else, the
  header is ignored and the request gets 401;
- `CustomAuth`: nothing but the project's own hook;

and then the project's hook, `auth.current_user(signed_in)`, which may enrich, replace or refuse
that user (flask-login, an SSO library).

A computation whose scope is "user" or "session" (`Computation(scope=...)`) has a scope in every
cache key: a keyed hash (HMAC-SHA256 under DASHSIGNAL_SECRET_KEY) of the user, or of a session id
the server made and keeps in Flask's signed session cookie. It is derived on the server for each
request, from the request; nothing of it travels in a signal. So a signal copied from one user's
page into another's reads the second user's entries: their own data, or nothing yet.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import os
import secrets
import threading
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Protocol

from cachetools import TTLCache
from flask import Flask, Request, Response, g, request, session
from werkzeug.security import check_password_hash, generate_password_hash

from dashsignal.computations import SCOPES
from dashsignal.settings import InvalidSettings

__all__ = [
    "AUTH_MODES",
    "PROXIES_ENV",
    "SCOPES",
    "SECRET_ENV",
    "USERS_ENV",
    "Access",
    "Authentication",
    "BasicAuth",
    "CustomAuth",
    "NoAuth",
    "ProxyAuth",
    "Session",
    "Unauthenticated",
    "User",
    "UsersFileError",
    "read_users",
]

logger = logging.getLogger(__name__)

AUTH_MODES = ("none", "basic", "proxy", "custom")
# Signs the session cookie and keys the scopes: required once a dashboard has users or scopes.
SECRET_ENV = "DASHSIGNAL_SECRET_KEY"
MIN_SECRET_CHARS = 32
USERS_ENV = "DASHSIGNAL_USERS"
PROXIES_ENV = "DASHSIGNAL_TRUSTED_PROXIES"
# A user id or attribute is text a person could read: no control characters, bounded.
MAX_ID_CHARS = 256
# Verified Basic credentials are remembered this long per process (a password hash costs tens
# of milliseconds, and the browser sends the credentials with every callback request).
SIGN_IN_SECONDS = 300
SIGN_IN_ENTRIES = 1024
# Where the request's user and session id are kept (flask.g) while it is answered.
_USER = "dashsignal_user"
_SESSION_KEY = "dashsignal.session"


class Unauthenticated(Exception):
    """A scoped computation was asked for outside a signed-in request (a script, a job)."""


class UsersFileError(ValueError):
    """A users file that cannot be read, or holds something other than users."""


def _check_text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_ID_CHARS:
        raise ValueError(f"{what} must be text of 1 to {MAX_ID_CHARS} characters, got {value!r}")
    if not value.isprintable():
        raise ValueError(f"{what} must not hold control characters, got {value!r}")
    return value


@dataclass(frozen=True)
class User:
    """A signed-in user: an id, and attributes a query may filter rows by (`region`, say)."""

    id: str
    attributes: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_text(self.id, "a user's id")
        attributes = dict(self.attributes)
        for name, value in attributes.items():
            _check_text(name, "an attribute's name")
            _check_text(value, f"attribute {name!r}")
        object.__setattr__(self, "attributes", MappingProxyType(attributes))

    def get(self, name: str) -> str | None:
        """The attribute `name`, or None."""
        return self.attributes.get(name)

    def identity(self) -> str:
        """Canonical text of everything that makes this user's data theirs: the id and the
        attributes (a user moved to another region reads other entries)."""
        return json.dumps(
            {"id": self.id, "attributes": dict(self.attributes)},
            sort_keys=True,
            ensure_ascii=False,
            separators=(",", ":"),
        )


@dataclass(frozen=True)
class Session:
    """A browser session: an id the server made, kept in Flask's signed session cookie."""

    id: str


class Authentication(Protocol):
    """How a request's user is found (before the project's hook sees it)."""

    mode: str

    def prepare(self, environ: Mapping[str, str]) -> None:
        """Read what the environment overrides, when the app starts."""

    def signed_in(self, request: Request) -> User | None:
        """The user the request proves it comes from, or None."""

    def challenge(self) -> dict[str, str]:
        """The headers of a 401 answer."""


class NoAuth:
    """No users: every request is served, and only shared or session scopes make sense."""

    mode = "none"

    def prepare(self, environ: Mapping[str, str]) -> None:
        pass

    def signed_in(self, request: Request) -> User | None:
        return None

    def challenge(self) -> dict[str, str]:
        return {}


class CustomAuth(NoAuth):
    """The project's hook alone decides (`auth.current_user(None)`)."""

    mode = "custom"


@dataclass(frozen=True)
class _UsersFile:
    identity: tuple[int, int, int]
    users: Mapping[str, tuple[str, User]]


def read_users(path: Path) -> dict[str, tuple[str, User]]:
    """The users of a users file: each id with its password hash and the user (attributes).
    UsersFileError for a file that cannot be read or is not a users file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsersFileError(f"no users file at {path}") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise UsersFileError(f"{path}: {error}") from None
    table = data.get("users", {})
    if not isinstance(table, dict) or set(data) - {"users"}:
        raise UsersFileError(f"{path}: expected only [users.NAME] tables")
    users: dict[str, tuple[str, User]] = {}
    for name, entry in table.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("password"), str):
            raise UsersFileError(f"{path}: users.{name} needs a password hash")
        attributes = {key: value for key, value in entry.items() if key != "password"}
        try:
            user = User(name, attributes)
        except (TypeError, ValueError) as error:
            raise UsersFileError(f"{path}: users.{name}: {error}") from None
        users[name] = (entry["password"], user)
    return users


class BasicAuth:
    """HTTP Basic credentials against a users file of password hashes, read again whenever the
    file changes (adding or removing a user needs no restart). `env` names a variable that
    points to another file."""

    mode = "basic"

    def __init__(self, users_file: Path, *, realm: str = "dashboard", env: str = USERS_ENV):
        self.users_file = Path(users_file)
        self.realm = realm
        self.env = env
        self._lock = threading.Lock()
        self._file: _UsersFile | None = None
        self._verified: TTLCache[bytes, User] = TTLCache(SIGN_IN_ENTRIES, SIGN_IN_SECONDS)
        self._unreadable: str | None = None
        # Checked when the name is unknown, so that an unknown name costs what a known one does.
        self._decoy = generate_password_hash(secrets.token_hex(16))

    def prepare(self, environ: Mapping[str, str]) -> None:
        named = environ.get(self.env)
        if named:
            self.users_file = Path(named)
        self._load()

    def signed_in(self, request: Request) -> User | None:
        credentials = request.authorization
        if credentials is None or credentials.type != "basic":
            return None
        name, password = credentials.username or "", credentials.password or ""
        users = self._load()
        # Remembered per file version: a user removed from the file is refused at once.
        memo = hashlib.sha256(
            json.dumps([users.identity, name, password]).encode("utf-8", "surrogatepass")
        ).digest()
        with self._lock:
            known = self._verified.get(memo)
        if known is not None:
            return known
        entry = users.users.get(name)
        password_hash, user = entry if entry is not None else (self._decoy, None)
        try:
            matches = check_password_hash(password_hash, password)
        except (ValueError, TypeError):  # a hash werkzeug cannot read: nobody signs in with it
            logger.warning(
                "users file %s: the hash of %r is not one werkzeug reads", self.users_file, name
            )
            matches = False
        if not matches or user is None:
            return None
        with self._lock:
            self._verified[memo] = user
        return user

    def challenge(self) -> dict[str, str]:
        realm = self.realm.replace("\\", "").replace('"', "")
        return {"WWW-Authenticate": f'Basic realm="{realm}", charset="UTF-8"'}

    def _load(self) -> _UsersFile:
        """The users file as it is now (stat on every call; read again when it changed). One
        that cannot be read signs nobody in, logged once until it changes."""
        try:
            stat = self.users_file.stat()
            identity = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        except OSError:
            identity = (0, 0, 0)
        current = self._file
        if current is not None and current.identity == identity:
            return current
        try:
            users = read_users(self.users_file)
        except UsersFileError as error:
            if self._unreadable != str(error):
                self._unreadable = str(error)
                logger.error("nobody can sign in: %s", error)
            users = {}
        else:
            self._unreadable = None
        loaded = _UsersFile(identity, MappingProxyType(users))
        self._file = loaded
        return loaded


class ProxyAuth:
    """The user named by `header`, set by an authenticating reverse proxy: believed only from
    the `proxies` (addresses or networks; `env` overrides them, comma-separated). The request's
    peer address is what counts, never X-Forwarded-For (which any client can send)."""

    mode = "proxy"

    def __init__(
        self,
        header: str = "X-Forwarded-User",
        proxies: Iterable[str] = ("127.0.0.1", "::1"),
        *,
        env: str = PROXIES_ENV,
    ) -> None:
        self.header = header
        self.env = env
        self.proxies = _networks(proxies)

    def prepare(self, environ: Mapping[str, str]) -> None:
        named = environ.get(self.env)
        if named:
            self.proxies = _networks(part.strip() for part in named.split(",") if part.strip())

    def signed_in(self, request: Request) -> User | None:
        if not self._from_proxy(request.remote_addr):
            return None
        name = request.headers.get(self.header)
        if not name:
            return None
        try:
            return User(name)
        except ValueError:
            return None

    def challenge(self) -> dict[str, str]:
        return {}

    def _from_proxy(self, address: str | None) -> bool:
        try:
            peer = ipaddress.ip_address(address or "")
        except ValueError:
            return False
        return any(peer in network for network in self.proxies)


def _networks(values: Iterable[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise InvalidSettings(f"{value!r} is not a proxy address or network") from None
    return tuple(networks)


CurrentUser = Callable[[User | None], User | None]


class Access:
    """What a dashboard with users or scopes installs on its server: the gate that answers 401
    before anything runs, and the scope of each request."""

    def __init__(
        self,
        auth: Authentication,
        current_user: CurrentUser | None,
        *,
        sessions: bool,
        cookie_name: str,
    ) -> None:
        self.auth = auth
        self.current_user = current_user
        self.sessions = sessions
        self.cookie_name = cookie_name
        self._scope_key = b""

    @property
    def gated(self) -> bool:
        """Whether a request needs a user."""
        return self.auth.mode != "none"

    def init_app(self, server: Flask, environ: Mapping[str, str] = os.environ) -> None:
        """Read the secret and the environment's overrides, and install the gate: first of the
        server's request hooks, so that a refused request runs nothing."""
        secret = environ.get(SECRET_ENV, "")
        if len(secret) < MIN_SECRET_CHARS:
            problem = (
                "is not set" if not secret else f"is shorter than {MIN_SECRET_CHARS} characters"
            )
            raise InvalidSettings(
                f"{SECRET_ENV} {problem}: it signs the session cookie and keys each user's cache "
                f'entries. Make one with: python -c "import secrets; print(secrets.token_hex(32))"'
            )
        server.secret_key = secret
        server.config.update(
            SESSION_COOKIE_NAME=self.cookie_name,
            SESSION_COOKIE_HTTPONLY=True,
            SESSION_COOKIE_SAMESITE="Lax",
        )
        # A key of its own for the scopes, derived from the secret: a scope says nothing about
        # the cookie's signature, nor the reverse.
        self._scope_key = hmac.new(secret.encode(), b"dashsignal scope", hashlib.sha256).digest()
        self.auth.prepare(environ)
        server.before_request_funcs.setdefault(None, []).insert(0, self._gate)

    def _gate(self) -> Response | None:
        if self.gated:
            user = self._user_of(request)
            if user is None:
                return Response(
                    "Sign-in required\n",
                    status=401,
                    headers=self.auth.challenge(),
                    mimetype="text/plain",
                )
            setattr(g, _USER, user)
        if self.sessions and not isinstance(session.get(_SESSION_KEY), str):
            session[_SESSION_KEY] = secrets.token_urlsafe(24)
        return None

    def _user_of(self, request: Request) -> User | None:
        signed_in = self.auth.signed_in(request)
        if self.current_user is None:
            return signed_in
        try:
            user = self.current_user(signed_in)
        except Exception:
            logger.exception("auth.current_user failed: the request is refused")
            return None
        if user is not None and not isinstance(user, User):
            logger.error(
                "auth.current_user returned %s, not a dashsignal.auth.User: refused",
                type(user).__name__,
            )
            return None
        return user

    def subject(self, scope: str) -> User | Session:
        """The user, or the session, of the request being answered, for a computation of
        `scope`. Unauthenticated outside a request that passed the gate."""
        if scope == "user":
            user = g.get(_USER) if _in_request() else None
            if not isinstance(user, User):
                raise Unauthenticated("a computation scoped to the user needs a signed-in request")
            return user
        if scope == "session":
            sid = session.get(_SESSION_KEY) if _in_request() else None
            if not isinstance(sid, str):
                raise Unauthenticated("a computation scoped to the session needs a browser session")
            return Session(sid)
        raise ValueError(f"unknown scope {scope!r}")

    def token(self, scope: str, subject: User | Session) -> str:
        """The part of a cache key that makes it `subject`'s: a keyed hash, never the name."""
        text = subject.identity() if isinstance(subject, User) else subject.id
        message = f"{scope}\0{text}".encode("utf-8", "surrogatepass")
        return hmac.new(self._scope_key, message, hashlib.sha256).hexdigest()[:32]


def _in_request() -> bool:
    from flask import has_request_context

    return has_request_context()
