"""The only module that writes to a project: manifest, base copies and atomic writes."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from dashsignal_cli.errors import TargetExistsError, WriteError
from dashsignal_cli.manifest import MANIFEST_DIR
from dashsignal_cli.planner import WRITES, Action, Plan
from dashsignal_cli.render import GeneratedFile

__all__ = ["MANIFEST_DIR", "apply_plan", "create_project"]


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
    if not target.exists():
        if not target.parent.is_dir():
            raise WriteError(f"cannot create {target}: {target.parent} is not a directory")
        return
    if not target.is_dir():
        raise TargetExistsError(f"{target} exists and is not a directory")
    if any(target.iterdir()):
        raise TargetExistsError(
            f"{target} exists and is not empty",
            hint="Choose another name, or remove the folder first.",
        )


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def apply_plan(root: Path, plan: Plan) -> None:
    """Carry out `plan` in `root` as one transaction: all of it, or (on failure) none of it.

    Every new text is first written to a temporary file beside its target; only when all are
    written are they renamed into place, the replaced files set aside and restored if a later
    rename fails.
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
    _Transaction(root).run(writes, deletes)


@dataclass
class _Transaction:
    root: Path
    _staged: dict[Path, Path] = field(default_factory=dict)  # target -> temporary new file
    _set_aside: dict[Path, Path] = field(default_factory=dict)  # target -> its previous file
    _done: list[Path] = field(default_factory=list)
    _made_dirs: list[Path] = field(default_factory=list)

    def run(self, writes: dict[str, str], deletes: list[str]) -> None:
        try:
            for relative, text in writes.items():
                self._stage(self.root / relative, text)
            for target, temporary in self._staged.items():
                self._swap_in(target, temporary)
            for doomed in map(self.root.joinpath, deletes):
                if doomed.exists():
                    self._set_aside[doomed] = self._aside(doomed)
                    self._done.append(doomed)
        except BaseException as error:
            self._roll_back()
            if isinstance(error, OSError):
                where = error.filename or self.root
                raise WriteError(
                    f"cannot write {where}: {error.strerror}; the project was left as it was"
                ) from None
            raise
        for previous in self._set_aside.values():
            previous.unlink(missing_ok=True)

    def _stage(self, target: Path, text: str) -> None:
        self._make_parents(target.parent)
        temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.dashsignal-new")
        self._staged[target] = temporary
        temporary.write_text(text, encoding="utf-8", newline="\n")
        if target.exists():
            shutil.copymode(target, temporary)

    def _swap_in(self, target: Path, temporary: Path) -> None:
        if target.exists():
            self._set_aside[target] = self._aside(target)
        self._done.append(target)
        temporary.replace(target)

    def _aside(self, path: Path) -> Path:
        aside = path.with_name(f".{path.name}.{secrets.token_hex(4)}.dashsignal-old")
        path.replace(aside)
        return aside

    def _make_parents(self, folder: Path) -> None:
        missing = [p for p in (folder, *folder.parents) if not p.exists()]
        for parent in reversed(missing):
            parent.mkdir()
            self._made_dirs.append(parent)

    def _roll_back(self) -> None:
        for target in reversed(self._done):
            previous = self._set_aside.pop(target, None)
            if previous is not None:
                previous.replace(target)
            elif target.exists() and target in self._staged:
                target.unlink()
        for temporary in self._staged.values():
            temporary.unlink(missing_ok=True)
        for folder in reversed(self._made_dirs):
            folder.rmdir()
