"""The writer's transaction, step by step, and its recovery when it is cut off at any step.

A small project and a plan that creates (in a new folder), updates, merges, deletes, keeps and
rewrites the manifest. The system calls by which the writer changes the disk are wrapped, in
this process: to record them, to fail one of them (an OSError, as a full or read-only disk
gives), or to die at one (that call and every later one raise `Killed`, so nothing after it
reaches the disk, as after a SIGKILL). The next writer call (`recover`) must then leave the
project wholly old or wholly new. tests/test_transactions.py does the same with real processes.
"""

from __future__ import annotations

import errno
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dashsignal_cli.errors import InterruptedWriteError, WriteError
from dashsignal_cli.journal import Journal, State, is_temporary_name, journal_path
from dashsignal_cli.planner import Action, Change, Plan
from dashsignal_cli.render import Owner
from dashsignal_cli.writer import Recovery, apply_plan, recover

from cli_helpers import build_tree, tree_snapshot

Snapshot = dict[str, bytes | None]

OLD = {
    "app.py": "app 1\n",
    "views/mine.py": "mine\n",
    "views/sales.py": "sales 1\n",
    "views/share.py": "share 1\n",
    ".dashsignal/manifest.json": "{1}\n",
}
NEW = {
    "app.py": "app 2\n",
    "stages/daily.py": "daily\n",
    "views/mine.py": "mine\n",
    "views/sales.py": "sales 2 (your edits kept)\n",
    ".dashsignal/manifest.json": "{2}\n",
}


def the_plan() -> Plan:
    return Plan(
        (
            Change("app.py", Action.UPDATE, Owner.MANAGED, "app 1\n", NEW["app.py"]),
            Change("stages/daily.py", Action.CREATE, Owner.USER, None, NEW["stages/daily.py"]),
            Change("views/mine.py", Action.KEEP, Owner.USER, "mine\n", None),
            Change(
                "views/sales.py", Action.MERGE, Owner.MANAGED, "sales 1\n", NEW["views/sales.py"]
            ),
            Change("views/share.py", Action.DELETE, Owner.MANAGED, "share 1\n", None),
        ),
        {".dashsignal/manifest.json": NEW[".dashsignal/manifest.json"]},
    )


def snapshot_of(files: dict[str, str], tmp_path: Path, name: str) -> Snapshot:
    return tree_snapshot(build_tree(tmp_path / name, files))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return build_tree(tmp_path / "project", OLD)


@pytest.fixture
def old(tmp_path: Path) -> Snapshot:
    return snapshot_of(OLD, tmp_path, "expected-old")


@pytest.fixture
def new(tmp_path: Path) -> Snapshot:
    return snapshot_of(NEW, tmp_path, "expected-new")


