"""Deleted files: managed ones and those the app needs come back, the user's optional ones do not.

Run in process as a user runs them (tests/cli_helpers.run_cli), on projects generated into
tmp_path.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lifecycle_helpers import (
    CALLBACKS,
    IDS,
    NOTHING_TO_DO,
    cli_ok,
    demo_project,
    disk_state,
    read,
    report,
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return demo_project(tmp_path)


# --- deleted files --------------------------------------------------------------------------


@pytest.mark.parametrize("path", [IDS, CALLBACKS, "assets/dashsignal.css", "requirements.txt"])
def test_deleted_managed_file_is_recreated_by_regenerate(project: Path, path: str) -> None:
    text = read(project, path)
    (project / path).unlink()

    result = cli_ok(project, "regenerate")

    assert report(result.stdout)[path] == ("create", "recreated: it was deleted")
    assert read(project, path) == text


@pytest.mark.parametrize("path", ["README.md", ".gitignore", "pyproject.toml"])
def test_deleted_optional_user_file_stays_deleted(project: Path, path: str) -> None:
    (project / path).unlink()
    before = disk_state(project)

    result = cli_ok(project, "regenerate")

    assert result.stdout.strip() == NOTHING_TO_DO
    assert not (project / path).exists()
    assert disk_state(project) == before


@pytest.mark.parametrize("path", ["views/sales.py", "app.py", "data.py"])
def test_deleted_user_file_the_app_needs_is_recreated(project: Path, path: str) -> None:
    text = read(project, path)
    (project / path).unlink()

    result = cli_ok(project, "regenerate")

    assert report(result.stdout)[path] == ("create", "recreated: the app needs it")
    assert read(project, path) == text


# --- deleted stage modules ------------------------------------------------------------------


def test_deleted_stage_module_is_recreated(project: Path) -> None:
    cli_ok(project, "add-stage", "daily")
    text = read(project, "stages/daily.py")
    (project / "stages" / "daily.py").unlink()

    result = cli_ok(project, "regenerate")

    assert report(result.stdout)["stages/daily.py"] == ("create", "recreated: the app needs it")
    assert read(project, "stages/daily.py") == text
