"""check's findings for users and scopes: scope, secret and users.

Each project is made with `dashsignal new` (tests/cli_helpers.run_cli), then edited as a user
would, then checked.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dashsignal.users import add_user

from cli_helpers import run_cli
from lifecycle_helpers import check_findings, replace_in, write

SECRET = "DASHSIGNAL_SECRET_KEY"
USERS = "DASHSIGNAL_USERS"


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A secret unless a test takes it away; no users file named by the environment."""
    monkeypatch.setenv(SECRET, "0" * 64)
    monkeypatch.delenv(USERS, raising=False)


def new(tmp_path: Path, *flags: str) -> Path:
    result = run_cli("new", "shop", *flags, "--yes", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return tmp_path / "shop"


def basic_project(tmp_path: Path, *flags: str) -> Path:
    """A basic-auth project, user-scoped, with one user in its users file."""
    project = new(tmp_path, "--auth", "basic", "--scope", "user", *flags)
    add_user(project / "users.toml", "alice", "correct horse battery", {"region": "North"})
    return project


def codes(project: Path) -> dict[str, list[tuple[str, str]]]:
    """check's findings by code, as (path, message)."""
    found: dict[str, list[tuple[str, str]]] = {}
    for code, path, message in check_findings(run_cli("check", cwd=project).stdout):
        found.setdefault(code, []).append((path, message))
    return found


def test_a_basic_user_scoped_project_with_a_user_and_a_secret_checks_clean(tmp_path: Path) -> None:
    project = basic_project(tmp_path)
    result = run_cli("check", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_project_without_users_needs_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SECRET)
    project = new(tmp_path)
    assert run_cli("check", cwd=project).returncode == 0


@pytest.mark.parametrize(
    "flags",
    [("--auth", "proxy"), ("--auth", "custom", "--scope", "user"), ("--scope", "session")],
    ids=" ".join,
)
def test_a_missing_secret_is_a_problem_that_says_how_to_make_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flags: tuple[str, ...]
) -> None:
    monkeypatch.delenv(SECRET)
    project = new(tmp_path, *flags)
    result = run_cli("check", cwd=project)
    assert result.returncode != 0
    [(path, message)] = codes(project)["secret"]
    assert path == "dashsignal.toml"
    assert SECRET in message
    assert 'python -c "import secrets; print(secrets.token_hex(32))"' in message


def test_a_missing_or_empty_users_file_is_a_problem_naming_the_add_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = new(tmp_path, "--auth", "basic")
    [(path, message)] = codes(project)["users"]
    assert path == "users.toml" and "is missing" in message
    assert "python -m dashsignal.users add users.toml NAME" in message
    write(project, "users.toml", "# nobody yet\n")
    [(_, message)] = codes(project)["users"]
    assert "lists no user" in message
    write(project, "users.toml", "[users\n")
    [(_, message)] = codes(project)["users"]
    assert "cannot be read" in message
    write(project, "users.toml", "")
    add_user(project / "users.toml", "bob", "correct horse battery", {})
    assert "users" not in codes(project)


def test_the_users_file_the_environment_names_is_the_one_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = basic_project(tmp_path)
    elsewhere = tmp_path / "people.toml"
    monkeypatch.setenv(USERS, str(elsewhere))
    [(path, message)] = codes(project)["users"]
    assert path == str(elsewhere) and f"(named by {USERS})" in message
    add_user(elsewhere, "carol", "correct horse battery", {})
    assert "users" not in codes(project)


def test_a_query_that_forgets_the_user_is_a_scope_problem(tmp_path: Path) -> None:
    project = basic_project(tmp_path)
    replace_in(project, "data.py", ", user: User)", ")")
    replace_in(project, "data.py", 'user.get("region")', '"North"')
    [(path, message)] = codes(project)["scope"]
    assert path == "data.py"
    assert "expensive_query() takes the filters alone, but [app] scope is 'user'" in message
    assert "expensive_query(filters, user: User)" in message


def test_a_shared_query_that_takes_a_second_parameter_is_a_scope_problem(
    tmp_path: Path,
) -> None:
    project = new(tmp_path)
    replace_in(
        project, "data.py", "(filters: dict[str, Any])", "(filters: dict[str, Any], user: Any)"
    )
    [(path, message)] = codes(project)["scope"]
    assert path == "data.py"
    assert "takes a second parameter, but [app] scope is shared" in message


def test_an_own_view_whose_compute_does_not_match_its_scope_is_a_scope_problem(
    tmp_path: Path,
) -> None:
    project = new(
        tmp_path, "--scope", "session", "--view", "sales:graph", "--view", "plan:graph@own"
    )
    assert "scope" not in codes(project)
    replace_in(project, "views/plan.py", ", session: Session)", ")")
    [(path, message)] = codes(project)["scope"]
    assert path == "views/plan.py"
    assert "compute() takes the filters alone, but the scope of view 'plan' is 'session'" in message


def test_a_function_taking_star_args_or_missing_is_left_to_other_findings(tmp_path: Path) -> None:
    project = basic_project(tmp_path)
    replace_in(project, "data.py", "(filters: dict[str, Any], user: User)", "(*arguments: Any)")
    assert "scope" not in codes(project)


def test_check_json_lists_the_new_findings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET)
    project = new(tmp_path, "--auth", "basic", "--scope", "user")
    replace_in(project, "data.py", ", user: User)", ")")
    result = run_cli("check", "--json", cwd=project)
    document = json.loads(result.stdout)
    assert document["ok"] is False
    found = {f["code"] for f in document["problems"]}
    assert {"scope", "secret", "users"} <= found
