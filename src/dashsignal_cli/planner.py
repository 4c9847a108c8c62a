"""Classify every path of a project before anything is written: the heart of safe regeneration.

`plan_changes` is pure: it takes what the spec now renders, a reader of the project's current
text, and the manifest of what was generated last time, and says for each path what to do. The
writer carries the plan out; `--dry-run` and `check` only report it.

The rules of ownership it enforces:
- a managed file untouched since we generated it is rewritten; one edited by hand gets a
  three-way merge, and a clash is written with conflict markers (or, with force, replaced after a
  backup copy);
- a user file is created once and then never overwritten nor deleted;
- a file the spec no longer produces is deleted only if it is unchanged since we wrote it; a
  managed one edited by hand is kept and handed over: it leaves the records and is the user's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from dashsignal_cli.manifest import MANIFEST_FILE, Entry, Manifest, base_path, digest
from dashsignal_cli.merge import (
    has_conflict_markers,
    merge_taking_generated,
    merge_three_way,
    resolve_markers_to_generated,
)
from dashsignal_cli.render import GeneratedFile, Owner

__all__ = ["HANDED_OVER", "Action", "Change", "Plan", "plan_changes"]

Reader = Callable[[str], "str | None"]

# User files the app cannot run without: recreated if the user deleted them.
_REQUIRED_USER_FILE = re.compile(r"(app|data)\.py|(views|stages)/[A-Za-z_][A-Za-z0-9_]*\.py")


# A managed file the spec no longer produces, edited by hand: kept, and the user's from now on.
HANDED_OVER = (
    "no longer generated, but edited by hand: kept, and yours now (dashsignal no longer "
    "tracks it): delete it when you no longer need it"
)

# Why a user file of a removed entry is kept, by its folder.
_ORPHAN_NOTES = {"views": "belongs to no view any more", "stages": "belongs to no stage any more"}


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"  # managed and untouched since generated: rewritten
    MERGE = "merge"  # managed and edited by hand: the edits carried onto the new version
    CONFLICT = "conflict"  # managed, and the edits clash with the new version: markers written
    REPLACE = "replace"  # --force on a conflict: rewritten after a backup copy
    DELETE = "delete"  # no longer produced, and unchanged since generated
    # No longer produced, but the user's own, or managed and edited by hand: left alone. A managed
    # one is handed over: it leaves the records, so it is reported this once and is the user's.
    KEEP = "keep"
    UNCHANGED = "unchanged"


WRITES = (Action.CREATE, Action.UPDATE, Action.MERGE, Action.CONFLICT, Action.REPLACE)


@dataclass(frozen=True)
class Change:
    path: str
    action: Action
    owner: Owner
    before: str | None  # the text on disk now
    after: str | None  # the text to write, for the actions in WRITES
    note: str = ""
    backup: str | None = None  # where REPLACE saves `before`
    edited: bool = False  # a managed file whose text differs from what we last generated


@dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...]
    # Files under .dashsignal/ to write (text) or delete (None); only those that differ on disk.
    records: dict[str, str | None]

    def having(self, *actions: Action) -> list[Change]:
        return [c for c in self.changes if c.action in actions]

    @property
    def conflicts(self) -> list[Change]:
        return self.having(Action.CONFLICT)

    def read_before(self, path: str) -> str | None:
        """The text on disk of a path the plan names, as it was when planned."""
        return next((c.before for c in self.changes if c.path == path), None)

    def paths(self) -> list[str]:
        """Every path the plan names: read, written or deleted, records and backups included."""
        backups = [c.backup for c in self.changes if c.backup]
        return [*(c.path for c in self.changes), *backups, *self.records]

    def written_paths(self) -> list[str]:
        """The paths carrying out the plan writes or deletes (a dry run included)."""
        changed = [
            c for c in self.having(*WRITES, Action.DELETE) if c.after or c.action is Action.DELETE
        ]
        backups = [c.backup for c in changed if c.backup]
        return [*(c.path for c in changed), *backups, *self.records]

    @property
    def touches_nothing(self) -> bool:
        return not self.records and not self.having(*WRITES, Action.DELETE)


def plan_changes(
    rendered: dict[str, GeneratedFile],
    read: Reader,
    manifest: Manifest,
    demo: dict[str, Any],
    *,
    force: bool = False,
) -> Plan:
    """What to do with every path, given the new render, the disk and the last manifest."""
    changes: list[Change] = []
    for path, item in rendered.items():
        entry = manifest.files.get(path)
        if item.owner is Owner.MANAGED:
            changes.append(_plan_managed(path, item.text, read, entry, force=force))
        else:
            changes.append(_plan_owned_by_user(path, item, read(path), entry))
    for path, entry in manifest.files.items():
        if path not in rendered:
            stale = _plan_stale(path, entry, read(path))
            if stale is not None:
                changes.append(stale)
    changes.sort(key=lambda change: change.path)
    return Plan(tuple(changes), _records(rendered, changes, read, manifest, demo))


def _plan_managed(path: str, new: str, read: Reader, entry: Entry | None, *, force: bool) -> Change:
    current = read(path)
    if current is None:
        note = "recreated: it was deleted" if entry else ""
        return Change(path, Action.CREATE, Owner.MANAGED, None, new, note)
    if current == new:
        edited = entry is not None and digest(current) != entry.sha256
        return Change(path, Action.UNCHANGED, Owner.MANAGED, current, None, edited=edited)
    edited = entry is None or digest(current) != entry.sha256
    if not edited:
        return Change(path, Action.UPDATE, Owner.MANAGED, current, new)

    base = read(base_path(path)) if entry else None
    if has_conflict_markers(current):
        merged_text, clash, note = current, True, "still holds conflict markers: resolve them first"
    elif base is None:
        merged = merge_three_way("", current, new)
        merged_text, clash, note = merged.text, True, "not written by dashsignal: nothing to merge"
    else:
        merged = merge_three_way(base, current, new)
        merged_text, clash = merged.text, merged.conflicted
        note = "your edits clash with the new version" if clash else "your edits kept"
    if clash and force:
        forced, note = _forced(current, base, new)
        return Change(
            path,
            Action.REPLACE,
            Owner.MANAGED,
            current,
            forced,
            note,
            backup=_free_backup_name(path, read),
            edited=True,
        )
    if clash:
        write = None if merged_text == current else merged_text
        return Change(path, Action.CONFLICT, Owner.MANAGED, current, write, note, edited=True)
    if merged_text == current:
        return Change(path, Action.UNCHANGED, Owner.MANAGED, current, None, note, edited=True)
    return Change(path, Action.MERGE, Owner.MANAGED, current, merged_text, note, edited=True)


def _forced(current: str, base: str | None, new: str) -> tuple[str, str]:
    """What --force writes over a clash: your edits that do not clash, the generated text where
    they do. With no base (or markers edited by hand) nothing can be told apart: the new text."""
    if base is not None and has_conflict_markers(current):
        # Markers of an earlier run: take their generated side, then carry the rest forward.
        resolved = resolve_markers_to_generated(current)
        if resolved is not None:
            current = resolved
        else:
            base = None
    if base is None:
        return new, "replaced (--force)"
    return (
        merge_taking_generated(base, current, new),
        "clashing hunks replaced by the generated version (--force), your other edits kept",
    )


def _plan_owned_by_user(
    path: str, item: GeneratedFile, current: str | None, entry: Entry | None
) -> Change:
    if item.owner is Owner.SPEC:
        if current == item.text:
            return Change(path, Action.UNCHANGED, Owner.SPEC, current, None)
        return Change(path, Action.UPDATE, Owner.SPEC, current, item.text)
    if current is not None:
        return Change(path, Action.UNCHANGED, Owner.USER, current, None)
    if entry is None:
        return Change(path, Action.CREATE, Owner.USER, None, item.text)
    if _REQUIRED_USER_FILE.fullmatch(path):
        note = "recreated: the app needs it"
        return Change(path, Action.CREATE, Owner.USER, None, item.text, note)
    # The user deleted a file of theirs the app can do without (README, .gitignore): respect it.
    return Change(path, Action.UNCHANGED, Owner.USER, None, None)


def _plan_stale(path: str, entry: Entry, current: str | None) -> Change | None:
    if current is None or entry.owner is Owner.SPEC:
        return None
    if entry.owner is Owner.USER:
        note = _ORPHAN_NOTES.get(path.split("/", 1)[0], "no longer generated")
        return Change(path, Action.KEEP, Owner.USER, current, None, note)
    if digest(current) == entry.sha256:
        return Change(path, Action.DELETE, Owner.MANAGED, current, None)
    return Change(path, Action.KEEP, Owner.MANAGED, current, None, HANDED_OVER, edited=True)


def _records(
    rendered: dict[str, GeneratedFile],
    changes: list[Change],
    read: Reader,
    manifest: Manifest,
    demo: dict[str, Any],
) -> dict[str, str | None]:
    """The new manifest and base copies, limited to what differs from the disk."""
    entries = {p: Entry(f.owner, digest(f.text)) for p, f in rendered.items()}
    bases = {p: f.text for p, f in rendered.items() if f.owner is Owner.MANAGED}
    for change in changes:
        if change.action is Action.KEEP and change.owner is Owner.USER:
            # An orphan module of the user's: still reported until the user deletes it.
            entries[change.path] = manifest.files[change.path]
        # A managed file kept (HANDED_OVER) leaves the records, its base copy with it: from now
        # on it is a file of the user's that dashsignal knows nothing of, like any other.
    wanted: dict[str, str | None] = {
        MANIFEST_FILE: Manifest(entries, demo).dumps(),
        **{base_path(p): text for p, text in bases.items()},
    }
    for path, entry in manifest.files.items():
        if entry.owner is Owner.MANAGED and path not in bases:
            wanted[base_path(path)] = None
    return {path: text for path, text in sorted(wanted.items()) if read(path) != text}


def _free_backup_name(path: str, read: Reader) -> str:
    candidate, number = f"{path}.dashsignal-backup", 1
    while read(candidate) is not None:
        number += 1
        candidate = f"{path}.dashsignal-backup-{number}"
    return candidate
