"""The writer's API, in this process: `apply_plan` does what each change says and nothing
else, all at once or not at all; `check_target_free` and `create_project` make a new project
whole or not at all. The transaction step by step is in test_writer_journal.py, the file
system's refusals in test_writer_faults.py.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dashsignal_cli.errors import OutsideProjectError, TargetExistsError, WriteError
from dashsignal_cli.planner import Action, Change, Plan
from dashsignal_cli.render import GeneratedFile, Owner
from dashsignal_cli.spec_edit import add_entry, remove_entry
from dashsignal_cli.sync import plan_sync
from dashsignal_cli.writer import apply_plan, check_target_free, create_project

from cli_helpers import build_tree, tree_snapshot
from project_helpers import generate, make_spec


def grow_plan(project: Path) -> Any:
    """A plan that creates (files and folders), updates, merges and deletes.

    It adds a view and a stage (stages/ is a new folder) and removes a view.
    """
    (project / "signaling" / "ids.py").write_text(
        (project / "signaling" / "ids.py").read_text() + "\n# a hand edit\n"
    )

    def edit(text: str) -> str:
        text = add_entry(text, "views", {"id": "extra", "kind": "table", "title": "Extra"})
        text = add_entry(text, "stages", {"id": "daily", "source": "query", "title": "Daily"})
        return remove_entry(text, "views", "share")

    return plan_sync(project, edit).plan


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return generate(tmp_path / "shop", make_spec("shop"))


def test_a_plan_is_applied_in_full(project: Path) -> None:
    plan = grow_plan(project)
    apply_plan(project, plan)
    assert (project / "views" / "extra.py").is_file()
    assert "update_extra" in (project / "signaling" / "callbacks.py").read_text()
    assert "# a hand edit" in (project / "signaling" / "ids.py").read_text()
    assert plan_sync(project).plan.touches_nothing
    leftovers = [p for p in project.rglob("*") if "dashsignal-new" in p.name or "-old" in p.name]
    assert leftovers == []


# The system calls the writer makes, patched where they live: os.replace is what
# Path.replace calls, os.open what the writer creates its files with.
OS_CALLS = ["open", "write", "fsync", "replace", "link", "mkdir"]


def count_calls(project: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> int:
    """How often applying the grow plan calls os.`name` until its last rename puts a file in
    place (after that the write is done: only folders are synced and the journal removed),
    measured on a copy."""
    copy = project.parent / "copy"
    shutil.copytree(project, copy)
    plan = grow_plan(copy)
    original, original_replace = getattr(os, name), os.replace
    calls = [0]
    until_last_rename = [0]

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(*args, **kwargs)

    def renaming(*args: Any, **kwargs: Any) -> Any:
        result = (counting if name == "replace" else original_replace)(*args, **kwargs)
        until_last_rename[0] = calls[0]
        return result

    with monkeypatch.context() as patch:
        patch.setattr(os, name, counting)
        patch.setattr(os, "replace", renaming)
        apply_plan(copy, plan)
    return until_last_rename[0]


@pytest.mark.parametrize("name", OS_CALLS)
@pytest.mark.parametrize("where", [0.0, 0.3, 0.6, 1.0])
def test_a_failure_half_way_leaves_the_project_as_it_was(
    project: Path, monkeypatch: pytest.MonkeyPatch, name: str, where: float
) -> None:
    total = count_calls(project, name, monkeypatch)
    assert total > 0
    failing_call = max(1, round(where * total))
    plan = grow_plan(project)
    before = tree_snapshot(project)
    original = getattr(os, name)
    calls = [0]

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == failing_call:
            raise OSError(errno.ENOSPC, "No space left on device", str(args[0]))
        return original(*args, **kwargs)

    monkeypatch.setattr(os, name, failing)
    if name == "link":  # the writer falls back on a rename: that write still succeeds
        apply_plan(project, plan)
        monkeypatch.undo()
        assert plan_sync(project).plan.touches_nothing
        return
    with pytest.raises(WriteError, match="the project was left as it was"):
        apply_plan(project, plan)
    monkeypatch.undo()
    assert tree_snapshot(project) == before


# --- each kind of change, on a small tree ----------------------------------------------------

SMALL = {
    "app.py": "app 1\n",
    "views/sales.py": "sales 1\n",
    "views/share.py": "share 1\n",
    ".dashsignal/manifest.json": "{1}\n",
    ".dashsignal/base/views/share.py": "share 1\n",
}


@pytest.fixture
def small(tmp_path: Path) -> Path:
    return build_tree(tmp_path / "small", SMALL)


def change(path: str, action: Action, after: str | None = None, **more: Any) -> Change:
    before = SMALL.get(path)
    return Change(path, action, Owner.MANAGED, before, after, **more)


# (changes, records, what the tree then holds instead of / besides SMALL; None: deleted)
CASES: dict[str, tuple[list[Change], dict[str, str | None], dict[str, str | None]]] = {
    "create": ([change("views/rows.py", Action.CREATE, "rows\n")], {}, {"views/rows.py": "rows\n"}),
    "create-in-new-folders": (
        [change("stages/daily/query.py", Action.CREATE, "q\n")],
        {},
        {"stages/daily/query.py": "q\n"},
    ),
    "update": ([change("app.py", Action.UPDATE, "app 2\n")], {}, {"app.py": "app 2\n"}),
    "merge": (
        [change("app.py", Action.MERGE, "app 2 + yours\n")],
        {},
        {"app.py": "app 2 + yours\n"},
    ),
    "conflict-markers-written": (
        [change("app.py", Action.CONFLICT, "<<<<<<< yours\n")],
        {},
        {"app.py": "<<<<<<< yours\n"},
    ),
    "conflict-markers-already-there": ([change("app.py", Action.CONFLICT)], {}, {}),
    "replace-after-a-backup": (
        [change("app.py", Action.REPLACE, "app 2\n", backup="app.py.dashsignal-backup")],
        {},
        {"app.py": "app 2\n", "app.py.dashsignal-backup": "app 1\n"},
    ),
    "delete": ([change("views/share.py", Action.DELETE)], {}, {"views/share.py": None}),
    "delete-what-is-already-gone": ([change("views/gone.py", Action.DELETE)], {}, {}),
    "keep": ([change("views/share.py", Action.KEEP)], {}, {}),
    "unchanged": ([change("app.py", Action.UNCHANGED)], {}, {}),
    "record-written": (
        [],
        {".dashsignal/manifest.json": "{2}\n"},
        {".dashsignal/manifest.json": "{2}\n"},
    ),
    "record-in-a-new-folder": (
        [],
        {".dashsignal/base/app.py": "app 1\n"},
        {".dashsignal/base/app.py": "app 1\n"},
    ),
    "record-deleted": (
        [],
        {".dashsignal/base/views/share.py": None},
        {".dashsignal/base/views/share.py": None},
    ),
    "all-at-once": (
        [
            change("app.py", Action.UPDATE, "app 2\n"),
            change("views/rows.py", Action.CREATE, "rows\n"),
            change("views/sales.py", Action.KEEP),
            change("views/share.py", Action.DELETE),
        ],
        {".dashsignal/manifest.json": "{2}\n", ".dashsignal/base/views/share.py": None},
        {
            "app.py": "app 2\n",
            "views/rows.py": "rows\n",
            "views/share.py": None,
            ".dashsignal/manifest.json": "{2}\n",
            ".dashsignal/base/views/share.py": None,
        },
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_each_change_does_what_it_says_and_nothing_else(
    small: Path, tmp_path: Path, case: str
) -> None:
    changes, records, effect = CASES[case]
    expected = build_tree(tmp_path / "expected", SMALL)
    for path, text in effect.items():  # by hand: a deleted file's folder stays
        if text is None:
            (expected / path).unlink(missing_ok=True)
        else:
            build_tree(expected, {path: text})
    apply_plan(small, Plan(tuple(changes), records))
    assert tree_snapshot(small) == tree_snapshot(expected)


def test_a_plan_that_changes_nothing_does_not_touch_the_disk(
    small: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    for name in ("open", "mkdir", "replace", "unlink"):
        original = getattr(os, name)

        def record(*args: Any, _name: str = name, _original: Any = original, **kw: Any) -> Any:
            calls.append(_name)
            return _original(*args, **kw)

        monkeypatch.setattr(os, name, record)
    plan = Plan((change("app.py", Action.UNCHANGED), change("views/share.py", Action.KEEP)), {})
    apply_plan(small, plan)
    assert calls == []


def test_a_write_through_a_link_to_outside_is_refused_before_anything_is_written(
    small: Path, tmp_path: Path
) -> None:
    outside = build_tree(tmp_path / "outside", {"sales.py": "not the project's\n"})
    shutil.rmtree(small / "views")
    (small / "views").symlink_to(outside)
    before, before_outside = tree_snapshot(small), tree_snapshot(outside)
    plan = Plan(
        (change("app.py", Action.UPDATE, "app 2\n"), change("views/sales.py", Action.UPDATE, "x")),
        {},
    )
    with pytest.raises(OutsideProjectError, match="views is a symbolic link to"):
        apply_plan(small, plan)
    assert tree_snapshot(small) == before
    assert tree_snapshot(outside) == before_outside


def test_a_first_write_that_fails_removes_the_dashsignal_folder_it_made(
    small: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A project without .dashsignal/ (a user deleted it): the folder goes with the failure."""
    shutil.rmtree(small / ".dashsignal")
    before = tree_snapshot(small)
    replace = os.replace

    def refuse_the_last(source: Any, target: Any) -> None:
        if str(target).endswith("views/sales.py"):
            raise OSError(errno.EIO, "Input/output error", str(target))
        replace(source, target)

    monkeypatch.setattr(os, "replace", refuse_the_last)
    plan = Plan(
        (change("app.py", Action.UPDATE, "app 2\n"), change("views/sales.py", Action.UPDATE, "x")),
        {".dashsignal/manifest.json": "{2}\n"},
    )
    with pytest.raises(WriteError, match="cannot write views/sales.py: Input/output error"):
        apply_plan(small, plan)
    assert tree_snapshot(small) == before


