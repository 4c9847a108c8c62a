"""The user's files and edits: never overwritten, merged when they can be, marked when they clash.

Run in process as a user runs them (tests/cli_helpers.run_cli), on projects generated into
tmp_path.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_helpers import (
    assert_clean_error,
)
from lifecycle_helpers import (
    CALLBACKS,
    IDS,
    LAYOUT,
    MY_HELPER,
    append_to,
    check_findings,
    cli,
    cli_ok,
    demo_project,
    disk_state,
    make_conflict,
    read,
    replace_in,
    report,
    view_ids,
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return demo_project(tmp_path)


# --- ownership: the user's files and edits --------------------------------------------------

USER_FILES = ["app.py", "data.py", "views/sales.py", "README.md", "pyproject.toml", ".gitignore"]
# (command, whether to edit the spec by hand first so that regenerate has work to do)
WRITING_COMMANDS = {
    "add-view": (["add-view", "chart3", "--kind", "table"], False),
    "remove-view": (["remove-view", "share"], False),
    "remove-view-of-the-edited-module": (["remove-view", "sales"], False),
    "add-filter": (["add-filter", "channel", "--kind", "checklist"], False),
    "remove-filter": (["remove-filter", "product"], False),
    "regenerate": (["regenerate"], True),
    "regenerate-force": (["regenerate", "--force"], True),
}


@pytest.mark.parametrize(
    ("command", "edit_spec"), WRITING_COMMANDS.values(), ids=list(WRITING_COMMANDS)
)
def test_no_command_overwrites_an_edited_user_file(
    project: Path, command: list[str], edit_spec: bool
) -> None:
    for path in USER_FILES:
        append_to(project, path, "\n# USER EDIT: mine, not dashsignal's\n")
    if edit_spec:
        replace_in(project, "dashsignal.toml", '"filesystem"', '"redis"')
    before = {path: (project / path).read_bytes() for path in USER_FILES}

    result = cli_ok(project, *command)

    assert any(verb == "update" for verb, _ in report(result.stdout).values())
    assert {path: (project / path).read_bytes() for path in USER_FILES} == before


def test_removed_views_module_is_kept_reported_and_then_fails_check(project: Path) -> None:
    module = (project / "views" / "sales.py").read_bytes()

    result = cli_ok(project, "remove-view", "sales")

    assert report(result.stdout)["views/sales.py"] == ("keep", "belongs to no view any more")
    assert (project / "views" / "sales.py").read_bytes() == module
    checked = cli(project, "check")
    assert checked.returncode == 1
    assert ("orphan", "views/sales.py", "belongs to no view any more") in check_findings(
        checked.stdout
    )


@pytest.mark.parametrize(
    ("command", "spec_edit", "generated"),
    [
        (["add-view", "chart3"], None, '"Chart3"'),
        (["regenerate"], ('title = "Total sales"', 'title = "Grand total"'), '"Grand total"'),
    ],
    ids=["add-view", "regenerate"],
)
def test_hand_edits_of_managed_files_are_merged_not_lost(
    project: Path, command: list[str], spec_edit: tuple[str, str] | None, generated: str
) -> None:
    append_to(project, IDS, MY_HELPER)
    replace_in(project, LAYOUT, '"Sales by month"),', '"Monthly sales (edited)"),')
    if spec_edit:
        replace_in(project, "dashsignal.toml", *spec_edit)

    result = cli_ok(project, *command)

    lines = report(result.stdout)
    assert lines[LAYOUT] == ("merge", "your edits kept")
    assert lines.get(IDS, ("",))[0] not in ("update", "replace", "conflict")
    assert read(project, IDS).endswith(MY_HELPER)
    layout = read(project, LAYOUT)
    assert '"Monthly sales (edited)"),' in layout and generated in layout
    compile(layout, LAYOUT, "exec")


# --- clashing edits -------------------------------------------------------------------------


def test_clashing_edit_gets_conflict_markers_and_exit_3(project: Path) -> None:
    mine = make_conflict(project)

    result = cli(project, "remove-view", "total")

    assert result.returncode == 3
    assert "signaling/callbacks.py" in assert_clean_error(result)
    lines = read(project, CALLBACKS).splitlines()
    start = lines.index("<<<<<<< yours")
    middle = lines.index("=======")
    end = next(i for i, line in enumerate(lines) if line.startswith(">>>>>>> "))
    assert start < lines.index(mine) < middle < end
    assert report(result.stdout)[CALLBACKS] == ("conflict", "your edits clash with the new version")
    assert "total" not in view_ids(project)


def test_unresolved_markers_keep_regenerate_failing_and_the_file_untouched(project: Path) -> None:
    make_conflict(project)
    assert cli(project, "remove-view", "total").returncode == 3
    before = disk_state(project)

    result = cli(project, "regenerate")

    assert result.returncode == 3
    assert "signaling/callbacks.py" in assert_clean_error(result)
    assert report(result.stdout)[CALLBACKS] == (
        "conflict",
        "still holds conflict markers: resolve them first",
    )
    assert disk_state(project) == before


@pytest.mark.parametrize(
    "after_conflict", [True, False], ids=["regenerate-force-after-markers", "remove-view-force"]
)
def test_force_resolves_only_the_clashing_hunks_after_a_backup(
    project: Path, after_conflict: bool
) -> None:
    mine = make_conflict(project)
    # An edit of the same file, far from the clash: it clashes with nothing.
    register = "\ndef compute_signal(filters: dict[str, Any]) -> dict[str, Any]:\n"
    replace_in(project, CALLBACKS, register, MY_HELPER.lstrip("\n") + "\n" + register)
    if after_conflict:
        assert cli(project, "remove-view", "total").returncode == 3
        command = ["regenerate", "--force"]
    else:
        command = ["remove-view", "total", "--force"]
    previous = read(project, CALLBACKS)

    result = cli_ok(project, *command)

    backup = f"{CALLBACKS}.dashsignal-backup"
    assert read(project, backup) == previous
    assert backup in result.stdout
    verb, note = report(result.stdout)[CALLBACKS]
    assert verb == "replace" and "your other edits kept" in note
    callbacks = read(project, CALLBACKS)
    # The clashing hunk is the generated one; the helper, which clashed with nothing, is kept.
    generated = read(project, f".dashsignal/base/{CALLBACKS}")
    assert callbacks == generated.replace(register, MY_HELPER.lstrip("\n") + "\n" + register)
    assert mine not in callbacks
    assert "<<<<<<<" not in callbacks and "update_total" not in callbacks
    compile(callbacks, CALLBACKS, "exec")
    # What is left is a clean merge of the user's edit: a note for check, not a problem.
    checked = json.loads(cli(project, "check", "--json").stdout)
    assert [(p["code"], p["path"]) for p in checked["problems"]] == [("orphan", "views/total.py")]
    assert [(n["code"], n["path"]) for n in checked["notes"]] == [("edited", CALLBACKS)]


def test_force_on_a_file_dashsignal_did_not_write_replaces_it_whole(project: Path) -> None:
    """With no base to merge from, nothing tells the user's hunks apart: the new text, backed up."""
    (project / ".dashsignal" / "base" / CALLBACKS).unlink()
    append_to(project, CALLBACKS, MY_HELPER)

    result = cli_ok(project, "regenerate", "--force")

    assert report(result.stdout)[CALLBACKS] == (
        "replace",
        f"replaced (--force); your version saved as {CALLBACKS}.dashsignal-backup",
    )
    assert MY_HELPER not in read(project, CALLBACKS)