# Every step of that write, in order (a `*` stands for a temporary file's random token):
# the journal first, whole and synced; the new folder; each new text beside its target; the
# folders those names were added to synced; the commit point (the journal renamed, its folder
# synced); each file renamed into place, the old one kept under a second name until then; the
# set-aside copies removed; the renamed files' folders synced; the journal removed last.
TRACE = [
    ("open", ".dashsignal/journal-prepare.json"),
    ("write", ".dashsignal/journal-prepare.json"),
    ("fsync", ".dashsignal/journal-prepare.json"),
    ("mkdir", "stages"),
    ("open", ".app.py.*.dashsignal-new"),
    ("write", ".app.py.*.dashsignal-new"),
    ("fsync", ".app.py.*.dashsignal-new"),
    ("chmod", ".app.py.*.dashsignal-new"),
    ("open", "stages/.daily.py.*.dashsignal-new"),
    ("write", "stages/.daily.py.*.dashsignal-new"),
    ("fsync", "stages/.daily.py.*.dashsignal-new"),
    ("open", "views/.sales.py.*.dashsignal-new"),
    ("write", "views/.sales.py.*.dashsignal-new"),
    ("fsync", "views/.sales.py.*.dashsignal-new"),
    ("chmod", "views/.sales.py.*.dashsignal-new"),
    ("open", ".dashsignal/.manifest.json.*.dashsignal-new"),
    ("write", ".dashsignal/.manifest.json.*.dashsignal-new"),
    ("fsync", ".dashsignal/.manifest.json.*.dashsignal-new"),
    ("chmod", ".dashsignal/.manifest.json.*.dashsignal-new"),
    ("open", "."),
    ("fsync", "."),
    ("open", ".dashsignal"),
    ("fsync", ".dashsignal"),
    ("open", "stages"),
    ("fsync", "stages"),
    ("open", "views"),
    ("fsync", "views"),
    ("replace", ".dashsignal/journal-prepare.json", ".dashsignal/journal-commit.json"),
    ("open", ".dashsignal"),
    ("fsync", ".dashsignal"),
    ("link", "app.py", ".app.py.*.dashsignal-old"),
    ("replace", ".app.py.*.dashsignal-new", "app.py"),
    ("replace", "stages/.daily.py.*.dashsignal-new", "stages/daily.py"),
    ("link", "views/sales.py", "views/.sales.py.*.dashsignal-old"),
    ("replace", "views/.sales.py.*.dashsignal-new", "views/sales.py"),
    ("link", ".dashsignal/manifest.json", ".dashsignal/.manifest.json.*.dashsignal-old"),
    ("replace", ".dashsignal/.manifest.json.*.dashsignal-new", ".dashsignal/manifest.json"),
    ("replace", "views/share.py", "views/.share.py.*.dashsignal-old"),
    ("unlink", ".app.py.*.dashsignal-old"),
    ("unlink", "views/.sales.py.*.dashsignal-old"),
    ("unlink", ".dashsignal/.manifest.json.*.dashsignal-old"),
    ("unlink", "views/.share.py.*.dashsignal-old"),
    ("open", "."),
    ("fsync", "."),
    ("open", ".dashsignal"),
    ("fsync", ".dashsignal"),
    ("open", "stages"),
    ("fsync", "stages"),
    ("open", "views"),
    ("fsync", "views"),
    ("unlink", ".dashsignal/journal-commit.json"),
]
# The commit point: the k-th call (counted from 1) that renames the journal to commit.
COMMIT = 1 + TRACE.index(
    ("replace", ".dashsignal/journal-prepare.json", ".dashsignal/journal-commit.json")
)
STEPS = range(1, len(TRACE) + 1)  # the k-th call, counted from 1
# The last call that puts a file in place (or sets one aside): after it, the files are all new.
LAST_RENAME = max(k for k in STEPS if k > COMMIT and TRACE[k - 1][0] in ("link", "replace"))


def step_id(k: int) -> str:
    return f"{k:02}-{TRACE[k - 1][0]}-{TRACE[k - 1][-1].rpartition('/')[2]}"


# --- the injection --------------------------------------------------------------------------


class Killed(BaseException):  # noqa: N818 - what happened, not an error to handle
    """The process died at this call: this call and every later one never reach the disk."""


_CALLS = ("open", "write", "fsync", "chmod", "mkdir", "link", "replace", "unlink", "rmdir")
_TOKEN = re.compile(r"\.[0-9a-f]{8}\.dashsignal-")