# --- check_target_free -----------------------------------------------------------------------


def _absent(target: Path) -> None:
    pass


def _empty(target: Path) -> None:
    target.mkdir()


FREE = {"absent": _absent, "empty-folder": _empty}


def _in(folder: Path, files: dict[str, str]) -> Path:
    return build_tree(folder / "shop", files)


def _a_file(folder: Path) -> Path:
    (folder / "shop").write_text("mine\n")
    return folder / "shop"


def _a_link_to_a_full_folder(folder: Path) -> Path:
    (folder / "shop").symlink_to(_in(folder / "elsewhere", {"a.txt": "a\n"}))
    return folder / "shop"


def _a_file_as_parent(folder: Path) -> Path:
    (folder / "file").write_text("x\n")
    return folder / "file" / "shop"


# How to make the target (in a folder), the error, what it says.
TAKEN: dict[str, tuple[Callable[[Path], Path], type[Exception], str]] = {
    "a-folder-with-a-file": (
        lambda f: _in(f, {"notes.txt": "mine\n"}),
        TargetExistsError,
        "exists and is not empty",
    ),
    "a-folder-with-a-hidden-file": (
        lambda f: _in(f, {".git/HEAD": "ref\n"}),
        TargetExistsError,
        "exists and is not empty",
    ),
    "a-file": (_a_file, TargetExistsError, "exists and is not a directory"),
    "a-link-to-a-full-folder": (_a_link_to_a_full_folder, TargetExistsError, "is not empty"),
    "no-parent": (lambda f: f / "missing" / "shop", WriteError, "missing is not a directory"),
    "a-file-as-parent": (_a_file_as_parent, WriteError, "file is not a directory"),
}


