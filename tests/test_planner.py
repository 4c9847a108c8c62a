"""The rules of ownership, on the pure planner: no disk, each rule one test; then what `check`
says of a file handed over to the user, on a project on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dashsignal_cli.manifest import MANIFEST_FILE, Entry, Manifest, base_path, digest
from dashsignal_cli.planner import HANDED_OVER, Action, Plan, plan_changes
from dashsignal_cli.render import GeneratedFile, Owner

from project_helpers import generate, make_spec

DEMO: dict[str, Any] = {"day": "day", "units": "units", "amount": "amount"}
OLD = "line 1\nline 2\nline 3\nline 4\nline 5\n"
NEW = "line 1\nline 2 changed by the spec\nline 3\nline 4\nline 5\n"


def managed(text: str) -> GeneratedFile:
    return GeneratedFile(text, Owner.MANAGED)


def user(text: str) -> GeneratedFile:
    return GeneratedFile(text, Owner.USER)


def previously(files: dict[str, GeneratedFile]) -> tuple[Manifest, dict[str, str]]:
    """The manifest and .dashsignal/ files as the last run left them for `files`."""
    manifest = Manifest.of(files, DEMO)
    records = {base_path(p): f.text for p, f in files.items() if f.owner is Owner.MANAGED}
    records[MANIFEST_FILE] = manifest.dumps()
    return manifest, records


def plan(
    rendered: dict[str, GeneratedFile],
    disk: dict[str, str],
    last: dict[str, GeneratedFile] | None = None,
    *,
    force: bool = False,
) -> Plan:
    manifest, records = previously(last) if last is not None else (Manifest(), {})
    return plan_changes(rendered, {**records, **disk}.get, manifest, DEMO, force=force)


def only(result: Plan, path: str) -> Any:
    (change,) = [c for c in result.changes if c.path == path]
    return change


def test_a_missing_file_is_created() -> None:
    change = only(plan({"a.py": managed(NEW)}, {}), "a.py")
    assert (change.action, change.after) == (Action.CREATE, NEW)


def test_an_untouched_managed_file_is_rewritten() -> None:
    change = only(plan({"a.py": managed(NEW)}, {"a.py": OLD}, {"a.py": managed(OLD)}), "a.py")
    assert (change.action, change.after, change.edited) == (Action.UPDATE, NEW, False)


def test_hand_edits_to_a_managed_file_are_merged_onto_the_new_version() -> None:
    edited = OLD.replace("line 5\n", "line 5\n# mine\n")
    change = only(plan({"a.py": managed(NEW)}, {"a.py": edited}, {"a.py": managed(OLD)}), "a.py")
    assert change.action is Action.MERGE and change.edited
    assert change.after == NEW.replace("line 5\n", "line 5\n# mine\n")


def test_clashing_edits_get_conflict_markers_with_both_sides() -> None:
    edited = OLD.replace("line 2", "line 2 changed by the user")
    change = only(plan({"a.py": managed(NEW)}, {"a.py": edited}, {"a.py": managed(OLD)}), "a.py")
    assert change.action is Action.CONFLICT
    assert "<<<<<<< yours\nline 2 changed by the user\n=======\n" in change.after
    assert "line 2 changed by the spec\n>>>>>>> dashsignal" in change.after


def test_unresolved_markers_block_the_file_until_resolved() -> None:
    with_markers = "<<<<<<< yours\nmine\n=======\ntheirs\n>>>>>>> dashsignal\n"
    change = only(
        plan({"a.py": managed(NEW)}, {"a.py": with_markers}, {"a.py": managed(NEW)}), "a.py"
    )
    assert change.action is Action.CONFLICT and change.after is None


def test_force_replaces_a_clash_and_names_a_free_backup() -> None:
    edited = OLD.replace("line 2", "mine")
    disk = {"a.py": edited, "a.py.dashsignal-backup": "an older backup"}
    change = only(plan({"a.py": managed(NEW)}, disk, {"a.py": managed(OLD)}, force=True), "a.py")
    assert (change.action, change.after, change.before) == (Action.REPLACE, NEW, edited)
    assert change.backup == "a.py.dashsignal-backup-2"


def test_a_managed_path_we_never_wrote_is_not_overwritten() -> None:
    change = only(plan({"a.py": managed(NEW)}, {"a.py": "the user's own file\n"}), "a.py")
    assert change.action is Action.CONFLICT
    assert "the user's own file" in change.after


def test_edits_already_carrying_the_new_version_change_nothing() -> None:
    edited = NEW + "# mine\n"
    last = {"a.py": managed(NEW)}
    change = only(plan({"a.py": managed(NEW)}, {"a.py": edited}, last), "a.py")
    assert (change.action, change.edited) == (Action.UNCHANGED, True)


def test_user_files_are_written_once_and_never_again() -> None:
    last = {"views/a.py": user(OLD)}
    assert only(plan({"views/a.py": user(NEW)}, {}), "views/a.py").action is Action.CREATE
    kept = only(plan({"views/a.py": user(NEW)}, {"views/a.py": "mine"}, last), "views/a.py")
    assert (kept.action, kept.after) == (Action.UNCHANGED, None)


@pytest.mark.parametrize(
    ("path", "recreated"),
    [
        ("views/a.py", True),
        ("data.py", True),
        ("app.py", True),
        ("README.md", False),
        ("stages/a.py", True),
    ],
)
def test_a_deleted_user_file_is_recreated_only_if_the_app_needs_it(
    path: str, recreated: bool
) -> None:
    change = only(plan({path: user(NEW)}, {}, {path: user(OLD)}), path)
    assert (change.action is Action.CREATE) == recreated


def test_a_file_no_longer_produced_is_deleted_only_if_unchanged() -> None:
    last = {"old.py": managed(OLD), "edited.py": managed(OLD), "views/gone.py": user(OLD)}
    disk = {"old.py": OLD, "edited.py": OLD + "# mine\n", "views/gone.py": OLD}
    result = plan({}, disk, last)
    assert only(result, "old.py").action is Action.DELETE
    edited = only(result, "edited.py")
    assert (edited.action, edited.after, edited.note) == (Action.KEEP, None, HANDED_OVER)
    gone = only(result, "views/gone.py")
    assert (gone.action, gone.note) == (Action.KEEP, "belongs to no view any more")


def test_the_note_of_a_handed_over_file_says_what_became_of_it() -> None:
    # What `regenerate` prints beside the path: why it is kept, and that it is the user's now.
    for words in ("no longer generated", "edited by hand", "kept", "yours", "delete it"):
        assert words in HANDED_OVER


def test_an_orphan_user_module_stays_in_the_records_so_check_keeps_reporting_it() -> None:
    last = {"views/gone.py": user(OLD)}
    result = plan({}, {"views/gone.py": OLD}, last)
    # Nothing else changed, so the manifest that still lists it is left as it is.
    assert MANIFEST_FILE not in result.records


def test_an_edited_managed_file_no_longer_produced_leaves_the_records() -> None:
    last = {"a.py": managed(NEW), "edited.py": managed(OLD)}
    result = plan({"a.py": managed(NEW)}, {"a.py": NEW, "edited.py": OLD + "# mine\n"}, last)
    manifest = Manifest.loads(result.records[MANIFEST_FILE] or "")
    assert set(manifest.files) == {"a.py"}
    # Its base copy goes with it (None: deleted); the file itself is not touched.
    assert result.records[base_path("edited.py")] is None
    assert "edited.py" not in result.written_paths()


def test_a_handed_over_file_is_reported_once_then_never_again() -> None:
    last = {"a.py": managed(NEW), "edited.py": managed(OLD)}
    disk = {"a.py": NEW, "edited.py": OLD + "# mine\n"}
    manifest, records = previously(last)
    first = plan_changes({"a.py": managed(NEW)}, {**records, **disk}.get, manifest, DEMO)
    assert only(first, "edited.py").action is Action.KEEP
    # The records as the first run wrote them (a None deletes).
    after = {p: t for p, t in {**records, **first.records}.items() if t is not None}
    again = plan_changes(
        {"a.py": managed(NEW)},
        {**after, **disk}.get,
        Manifest.loads(after[MANIFEST_FILE]),
        DEMO,
    )
    assert [c.path for c in again.changes] == ["a.py"]
    assert again.touches_nothing


def test_a_second_run_touches_nothing() -> None:
    rendered = {"a.py": managed(NEW), "views/a.py": user(OLD)}
    manifest, records = previously(rendered)
    disk = {**records, "a.py": NEW, "views/a.py": OLD + "# mine\n"}
    result = plan_changes(rendered, disk.get, manifest, DEMO)
    assert result.touches_nothing
    assert {c.action for c in result.changes} == {Action.UNCHANGED}


def test_records_hold_what_was_generated_not_what_was_merged() -> None:
    edited = OLD + "# mine\n"
    result = plan({"a.py": managed(NEW)}, {"a.py": edited}, {"a.py": managed(OLD)})
    assert result.records[base_path("a.py")] == NEW
    manifest = Manifest.loads(result.records[MANIFEST_FILE] or "")
    assert manifest.files["a.py"] == Entry(Owner.MANAGED, digest(NEW))


@pytest.mark.parametrize("path", ["../outside.py", "/etc/passwd", "a/../../b", ""])
def test_a_manifest_naming_paths_outside_the_project_is_refused(path: str) -> None:
    from dashsignal_cli.errors import DashsignalError

    text = Manifest({path: Entry(Owner.MANAGED, "0" * 64)}).dumps()
    with pytest.raises(DashsignalError, match="damaged"):
        Manifest.loads(text)


def test_a_removed_stages_module_is_kept_as_the_users() -> None:
    last = {"stages/gone.py": user(OLD), "stages/__init__.py": managed(OLD)}
    result = plan({}, {"stages/gone.py": OLD + "# mine\n", "stages/__init__.py": OLD}, last)
    gone = only(result, "stages/gone.py")
    assert (gone.action, gone.owner, gone.after) == (Action.KEEP, Owner.USER, None)
    assert gone.note == "belongs to no stage any more"
    # The managed package file of a project with no stage left goes, as it was untouched.
    assert only(result, "stages/__init__.py").action is Action.DELETE


def test_check_fails_on_a_file_to_hand_over_until_regenerate_then_passes(tmp_path: Path) -> None:
    from dashsignal_cli.checks import find_problems
    from dashsignal_cli.sync import plan_sync
    from dashsignal_cli.writer import apply_plan

    project = generate(tmp_path / "demo", make_spec())
    # A managed file an older dashsignal generated and this one does not, edited since.
    manifest_file = project / MANIFEST_FILE
    manifest = Manifest.loads(manifest_file.read_text(encoding="utf-8"))
    files = {**manifest.files, "signaling/old.py": Entry(Owner.MANAGED, digest(OLD))}
    manifest_file.write_text(Manifest(files, manifest.demo).dumps(), encoding="utf-8")
    (project / base_path("signaling/old.py")).write_text(OLD, encoding="utf-8")
    mine = (OLD + "# mine\n").encode()
    (project / "signaling/old.py").write_bytes(mine)

    before = plan_sync(project)
    [finding] = find_problems(before)
    assert (finding.code, finding.path, finding.note) == ("out-of-date", "signaling/old.py", False)
    assert "regenerate" in finding.message

    apply_plan(project, before.plan)  # what `regenerate` writes
    after = plan_sync(project)
    assert find_problems(after) == []
    assert after.plan.touches_nothing
    assert (project / "signaling/old.py").read_bytes() == mine
    assert not (project / base_path("signaling/old.py")).exists()
