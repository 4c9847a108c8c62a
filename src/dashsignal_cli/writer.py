"""The only module that writes to a project: manifest, base copies and atomic writes.

A change to a project is one transaction, recorded in a journal (see journal.py) before any
step is taken, so that a write interrupted anywhere, even by SIGKILL or a power cut between
two renames, is finished or undone by the next command (`recover`): the project is then
entirely as it was or entirely as the command meant to leave it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dashsignal_cli.errors import (
    BusyError,
    InterruptedWriteError,
    OutsideProjectError,
    TargetExistsError,
    WriteError,
)
from dashsignal_cli.journal import Journal, State, Step, journal_path, temporary_name
from dashsignal_cli.manifest import MANIFEST_DIR
from dashsignal_cli.planner import WRITES, Action, Plan
from dashsignal_cli.project import links_outside
from dashsignal_cli.render import GeneratedFile

__all__ = [
    "MANIFEST_DIR",
    "Recovery",
    "apply_plan",
    "check_inside",
    "check_plan_inside",
    "create_project",
    "project_lock",
    "recover",
]


def create_project(target: Path, files: dict[str, GeneratedFile]) -> list[str]:
    """Write a new project into `target` (absent or empty) all at once; return the paths written.

    The files are written into a staging folder beside `target` and moved into place with one
    rename, so an interruption or a failure leaves no partial project behind.
    """
    check_target_free(target)
    parent = target.parent
    try:
        staging = Path(
            tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".dashsignal", dir=parent)
        )
    except OSError as error:
        raise WriteError(f"cannot write in {parent}: {error.strerror}") from None
    try:
        for path, item in files.items():
            destination = staging / path
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_text(item.text, encoding="utf-8", newline="\n")
        staging.chmod(0o777 & ~_umask())
        # rename(2) replaces an empty directory atomically, and fails on a non-empty one.
        staging.rename(target)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise WriteError(f"cannot write the project to {target}: {error.strerror}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return list(files)


def check_target_free(target: Path) -> None:
    """Raise unless `target` is absent or an empty directory."""
    try:
        if not target.exists():
            if not target.parent.is_dir():
                raise WriteError(
                    f"cannot create {target}: {target.parent} is not a directory",
                    hint="Create that folder first, or pass another --directory.",
                )
            return
        if not target.is_dir():
            raise TargetExistsError(f"{target} exists and is not a directory")
        if any(target.iterdir()):
            raise TargetExistsError(
                f"{target} exists and is not empty",
                hint="Choose another name, or remove the folder first.",
            )
    except OSError as error:
        raise WriteError(
            f"cannot create {target}: {error.strerror}",
            hint="Choose a shorter name or another --directory.",
        ) from None


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def apply_plan(root: Path, plan: Plan) -> None:
    """Carry out `plan` in `root` as one transaction: all of it, or (on failure) none of it.

    Call it inside `project_lock(root)`, after `recover(root)`.
    """
    writes: dict[str, str] = {}
    deletes: list[str] = []
    for change in plan.changes:
        if change.action is Action.REPLACE and change.backup and change.before is not None:
            writes[change.backup] = change.before
        if change.action in WRITES and change.after is not None:
            writes[change.path] = change.after
        if change.action is Action.DELETE:
            deletes.append(change.path)
    for path, text in plan.records.items():
        if text is None:
            deletes.append(path)
        else:
            writes[path] = text
    if not writes and not deletes:
        return  # e.g. only conflicts whose markers are already there
    check_plan_inside(root, plan)
    _Transaction(root, writes, deletes).run()


def check_plan_inside(root: Path, plan: Plan) -> None:
    """Refuse a plan that would write through a link to outside the project (dry run too)."""
    if not plan.touches_nothing:
        check_inside(root, [*plan.written_paths(), *(journal_path(s) for s in State)])


def check_inside(root: Path, paths: list[str]) -> None:
    """Refuse, before anything is written, a path that leads outside the project via a link."""
    try:
        outside = links_outside(root, paths)
    except OSError as error:  # a name too long to look at: it could not be written either
        raise _write_error(root, error, []) from None
    if outside:
        path, why = next(iter(outside.items()))
        more = f" (and {len(outside) - 1} more path(s))" if len(outside) > 1 else ""
        raise OutsideProjectError(
            f"refusing to write {path}: {why}{more}",
            hint="dashsignal writes only inside the project: replace the link by a folder or "
            "file of the project, then run the command again.",
        )


@contextlib.contextmanager
def project_lock(root: Path) -> Iterator[None]:
    """Hold the project's lock: one dashsignal command at a time writes (or recovers) it."""
    import fcntl

    try:
        handle = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as error:
        raise WriteError(f"cannot open {root}: {error.strerror}") from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BusyError(
                f"another dashsignal command is changing {root}",
                hint="Wait for it to finish, then run the command again.",
            ) from None
        except OSError:
            pass  # a file system without locks: go on as dashsignal always did
        yield
    finally:
        os.close(handle)