@pytest.mark.parametrize("case", FREE)
def test_a_target_that_is_absent_or_empty_is_free(tmp_path: Path, case: str) -> None:
    target = tmp_path / "shop"
    FREE[case](target)
    check_target_free(target)


@pytest.mark.parametrize("case", TAKEN)
def test_a_target_that_is_not_free_is_refused_and_left_alone(tmp_path: Path, case: str) -> None:
    make, error, message = TAKEN[case]
    target = make(tmp_path)
    before = tree_snapshot(tmp_path)
    with pytest.raises(error, match=message):
        check_target_free(target)
    assert tree_snapshot(tmp_path) == before


# --- create_project --------------------------------------------------------------------------

FILES = {
    "app.py": GeneratedFile("app\n", Owner.USER),
    "signaling/ids.py": GeneratedFile("ids\n", Owner.MANAGED),
    "views/sales.py": GeneratedFile("sales\n", Owner.USER),
    ".dashsignal/manifest.json": GeneratedFile("{}\n", Owner.MANAGED),
}


def files_of(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("case", FREE)
def test_create_project_writes_every_file_and_returns_their_paths(
    tmp_path: Path, case: str
) -> None:
    target = tmp_path / "shop"
    FREE[case](target)
    umask = os.umask(0o027)
    try:
        written = create_project(target, FILES)
    finally:
        os.umask(umask)
    assert written == list(FILES)
    assert files_of(target) == {p: f.text for p, f in FILES.items()}
    assert target.stat().st_mode & 0o777 == 0o750  # as mkdir would make it, not mkdtemp's 0o700
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shop"]  # no staging folder left


@pytest.mark.parametrize("failing", [1, 2, len(FILES)])
def test_create_project_that_fails_half_way_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: int
) -> None:
    write_text = Path.write_text
    calls = [0]

    def full_disk(self: Path, *args: Any, **kwargs: Any) -> int:
        calls[0] += 1
        if calls[0] == failing:
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return write_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full_disk)
    with pytest.raises(WriteError, match="No space left on device"):
        create_project(tmp_path / "shop", FILES)
    assert list(tmp_path.iterdir()) == []