@dataclass
class Disk:
    """The calls the writer makes to change the disk, counted from 1 since the last `reset`."""

    root: Path
    trace: list[tuple[str, ...]] = field(default_factory=list)
    before: list[Snapshot] = field(default_factory=list)  # the tree before each call
    fail_at: int | None = None  # that call raises OSError(fail_errno) and does nothing
    fail_errno: int = errno.ENOSPC
    kill_at: int | None = None
    dead: bool = False
    watch: bool = False  # take a snapshot before every call (slow on a big tree)
    _fds: dict[int, str] = field(default_factory=dict)

    def reset(self, *, fail_at: int | None = None, kill_at: int | None = None) -> None:
        self.trace.clear()
        self.before.clear()
        self.fail_at, self.kill_at, self.dead = fail_at, kill_at, False

    def relative(self, path: Any) -> str:
        name = os.fsdecode(path)
        if Path(name).is_relative_to(self.root):
            name = Path(name).relative_to(self.root).as_posix()
        return _TOKEN.sub(".*.dashsignal-", name)

    def wrap(self, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            if self.dead:
                raise Killed
            if name in ("write", "fsync"):
                entry: tuple[str, ...] = (name, self._fds.get(args[0], "?"))
            elif name in ("link", "replace"):
                entry = (name, self.relative(args[0]), self.relative(args[1]))
            else:
                entry = (name, self.relative(args[0]))
            if self.watch:
                self.before.append(tree_snapshot(self.root))
            self.trace.append(entry)
            if len(self.trace) == self.kill_at:
                self.dead = True
                raise Killed
            if len(self.trace) == self.fail_at:
                code = self.fail_errno
                raise OSError(code, os.strerror(code), os.fsdecode(self.root / entry[1]))
            result = original(*args, **kwargs)
            if name == "open":
                self._fds[result] = entry[1]
            return result

        return call


@pytest.fixture
def disk(
    project: Path, old: Snapshot, new: Snapshot, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Disk]:
    """Wraps the calls (after the trees the test compares with are built)."""
    watched = Disk(project)
    for name in _CALLS:
        monkeypatch.setattr(os, name, watched.wrap(name, getattr(os, name)))
    yield watched


def target_of(temporary: str) -> str:
    """The path a temporary file stands beside: `views/.a.py.0123abcd.dashsignal-new` -> a.py."""
    folder, _, name = temporary.rpartition("/")
    match = re.fullmatch(r"\.(.+)\.[0-9a-f]{8}\.dashsignal-(new|old)", name)
    assert match is not None, temporary
    return f"{folder}/{match[1]}".lstrip("/")


def leftovers(root: Path) -> list[str]:
    """Temporary files and journals left in the project."""
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if is_temporary_name(p.name) or p.name.startswith("journal-")
    )


def killed_at(project: Path, disk: Disk, k: int) -> None:
    """Apply the plan, dying at the k-th call; then the disk works again."""
    disk.reset(kill_at=k)
    with pytest.raises(Killed):
        apply_plan(project, the_plan())
    disk.reset()


# --- each step of the transaction ------------------------------------------------------------


def test_a_write_takes_its_steps_in_this_order(project: Path, disk: Disk, new: Snapshot) -> None:
    apply_plan(project, the_plan())
    assert disk.trace == TRACE
    assert tree_snapshot(project) == new
    assert leftovers(project) == []


def test_the_journal_names_every_step_before_the_first_is_taken(
    project: Path, disk: Disk, old: Snapshot
) -> None:
    disk.watch = True
    apply_plan(project, the_plan())
    first_step = TRACE.index(("mkdir", "stages"))
    at_first_step = disk.before[first_step]
    text = at_first_step[journal_path(State.PREPARE)]
    assert text is not None
    journal = Journal.loads(text.decode(), "journal")
    assert [(s.path, s.new is not None, s.old is not None) for s in journal.steps] == [
        ("app.py", True, True),
        ("stages/daily.py", True, False),  # created: nothing to set aside
        ("views/sales.py", True, True),
        (".dashsignal/manifest.json", True, True),
        ("views/share.py", False, True),  # deleted: set aside until the write is done
    ]
    assert journal.made_dirs == ("stages",)
    assert "views/mine.py" not in journal.paths()  # kept: not part of the write
    without_journal = {p: t for p, t in at_first_step.items() if p != journal_path(State.PREPARE)}
    assert without_journal == old


def test_at_the_commit_point_every_new_text_is_staged_and_no_file_has_changed(
    project: Path, disk: Disk, old: Snapshot
) -> None:
    disk.watch = True
    apply_plan(project, the_plan())
    tree = disk.before[COMMIT - 1]
    staged = {target_of(p): t for p, t in tree.items() if p.endswith(".dashsignal-new")}
    assert staged == {p: t.encode() for p, t in NEW.items() if OLD.get(p) != t}
    assert {p: t for p, t in tree.items() if p in old} == old  # no target touched yet
    assert set(tree) - set(old) - {journal_path(State.PREPARE)} == {
        "stages",
        *(p for p in tree if p.endswith(".dashsignal-new")),
    }