@dataclass(frozen=True)
class Recovery:
    """What `recover` did with an interrupted write."""

    state: State
    rolled_forward: bool
    paths: tuple[str, ...]

    @property
    def summary(self) -> str:
        done = (
            "finished (rolled forward): the project has what that command wrote"
            if self.rolled_forward
            else "undone (rolled back): the project is as it was before that command"
        )
        return (
            f"a write interrupted in its {self.state} step, {len(self.paths)} file(s), was {done}"
        )


def recover(root: Path) -> Recovery | None:
    """Finish or undo a write that was interrupted (the journal says which); None if none was.

    Call it inside `project_lock(root)`. A write interrupted before all its new texts were on
    disk is undone; one interrupted while renaming them into place is finished.
    """
    present = [s for s in State if os.path.lexists(root / journal_path(s))]
    if not present:
        return None
    if len(present) > 1:
        names = ", ".join(journal_path(s) for s in present)
        raise InterruptedWriteError(
            f"{names}: more than one journal, so an interrupted write cannot be finished",
            hint="Restore the project from version control, then delete those files.",
        )
    state = present[0]
    where = journal_path(state)
    try:
        text = (root / where).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InterruptedWriteError(f"cannot read {where}: {error}") from None
    try:
        journal = Journal.loads(text, where)
    except InterruptedWriteError:
        if state is not State.PREPARE:
            raise
        # Written whole (and synced) before any other step: a torn one means nothing was done.
        journal = Journal(())
    check_inside(root, [*journal.paths(), where])
    if state is State.COMMIT:
        failed = _roll_forward(root, journal)
    else:
        failed = _roll_back(root, journal, swapped=state is State.ROLLBACK)
    if failed:
        what = "finished" if state is State.COMMIT else "undone"
        raise InterruptedWriteError(
            f"an interrupted write could not be {what}: {failed[0]}",
            hint=f"Fix that, then run the command again; {where} keeps what is left to do.",
        )
    _remove(root, root / where, journal, rolled_back=state is not State.COMMIT)
    return Recovery(state, state is State.COMMIT, tuple(s.path for s in journal.steps))