def test_create_project_interrupted_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_text = Path.write_text

    def interrupt_at_views(self: Path, *args: Any, **kwargs: Any) -> int:
        if self.parent.name == "views":
            raise KeyboardInterrupt
        return write_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", interrupt_at_views)
    with pytest.raises(KeyboardInterrupt):
        create_project(tmp_path / "shop", FILES)
    assert list(tmp_path.iterdir()) == []


def test_create_project_does_not_replace_a_folder_filled_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checked free, then filled by someone else before the rename: theirs is kept."""
    target = tmp_path / "shop"
    target.mkdir()
    write_text = Path.write_text

    def someone_else_writes(self: Path, *args: Any, **kwargs: Any) -> int:
        if not (target / "theirs.txt").exists():
            write_text(target / "theirs.txt", "theirs\n")
        return write_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", someone_else_writes)
    with pytest.raises(WriteError, match=f"cannot write the project to {target}"):
        create_project(target, FILES)
    assert files_of(tmp_path) == {"shop/theirs.txt": "theirs\n"}


def test_create_project_over_a_dangling_link_fails_and_keeps_the_link(tmp_path: Path) -> None:
    target = tmp_path / "shop"
    target.symlink_to(tmp_path / "nowhere")
    with pytest.raises(WriteError, match="cannot write the project"):
        create_project(target, FILES)
    assert target.is_symlink()
    assert [p.name for p in tmp_path.iterdir()] == ["shop"]