def test_an_updated_file_is_never_missing_while_it_is_replaced(project: Path, disk: Disk) -> None:
    disk.watch = True
    apply_plan(project, the_plan())
    for tree in disk.before:
        assert tree["app.py"] in (b"app 1\n", b"app 2\n")
        assert tree[".dashsignal/manifest.json"] in (b"{1}\n", b"{2}\n")


def test_the_manifest_changes_with_the_files_it_describes_after_the_commit_point(
    project: Path, disk: Disk
) -> None:
    disk.watch = True
    apply_plan(project, the_plan())
    manifest = [tree[".dashsignal/manifest.json"] for tree in disk.before]
    changed = manifest.index(b"{2}\n")
    assert changed >= COMMIT
    assert disk.before[changed]["app.py"] == b"app 2\n"  # files are renamed first, in plan order


def test_a_replaced_file_keeps_its_mode_and_a_new_one_gets_the_umask(project: Path) -> None:
    (project / "app.py").chmod(0o750)
    umask = os.umask(0o027)
    try:
        apply_plan(project, the_plan())
    finally:
        os.umask(umask)
    assert (project / "app.py").stat().st_mode & 0o777 == 0o750
    assert (project / "stages" / "daily.py").stat().st_mode & 0o777 == 0o640


# --- cut off at each step, finished or undone by the next call -------------------------------


@pytest.mark.parametrize("k", STEPS, ids=step_id)
def test_a_write_killed_at_any_step_is_finished_or_undone_by_recover(
    project: Path, disk: Disk, old: Snapshot, new: Snapshot, k: int
) -> None:
    killed_at(project, disk, k)
    committed = k > COMMIT  # killed after the rename to journal-commit.json
    if k == 1:  # died before the journal existed: nothing was done
        assert leftovers(project) == []
    else:
        assert journal_path(State.COMMIT if committed else State.PREPARE) in leftovers(project)

    recovery = recover(project)

    assert tree_snapshot(project) == (new if committed else old)
    if k > 1:
        assert isinstance(recovery, Recovery)
        assert recovery.rolled_forward is committed
        assert recovery.state is (State.COMMIT if committed else State.PREPARE)
    assert recover(project) is None  # nothing left to do


@pytest.mark.parametrize("k", STEPS, ids=step_id)
def test_recover_killed_at_any_step_is_finished_by_the_next_recover(
    project: Path, disk: Disk, old: Snapshot, new: Snapshot, k: int
) -> None:
    """A recovery cut off (at each of its own steps) is itself finished by the next one."""
    committed = k > COMMIT
    killed_at(project, disk, k)
    recover(project)
    assert tree_snapshot(project) == (new if committed else old)
    steps_of_recover = len(disk.trace)
    assert (steps_of_recover > 0) is (k > 1)  # at least the journal to delete
    for j in range(1, steps_of_recover + 1):
        work = build_tree(project.parent / f"again{j}", OLD)
        disk.root = work
        killed_at(work, disk, k)
        disk.reset(kill_at=j)
        with pytest.raises(Killed):
            recover(work)
        disk.reset()
        recover(work)
        assert tree_snapshot(work) == (new if committed else old), f"recover killed at {j}"
        assert leftovers(work) == []


# --- a failure at each step: undone at once, or (at the very end) finished later -------------


@pytest.mark.parametrize("k", STEPS, ids=step_id)
def test_a_failure_at_any_step_is_undone_unless_the_files_are_all_in_place(
    project: Path, disk: Disk, old: Snapshot, new: Snapshot, k: int
) -> None:
    call = TRACE[k - 1]
    disk.reset(fail_at=k)
    # After the last rename: a set-aside copy, a folder's sync or the journal failed.
    renamed_into_place = k > LAST_RENAME
    if call[0] == "link":  # a second name for the old file is a convenience: it renames instead
        apply_plan(project, the_plan())
    elif renamed_into_place:  # a set-aside copy or the journal could not be removed
        apply_plan(project, the_plan())
        assert leftovers(project) != []
        disk.reset()
        assert recover(project) is not None
    else:
        with pytest.raises(WriteError, match="the project was left as it was") as raised:
            apply_plan(project, the_plan())
        assert raised.value.hint == "Free some disk space, then run the command again."
        assert leftovers(project) == []
        assert tree_snapshot(project) == old
        return
    assert tree_snapshot(project) == new
    assert leftovers(project) == []