class _Transaction:
    """One write of a project: prepare (new texts beside their targets), commit, finish."""

    def __init__(self, root: Path, writes: dict[str, str], deletes: list[str]) -> None:
        self.root = root
        self.texts = writes
        self._journal_written = False
        steps = []
        for path in writes:
            token = secrets.token_hex(4)
            old = temporary_name(path, token, "old") if self._exists(path) else None
            steps.append(Step(path, temporary_name(path, token, "new"), old))
        for path in deletes:
            if self._exists(path):
                steps.append(Step(path, None, temporary_name(path, secrets.token_hex(4), "old")))
        self.journal = Journal(
            tuple(steps), self._missing_folders([*writes, journal_path(State.PREPARE)])
        )

    def run(self) -> None:
        prepare = self.root / journal_path(State.PREPARE)
        commit = self.root / journal_path(State.COMMIT)
        try:
            self._prepare(prepare)
            # The staged files' names are on disk before the journal says they are ready.
            _sync_folders(self.root, self._staging_folders())
            prepare.replace(commit)  # the commit point: from here on, the write is finished
        except BaseException as error:
            failed = _roll_back(self.root, self.journal, swapped=False)
            if not failed and self._journal_written:
                _remove(self.root, prepare, self.journal, rolled_back=True)
            elif not failed and MANIFEST_DIR in self.journal.made_dirs:
                _remove_dir(self.root / MANIFEST_DIR)
            raise _write_error(self.root, error, failed) from None
        try:
            _sync_folders(self.root, [MANIFEST_DIR])  # the commit is on disk before any rename
            for step in self.journal.steps:
                self._swap(step)
        except BaseException as error:
            raise self._undo_commit(commit, error) from None
        failed = _roll_forward(self.root, self.journal)
        # The journal goes only once every rename is on disk: a power cut before then leaves
        # it for the next command, which finds the files in place and finishes.
        if not failed and _synced(self.root, [_folder(step.path) for step in self.journal.steps]):
            _remove(self.root, commit, self.journal, rolled_back=False)
        # A set-aside copy that cannot be removed is harmless; the next command retries.

    def _prepare(self, prepare: Path) -> None:
        made = self.journal.made_dirs
        manifest_dir = [d for d in made if d == MANIFEST_DIR]
        for folder in manifest_dir:
            (self.root / folder).mkdir()
        _write_new(prepare, self.journal.dumps())
        self._journal_written = True
        for folder in made:
            if folder not in manifest_dir:
                (self.root / folder).mkdir()
        for step in self.journal.steps:
            if step.new is not None:
                temporary = self.root / step.new
                _write_new(temporary, self.texts[step.path])
                if step.old is not None:
                    shutil.copymode(self.root / step.path, temporary)

    def _swap(self, step: Step) -> None:
        target = self.root / step.path
        if step.old is not None:
            aside = self.root / step.old
            if step.new is None:
                target.replace(aside)
                return
            try:
                # A second name for the current file: the target is never missing.
                os.link(target, aside, follow_symlinks=False)
            except OSError:
                target.replace(aside)
        assert step.new is not None
        (self.root / step.new).replace(target)

    def _undo_commit(self, commit: Path, error: BaseException) -> BaseException:
        """Put the old files back after a failed rename; return the error to raise."""
        rollback = self.root / journal_path(State.ROLLBACK)
        try:
            commit.replace(rollback)
        except OSError as failure:
            return WriteError(
                f"cannot write {_where(self.root, error)}, and the write could not be undone "
                f"({failure.strerror})",
                hint="The next dashsignal command finishes it (journal in .dashsignal/).",
            )
        failed = _roll_back(self.root, self.journal, swapped=True)
        if not failed:
            _remove(self.root, rollback, self.journal, rolled_back=True)
        return _write_error(self.root, error, failed)

    def _staging_folders(self) -> list[str]:
        """The folders whose entries this write added before its commit point: the journal's,
        the new folders' parents, and those its new texts are staged in."""
        staged = [_folder(step.new) for step in self.journal.steps if step.new is not None]
        made = [_folder(folder) for folder in self.journal.made_dirs]
        return [MANIFEST_DIR, *made, *staged]

    def _exists(self, path: str) -> bool:
        return os.path.lexists(self.root / path)

    def _missing_folders(self, paths: list[str]) -> tuple[str, ...]:
        folders: set[str] = set()
        for path in paths:
            parts = path.split("/")[:-1]
            folders.update("/".join(parts[: i + 1]) for i in range(len(parts)))
        missing = [f for f in folders if not os.path.lexists(self.root / f)]
        return tuple(sorted(missing, key=lambda f: (f.count("/"), f)))


def _folder(path: str) -> str:
    """The folder of a project path, relative to the project ("" for the project itself)."""
    return path.rpartition("/")[0]


