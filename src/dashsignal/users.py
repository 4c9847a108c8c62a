"""The users file of a dashboard with `auth = "basic"`: add, remove and list its users.

    python -m dashsignal.users add users.toml alice --attribute region=North
    python -m dashsignal.users remove users.toml alice
    python -m dashsignal.users list users.toml

`add` asks for the password twice (or reads one line from standard input with
--password-stdin) and writes only its hash (werkzeug's scrypt): the file never holds a password.
Adding a user who exists replaces their password and attributes. The file is replaced whole
(a temporary file renamed over it), so the running app reads it old or new, never half-written;
it picks the change up on the next request, without a restart.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from werkzeug.security import generate_password_hash

from dashsignal.auth import User, UsersFileError, read_users

__all__ = ["add_user", "main", "remove_user", "write_users"]

HEADER = (
    '# The users of this dashboard (auth = "basic"): password hashes, never passwords.\n'
    "# Managed with `python -m dashsignal.users add|remove|list FILE ...`; keep it out of git.\n"
)
MIN_PASSWORD_CHARS = 8


class UsageError(Exception):
    """Bad input: reported as one line, exit status 2."""


def _existing(path: Path) -> dict[str, tuple[str, User]]:
    if not path.exists():
        return {}
    return read_users(path)


def write_users(path: Path, users: dict[str, tuple[str, User]]) -> None:
    """Write the users file: a temporary file in the same folder, renamed over the old one."""
    lines = [HEADER]
    for name, (password_hash, user) in sorted(users.items()):
        # JSON strings are TOML basic strings: quoted keys and values, escaped alike.
        lines.append(f"\n[users.{json.dumps(name)}]\n")
        lines.append(f"password = {json.dumps(password_hash)}\n")
        for key, value in sorted(user.attributes.items()):
            lines.append(f"{json.dumps(key)} = {json.dumps(value)}\n")
    text = "".join(lines)
    folder = path.resolve().parent
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        Path(temporary).chmod(0o600)
        Path(temporary).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(temporary).unlink()
        raise


def add_user(path: Path, name: str, password: str, attributes: dict[str, str]) -> None:
    """Add (or replace) one user in the users file."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise UsageError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    try:
        user = User(name, attributes)
    except ValueError as error:
        raise UsageError(str(error)) from None
    if "password" in attributes:
        raise UsageError("'password' is not an attribute: it is asked for")
    users = _existing(path)
    users[name] = (generate_password_hash(password), user)
    write_users(path, users)


def remove_user(path: Path, name: str) -> None:
    """Remove one user from the users file."""
    users = _existing(path)
    if name not in users:
        raise UsageError(f"{path} has no user {name!r}")
    del users[name]
    write_users(path, users)


def _attributes(pairs: Sequence[str]) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name:
            raise UsageError(f"--attribute takes NAME=VALUE, got {pair!r}")
        attributes[name] = value
    return attributes


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise UsageError("no terminal to ask for the password: pass --password-stdin")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise UsageError("the two passwords differ")
    return first


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dashsignal.users", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="add a user, or replace their password and attributes")
    add.add_argument("file", type=Path)
    add.add_argument("name")
    add.add_argument("--attribute", "-a", action="append", default=[], metavar="NAME=VALUE")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    remove = commands.add_parser("remove", help="remove a user")
    remove.add_argument("file", type=Path)
    remove.add_argument("name")
    listing = commands.add_parser("list", help="list the users and their attributes")
    listing.add_argument("file", type=Path)
    arguments = parser.parse_args(argv)
    try:
        if arguments.command == "add":
            attributes = _attributes(arguments.attribute)
            add_user(
                arguments.file, arguments.name, _password(arguments.password_stdin), attributes
            )
            print(f"{arguments.file}: user {arguments.name} saved")
        elif arguments.command == "remove":
            remove_user(arguments.file, arguments.name)
            print(f"{arguments.file}: user {arguments.name} removed")
        else:
            for name, (_, user) in sorted(read_users(arguments.file).items()):
                described = " ".join(f"{k}={v}" for k, v in sorted(user.attributes.items()))
                print(f"{name} {described}".rstrip())
    except (UsageError, UsersFileError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: {arguments.file}: {error.strerror or error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
