"""How the lifecycle commands find the project: from a subfolder, with --project, or not at all.

Run in process as a user runs them (tests/cli_helpers.run_cli), on projects generated into
tmp_path.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cli_helpers import (
    assert_clean_error,
)
from lifecycle_helpers import (
    cli,
    cli_ok,
    demo_project,
    disk_state,
    view_ids,
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return demo_project(tmp_path)


# --- finding the project --------------------------------------------------------------------


@pytest.mark.parametrize("subfolder", ["views", "signaling", "notes/deeper/still"])
def test_commands_find_the_project_from_a_subfolder(project: Path, subfolder: str) -> None:
    cwd = project / subfolder
    cwd.mkdir(parents=True, exist_ok=True)
    before = {p.name for p in cwd.iterdir()}

    cli_ok(cwd, "add-view", "chart3")

    assert view_ids(project)[-1] == "chart3"
    assert (project / "views" / "chart3.py").is_file()
    assert {p.name for p in cwd.iterdir()} - before <= (
        {"chart3.py"} if subfolder == "views" else set()
    )


@pytest.mark.parametrize(
    ("option", "relative", "command"),
    [
        ("--project", False, ["add-view", "chart3"]),
        ("-p", False, ["add-view", "chart3"]),
        ("-p", True, ["add-view", "chart3"]),
        ("--project", True, ["check"]),
    ],
    ids=["--project-absolute", "-p-absolute", "-p-relative", "check"],
)
def test_project_option_works_from_elsewhere(
    project: Path, tmp_path: Path, option: str, relative: bool, command: list[str]
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = os.path.relpath(project, elsewhere) if relative else str(project)

    result = cli_ok(elsewhere, *command, option, where)

    assert list(elsewhere.iterdir()) == []
    if command[0] == "check":
        assert "check passed" in result.stdout
    else:
        assert view_ids(project)[-1] == "chart3"
        assert (project / "views" / "chart3.py").is_file()


@pytest.mark.parametrize(
    "command", [["add-view", "chart3"], ["regenerate"], ["check"]], ids=lambda c: c[0]
)
def test_outside_any_project_fails_cleanly_naming_the_option(
    tmp_path: Path, command: list[str]
) -> None:
    assert not any((folder / "dashsignal.toml").exists() for folder in tmp_path.parents)
    (tmp_path / "notes.txt").write_text("not a project\n", encoding="utf-8")
    before = disk_state(tmp_path)

    result = cli(tmp_path, *command)

    assert "no dashsignal.toml" in assert_clean_error(result)
    assert "--project" in result.stderr
    assert disk_state(tmp_path) == before


def test_project_option_on_a_folder_without_spec_fails_cleanly(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    before = disk_state(tmp_path)

    result = cli(tmp_path, "add-view", "chart3", "--project", str(folder))

    assert "is not a dashsignal project" in assert_clean_error(result)
    assert "--project" in result.stderr
    assert disk_state(tmp_path) == before
