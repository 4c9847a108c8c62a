"""The file system refuses a write: the writer raises a typed error and the disk is unchanged.

Read-only folders are real: the tests run as root (in CI too), for whom chmod stops nothing, so
as root a folder is made read-only by a read-only bind mount of itself (as in
test_cli_hardening.py), and by chmod otherwise. Names too long are real too. A full disk, a
quota and the like are simulated: the system call raises the OSError the kernel would.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest

from dashsignal_cli.errors import InterruptedWriteError, WriteError
from dashsignal_cli.journal import Journal, State, Step, journal_path
from dashsignal_cli.planner import Action, Change, Plan
from dashsignal_cli.render import GeneratedFile, Owner
from dashsignal_cli.writer import apply_plan, check_target_free, create_project, recover

from cli_helpers import build_tree, tree_snapshot
from fs_helpers import read_only

SMALL = {
    "app.py": "app 1\n",
    "views/sales.py": "sales 1\n",
    "views/share.py": "share 1\n",
    ".dashsignal/manifest.json": "{1}\n",
}


@pytest.fixture
def small(tmp_path: Path) -> Path:
    return build_tree(tmp_path / "small", SMALL)


def change(path: str, action: Action, after: str | None = None) -> Change:
    return Change(path, action, Owner.MANAGED, SMALL.get(path), after)


def growing_plan() -> Plan:
    """Staged files in three folders (one of them new), a delete and the manifest."""
    return Plan(
        (
            change("app.py", Action.UPDATE, "app 2\n"),
            change("stages/daily.py", Action.CREATE, "daily\n"),
            change("views/sales.py", Action.MERGE, "sales 2\n"),
            change("views/share.py", Action.DELETE),
        ),
        {".dashsignal/manifest.json": "{2}\n"},
    )


READ_ONLY_HINTS = (
    "The project is on a read-only file system: copy it somewhere writable.",
    "You may not write there: check the permissions of the project's folders.",
)


# --- read-only folders -----------------------------------------------------------------------


def test_a_read_only_project_is_refused_and_left_as_it_was(small: Path) -> None:
    with read_only(small):
        before = tree_snapshot(small)
        with pytest.raises(WriteError, match="the project was left as it was") as raised:
            apply_plan(small, growing_plan())
        assert tree_snapshot(small) == before
    assert raised.value.hint in READ_ONLY_HINTS


def test_one_read_only_folder_undoes_what_was_staged_in_the_others(small: Path) -> None:
    """The journal, a new folder and two new texts are on disk when views/ refuses the third."""
    before = tree_snapshot(small)
    with read_only(small / "views"):
        with pytest.raises(WriteError, match=r"cannot write views/\.sales\.py\.[0-9a-f]{8}"):
            apply_plan(small, growing_plan())
    assert tree_snapshot(small) == before  # no stages/, no temporary file, no journal


def test_a_read_only_folder_met_while_renaming_undoes_the_renames_done(small: Path) -> None:
    """A delete stages nothing: views/ refuses only its rename, after app.py was replaced."""
    before = tree_snapshot(small)
    plan = Plan(
        (change("app.py", Action.UPDATE, "app 2\n"), change("views/share.py", Action.DELETE)),
        {".dashsignal/manifest.json": "{2}\n"},
    )
    with read_only(small / "views"):
        with pytest.raises(WriteError, match="cannot write views/share.py") as raised:
            apply_plan(small, plan)
    assert "the project was left as it was" in raised.value.message
    assert tree_snapshot(small) == before


def test_create_project_in_a_read_only_folder_is_refused(tmp_path: Path) -> None:
    parent = tmp_path / "parent"
    parent.mkdir()
    with read_only(parent):
        with pytest.raises(WriteError, match=f"cannot write in {parent}"):
            create_project(parent / "shop", {"app.py": GeneratedFile("app\n", Owner.USER)})
        assert list(parent.iterdir()) == []


def interrupted_while_renaming(root: Path) -> None:
    """What a write killed between its commit point and renaming app.py into place leaves."""
    new, old = ".app.py.0123abcd.dashsignal-new", ".app.py.0123abcd.dashsignal-old"
    (root / new).write_text("app 2\n")
    os.link(root / "app.py", root / old)
    journal = Journal((Step("app.py", new, old),))
    (root / journal_path(State.COMMIT)).write_text(journal.dumps())


def test_recover_in_a_read_only_project_refuses_and_finishes_once_it_is_writable(
    small: Path,
) -> None:
    interrupted_while_renaming(small)
    with read_only(small):
        before = tree_snapshot(small)
        with pytest.raises(InterruptedWriteError, match="could not be finished: app.py: "):
            recover(small)
        assert tree_snapshot(small) == before
    recovery = recover(small)
    assert recovery is not None and recovery.rolled_forward
    assert tree_snapshot(small) == tree_snapshot(
        build_tree(small.parent / "expected", {**SMALL, "app.py": "app 2\n"})
    )


# --- names too long --------------------------------------------------------------------------

# NAME_MAX is 255 bytes; a temporary file's name adds 25 to its target's (`.NAME.<8 hex>.
# dashsignal-new`), so a 240-byte name is one the file system takes but the writer cannot stage.
LONG = {"legal-but-no-room-to-stage": "v" * 237 + ".py", "too-long-for-the-disk": "v" * 300}


@pytest.mark.parametrize("name", LONG.values(), ids=LONG)
def test_a_name_too_long_is_refused_and_the_project_left_as_it_was(small: Path, name: str) -> None:
    before = tree_snapshot(small)
    plan = Plan(
        (change("app.py", Action.UPDATE, "app 2\n"), change(f"views/{name}", Action.CREATE, "x")),
        {".dashsignal/manifest.json": "{2}\n"},
    )
    with pytest.raises(WriteError, match="file name too long; the project was left as it was"):
        apply_plan(small, plan)
    assert tree_snapshot(small) == before


def test_a_target_name_too_long_is_refused_by_check_target_free(tmp_path: Path) -> None:
    with pytest.raises(WriteError, match="File name too long") as raised:
        check_target_free(tmp_path / ("s" * 300))
    assert raised.value.hint == "Choose a shorter name or another --directory."


@pytest.mark.parametrize("length", [240, 300])
def test_create_project_with_a_name_too_long_leaves_nothing(tmp_path: Path, length: int) -> None:
    with pytest.raises(WriteError, match="File name too long"):
        create_project(tmp_path / ("s" * length), {"app.py": GeneratedFile("app\n", Owner.USER)})
    assert list(tmp_path.iterdir()) == []


# --- a full disk, a quota, and the other refusals ------------------------------------------

HINTS = {
    errno.ENOSPC: "Free some disk space, then run the command again.",
    errno.EDQUOT: "Free some disk space (you are over quota), then run the command again.",
    errno.EROFS: READ_ONLY_HINTS[0],
    errno.EACCES: READ_ONLY_HINTS[1],
    errno.EPERM: "The file system refused it (an immutable file? chattr -i): check the file.",
    errno.EIO: "Fix the cause, then run the command again.",
}


@pytest.mark.parametrize("code", HINTS, ids=errno.errorcode.get)
def test_each_refusal_gets_its_hint_and_changes_nothing(
    small: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    """The second new text refused (the journal and the first are on disk by then)."""
    before = tree_snapshot(small)
    open_ = os.open

    def refuse(path: Any, *args: Any, **kwargs: Any) -> int:
        if "daily.py" in str(path):
            raise OSError(code, os.strerror(code), str(path))
        return open_(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(WriteError, match=os.strerror(code)) as raised:
        apply_plan(small, growing_plan())
    assert raised.value.hint == HINTS[code]
    assert "cannot write stages/.daily.py." in raised.value.message
    assert tree_snapshot(small) == before


def test_a_disk_that_fills_up_in_the_middle_of_a_file_changes_nothing(
    small: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Short writes (half of what is left each time), then ENOSPC on the rest of app.py."""
    before = tree_snapshot(small)
    write = os.write
    written: list[int] = []

    def short_then_full(handle: int, data: Any) -> int:
        if bytes(data) == b" 2\n":  # app.py's new text, "app 2\n", after its first half
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(write(handle, bytes(data)[: max(1, len(data) // 2)]))
        return written[-1]

    monkeypatch.setattr(os, "write", short_then_full)
    with pytest.raises(WriteError, match="No space left on device; the project was left as it"):
        apply_plan(small, growing_plan())
    assert len(written) > 10  # the journal in many parts, then "app"
    assert tree_snapshot(small) == before