SWAPS = [k for k in STEPS if k > COMMIT and TRACE[k - 1][0] == "replace"]


@pytest.mark.parametrize("k", SWAPS, ids=step_id)
def test_a_failed_rename_killed_while_it_is_undone_is_undone_by_recover(
    project: Path, disk: Disk, old: Snapshot, new: Snapshot, k: int
) -> None:
    disk.reset(fail_at=k)
    with pytest.raises(WriteError):
        apply_plan(project, the_plan())
    undo = disk.trace[k:]
    assert undo[0] == (
        "replace",
        journal_path(State.COMMIT),
        journal_path(State.ROLLBACK),
    )
    for j in range(k + 1, k + len(undo) + 1):
        work = build_tree(project.parent / f"again{j}", OLD)
        disk.root = work
        disk.reset(fail_at=k, kill_at=j)
        with pytest.raises(Killed):
            apply_plan(work, the_plan())
        disk.reset()
        recovery = recover(work)
        # Killed before the journal said `rollback`, the write is finished instead.
        undoing = j > k + 1
        assert tree_snapshot(work) == (old if undoing else new), f"killed at {j}"
        assert leftovers(work) == []
        assert recovery is not None
        assert recovery.state is (State.ROLLBACK if undoing else State.COMMIT)
        assert recovery.rolled_forward is not undoing


# --- a damaged journal ------------------------------------------------------------------------


def _tamper(key: str, value: Any) -> Callable[[str], str]:
    def edit(text: str) -> str:
        data = json.loads(text)
        if key == "made_dirs":
            data["made_dirs"] = value
        elif key == "format":
            data["format"] = value
        else:
            data["steps"][0][key] = value
        return json.dumps(data)

    return edit


