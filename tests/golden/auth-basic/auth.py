"""Who is signed in: the last word on every request, yours.

This file is yours: dashsignal wrote it once and never rewrites it. Every request (the page,
its assets, each callback) first goes through [app] auth in dashsignal.toml, here
"basic", and then through `current_user` below; a request without a user gets 401
before anything runs.

"basic" trusts the users file (users.toml, or the file DASHSIGNAL_USERS names): the
browser asks for a name and a password (HTTP basic auth, so serve it over HTTPS), checked
against the password hashes there. Add a user with
`python -m dashsignal.users add users.toml NAME --attribute region=North`.

A user's attributes (`user.get("region")`) are what a user-scoped computation reads to decide
which rows are theirs.

Plugging in flask-login, for example (after `login_manager.init_app(app.server)` in app.py):

    from flask_login import current_user as login_user

    def current_user(signed_in: User | None) -> User | None:
        if not login_user.is_authenticated:
            return None
        return User(id=login_user.get_id(), attributes={"region": login_user.region})
"""

from __future__ import annotations

from dashsignal.auth import User


def current_user(signed_in: User | None) -> User | None:
    """The user this request is for; None refuses it (401).

    `signed_in` is who [app] auth signed in: the user of the users file whose name and
    password the browser sent, with the attributes listed there.
    Return it as it is, another User (with attributes from your own directory, say), or None.
    """
    return signed_in
