"""Bad input to the lifecycle commands: one located error, nothing written.

Run in process as a user runs them (tests/cli_helpers.run_cli), on projects generated into
tmp_path.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cli_helpers import (
    assert_clean_error,
)
from lifecycle_helpers import (
    TIMEOUT_LINE,
    cli,
    demo_project,
    disk_state,
    read,
    replace_in,
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return demo_project(tmp_path)


# --- bad input ------------------------------------------------------------------------------

SPEC_READERS = {
    "regenerate": ["regenerate"],
    "check": ["check"],
    "add-view": ["add-view", "chart3"],
    "remove-view": ["remove-view", "share"],
    "add-filter": ["add-filter", "channel"],
    "remove-filter": ["remove-filter", "product"],
}


@pytest.mark.parametrize("command", SPEC_READERS.values(), ids=list(SPEC_READERS))
def test_toml_syntax_error_is_located_and_nothing_written(
    project: Path, command: list[str]
) -> None:
    replace_in(project, "dashsignal.toml", TIMEOUT_LINE, TIMEOUT_LINE.replace("= ", "= = ", 1))
    line = (
        read(project, "dashsignal.toml")
        .splitlines()
        .index("timeout = = 300 # seconds an entry is kept")
    )
    before = disk_state(project)

    result = cli(project, *command)

    error = assert_clean_error(result)
    assert re.match(rf"error: dashsignal\.toml:{line + 1}:\d+: ", error), error
    assert disk_state(project) == before


@pytest.mark.parametrize("command", list(SPEC_READERS.values())[:3], ids=list(SPEC_READERS)[:3])
def test_schema_error_names_the_key_and_the_allowed_values(
    project: Path, command: list[str]
) -> None:
    replace_in(project, "dashsignal.toml", 'kind = "table"', 'kind = "pie"')
    before = disk_state(project)

    result = cli(project, *command)

    error = assert_clean_error(result)
    assert "views[2].kind" in error and "graph, table, indicator" in error
    assert disk_state(project) == before


BAD_COMMANDS: dict[str, tuple[list[str], str]] = {
    "existing-view-id": (["add-view", "sales"], "there is already a view with id 'sales'"),
    "existing-filter-id": (["add-view", "region"], "there is already a filter with id 'region'"),
    "existing-id-other-case": (
        ["add-view", "SALES"],
        "already a view with id 'sales' (same as 'SALES' ignoring case)",
    ),
    "id-starts-with-digit": (["add-view", "2x"], "'2x' is not a valid identifier"),
    "id-with-dash": (["add-view", "a-b"], "'a-b' is not a valid identifier"),
    "id-keyword": (["add-view", "class"], "'class' is a Python keyword"),
    "unknown-view-kind": (
        ["add-view", "chart3", "--kind", "pie"],
        "unknown view kind 'pie'; allowed: graph, table, indicator",
    ),
    "remove-unknown-view": (["remove-view", "nope"], "no view 'nope' in dashsignal.toml"),
    "option-on-range": (
        ["add-filter", "price", "--kind", "range", "--option", "3"],
        "--option is for dropdown, multi, checklist and radio",
    ),
    "min-on-dropdown": (
        ["add-filter", "channel", "--min", "1"],
        "--min and --max are for range and dates filters",
    ),
    "min-above-max": (
        ["add-filter", "price", "--kind", "range", "--min", "9", "--max", "1"],
        "min (9) must be less than max (1)",
    ),
    "bad-date": (
        ["add-filter", "period", "--kind", "dates", "--min", "2025-13-01"],
        "--min '2025-13-01' is not a valid bound",
    ),
    "unknown-filter-kind": (["add-filter", "price", "--kind", "slider"], "unknown filter kind"),
    "remove-unknown-filter": (["remove-filter", "nope"], "no filter 'nope' in dashsignal.toml"),
}


@pytest.mark.parametrize(("command", "fragment"), BAD_COMMANDS.values(), ids=list(BAD_COMMANDS))
def test_bad_command_is_refused_cleanly_and_writes_nothing(
    project: Path, command: list[str], fragment: str
) -> None:
    before = disk_state(project)

    result = cli(project, *command)

    assert fragment in assert_clean_error(result)
    assert disk_state(project) == before


@pytest.mark.parametrize(
    ("command", "fragment"),
    [
        (["remove-filter", "region"], "a project needs at least one filter"),
        (["remove-view", "sales"], "a project needs at least one view"),
    ],
    ids=["last-filter", "last-view"],
)
def test_removing_the_last_entry_is_refused(
    tmp_path: Path, command: list[str], fragment: str
) -> None:
    project = demo_project(tmp_path, views=("sales:graph",), filters=("region:dropdown",))
    before = disk_state(project)

    result = cli(project, *command)

    assert fragment in assert_clean_error(result)
    assert disk_state(project) == before