DAMAGES: dict[str, Callable[[str], str]] = {
    "truncated": lambda text: text[: len(text) // 2],
    "empty": lambda text: "",
    "not-json": lambda text: "garbage\x00" + text,
    "a-list": lambda text: "[]",
    "unknown-format": _tamper("format", 2),
    "path-outside": _tamper("path", "../outside.py"),
    "absolute-path": _tamper("path", "/etc/passwd"),
    "new-of-another-file": _tamper("new", ".other.py.0123abcd.dashsignal-new"),
    "new-not-temporary": _tamper("new", "app.py"),
    "old-in-another-folder": _tamper("old", "views/.app.py.0123abcd.dashsignal-old"),
    "step-without-key": lambda text: text.replace('"old"', '"gone"', 1),
    "folder-outside": _tamper("made_dirs", ["../elsewhere"]),
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_commit_journal_is_refused_and_nothing_is_touched(
    project: Path, disk: Disk, damage: str
) -> None:
    killed_at(project, disk, COMMIT + 4)  # after two renames into place
    journal = project / journal_path(State.COMMIT)
    journal.write_text(DAMAGES[damage](journal.read_text()))
    before = tree_snapshot(project)
    with pytest.raises(InterruptedWriteError, match="journal-commit.json is damaged"):
        recover(project)
    assert tree_snapshot(project) == before
    assert not (project.parent / "outside.py").exists()


def test_a_commit_journal_that_is_not_text_is_refused(project: Path, disk: Disk) -> None:
    killed_at(project, disk, COMMIT + 4)
    journal = project / journal_path(State.COMMIT)
    journal.write_bytes(b"\xff\xfe" + journal.read_bytes())
    before = tree_snapshot(project)
    with pytest.raises(InterruptedWriteError, match="cannot read .dashsignal/journal-commit"):
        recover(project)
    assert tree_snapshot(project) == before


def test_a_damaged_rollback_journal_is_refused_and_nothing_is_touched(
    project: Path, disk: Disk
) -> None:
    k = SWAPS[1]
    disk.reset(fail_at=k, kill_at=k + 3)  # the rename failed; killed while undoing it
    with pytest.raises(Killed):
        apply_plan(project, the_plan())
    disk.reset()
    journal = project / journal_path(State.ROLLBACK)
    journal.write_text(journal.read_text()[:40])
    before = tree_snapshot(project)
    with pytest.raises(InterruptedWriteError, match="journal-rollback.json is damaged"):
        recover(project)
    assert tree_snapshot(project) == before


def test_a_journal_torn_while_it_was_written_means_nothing_was_done(
    project: Path, disk: Disk, old: Snapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The journal is synced before any other step: one cut off half-written is dropped."""
    write = os.write

    def half_then_die(handle: int, data: Any) -> int:
        write(handle, bytes(data)[: len(data) // 2])
        disk.dead = True
        raise Killed

    monkeypatch.setattr(os, "write", half_then_die)
    with pytest.raises(Killed):
        apply_plan(project, the_plan())
    monkeypatch.setattr(os, "write", write)
    disk.reset()
    assert 0 < (project / journal_path(State.PREPARE)).stat().st_size
    recovery = recover(project)
    assert recovery is not None and recovery.paths == ()
    assert tree_snapshot(project) == old


@pytest.mark.parametrize("damage", ["truncated", "path-outside", "new-not-temporary"])
def test_a_damaged_prepare_journal_is_dropped_and_no_file_is_touched(
    project: Path, disk: Disk, damage: str
) -> None:
    """Before the commit point no file of the project has changed: nothing to put back."""
    killed_at(project, disk, COMMIT)  # at the commit point: every new text staged
    journal = project / journal_path(State.PREPARE)
    journal.write_text(DAMAGES[damage](journal.read_text()))
    before = tree_snapshot(project)
    recovery = recover(project)
    assert recovery is not None and not recovery.rolled_forward
    after = tree_snapshot(project)
    assert after == {p: t for p, t in before.items() if p != journal_path(State.PREPARE)}
    assert (project / "app.py").read_text() == "app 1\n"


def test_two_journals_are_refused_and_nothing_is_touched(project: Path, disk: Disk) -> None:
    killed_at(project, disk, COMMIT + 4)
    commit = project / journal_path(State.COMMIT)
    (project / journal_path(State.PREPARE)).write_text(commit.read_text())
    before = tree_snapshot(project)
    with pytest.raises(InterruptedWriteError, match="more than one journal"):
        recover(project)
    assert tree_snapshot(project) == before


def test_a_journal_that_cannot_be_read_is_refused(project: Path) -> None:
    (project / journal_path(State.COMMIT)).mkdir()
    before = tree_snapshot(project)
    with pytest.raises(InterruptedWriteError, match="cannot read .dashsignal/journal-commit"):
        recover(project)
    assert tree_snapshot(project) == before


def test_a_first_write_killed_at_any_step_leaves_old_or_new_or_an_empty_dashsignal(
    tmp_path: Path, disk: Disk, new: Snapshot
) -> None:
    """A project without .dashsignal/ yet (a user deleted it): the journal needs that folder,
    so a kill after making it and before the journal is synced in it leaves it there, empty.
    """
    bare = {p: t for p, t in OLD.items() if not p.startswith(".dashsignal/")}
    old = snapshot_of(bare, tmp_path, "bare-old")
    outcomes: list[str] = []
    for k in range(1, 100):
        work = build_tree(tmp_path / f"bare{k}", bare)
        disk.root = work
        disk.reset(kill_at=k)
        try:
            apply_plan(work, the_plan())
        except Killed:
            disk.reset()
            recover(work)
        else:
            outcomes.append("done")
            break
        after = tree_snapshot(work)
        assert leftovers(work) == []
        if after == {**old, ".dashsignal": None}:
            outcomes.append("old + empty .dashsignal")
        else:
            assert after in (old, new), f"a mix after a kill at {k}"
            outcomes.append("old" if after == old else "new")
    assert disk.trace[0] == ("mkdir", ".dashsignal")
    # Killed at making the folder; at opening, then writing, the journal; then old until the
    # commit point, new after it.
    commit = outcomes.index("new")
    assert outcomes[:4] == ["old", "old + empty .dashsignal", "old + empty .dashsignal", "old"]
    assert set(outcomes[4:commit]) == {"old"}
    assert set(outcomes[commit:-1]) == {"new"} and outcomes[-1] == "done"