def _sync_folders(root: Path, folders: list[str]) -> None:
    """fsync each folder, so that the names created or renamed in it survive a power cut
    (a file's own fsync does not cover its name)."""
    for folder in sorted(set(folders)):
        handle = os.open(root / folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


def _synced(root: Path, folders: list[str]) -> bool:
    """Whether `_sync_folders` succeeded (a failure after the commit point is not an error:
    the files are in place, and the journal is kept for the next command to finish)."""
    try:
        _sync_folders(root, folders)
    except OSError:
        return False
    return True


def _write_new(path: Path, text: str) -> None:
    """Create `path` (it must not exist) with `text`, synced to disk; on failure, no `path`."""
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    try:
        view = memoryview(text.encode("utf-8"))
        while view:
            view = view[os.write(handle, view) :]
        os.fsync(handle)
    except BaseException:
        os.close(handle)
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    os.close(handle)


def _roll_forward(root: Path, journal: Journal) -> list[str]:
    """Put every new text in place, delete what is deleted and the set-aside copies."""
    failed: list[str] = []
    for step in journal.steps:
        target = root / step.path
        try:
            if step.new is not None and os.path.lexists(root / step.new):
                (root / step.new).replace(target)
            elif step.new is None and os.path.lexists(target):
                target.unlink()
            if step.old is not None and os.path.lexists(root / step.old):
                (root / step.old).unlink()
        except OSError as error:
            failed.append(f"{step.path}: {error.strerror}")
    return failed


def _roll_back(root: Path, journal: Journal, *, swapped: bool) -> list[str]:
    """Put every file back as it was; return what could not be (empty when all went well).

    Only files this write created are removed: a temporary file that is not there (a read-only
    or a full disk refused it) is not touched. `swapped`: renames into place may have happened.
    """
    failed: list[str] = []
    for step in reversed(journal.steps):
        target = root / step.path
        try:
            if swapped and step.old is not None and os.path.lexists(root / step.old):
                aside = root / step.old
                if _same_file(aside, target):
                    aside.unlink()  # rename(2) of one hard link onto another does nothing
                else:
                    aside.replace(target)
            elif (
                swapped
                and step.new is not None
                and step.old is None
                and not os.path.lexists(root / step.new)
                and os.path.lexists(target)
            ):
                target.unlink()  # a new file, already renamed into place
            if step.new is not None and os.path.lexists(root / step.new):
                (root / step.new).unlink()
        except OSError as error:
            failed.append(f"{step.path}: {error.strerror}")
    for folder in reversed(journal.made_dirs):
        if folder == MANIFEST_DIR:
            continue  # it holds the journal: removed last, by the caller's _remove
        _remove_dir(root / folder)
    return failed


def _same_file(one: Path, other: Path) -> bool:
    try:
        a, b = one.lstat(), other.lstat()
    except FileNotFoundError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _remove(root: Path, journal_file: Path, journal: Journal, *, rolled_back: bool) -> None:
    """Delete a finished journal; after a roll-back, .dashsignal/ too if the write created it.

    A journal that cannot be deleted is harmless: the next command finds its work done.
    """
    with contextlib.suppress(OSError):
        journal_file.unlink()
    if rolled_back and MANIFEST_DIR in journal.made_dirs:
        _remove_dir(root / MANIFEST_DIR)


def _remove_dir(folder: Path) -> None:
    """Remove a folder the write created, if nothing else has been put in it."""
    with contextlib.suppress(OSError):
        folder.rmdir()


def _where(root: Path, error: BaseException) -> str:
    name = getattr(error, "filename", None)
    if not name:
        return str(root)
    with contextlib.suppress(ValueError):
        return Path(name).relative_to(root).as_posix()
    return str(name)


def _write_error(root: Path, error: BaseException, failed: list[str]) -> BaseException:
    """The error to raise for `error`; a KeyboardInterrupt (or any non-OSError) stays itself."""
    if not isinstance(error, OSError):
        return error
    reason = error.strerror or str(error)
    if error.errno == errno.ENAMETOOLONG:
        reason = "file name too long"
    if failed:
        return WriteError(
            f"cannot write {_where(root, error)}: {reason}; and could not put back {failed[0]}",
            hint="Fix that, then run any dashsignal command: it finishes undoing the write.",
        )
    return WriteError(
        f"cannot write {_where(root, error)}: {reason}; the project was left as it was",
        hint=_HINTS.get(error.errno or 0, "Fix the cause, then run the command again."),
    )


_HINTS = {
    errno.ENOSPC: "Free some disk space, then run the command again.",
    errno.EDQUOT: "Free some disk space (you are over quota), then run the command again.",
    errno.EROFS: "The project is on a read-only file system: copy it somewhere writable.",
    errno.EACCES: "You may not write there: check the permissions of the project's folders.",
    errno.EPERM: "The file system refused it (an immutable file? chattr -i): check the file.",
}
