"""The journal of a write in progress: what lets the next command finish or undo it.

The writer records every step it is about to take in `.dashsignal/journal-<state>.json` before
it takes any. The state is the file's name, changed by renaming it (a rename needs no free
space and cannot be half done):

- `prepare`: the new texts are being written to temporary files; nothing of the project has
  changed yet. A command that finds it rolls back: deletes those temporary files.
- `commit`: every new text is on disk; the files are being renamed into place. A command that
  finds it rolls forward: renames the rest into place.
- `rollback`: a rename failed and the writer was putting the old files back. A command that
  finds it finishes that.

This module only describes the journal; the writer (the only module that writes) keeps it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import StrEnum

from dashsignal_cli.errors import InterruptedWriteError
from dashsignal_cli.manifest import MANIFEST_DIR, is_project_path

__all__ = [
    "Journal",
    "Step",
    "State",
    "is_temporary_name",
    "journal_path",
    "temporary_name",
]

_FORMAT = 1
# `.NAME.<8 hex>.dashsignal-new` (a new text) and `.NAME.<8 hex>.dashsignal-old` (the text it
# replaces, until the write is done), beside NAME.
_TEMPORARY = re.compile(r"\.(?P<name>.+)\.[0-9a-f]{8}\.dashsignal-(?P<kind>new|old)\Z")


class State(StrEnum):
    PREPARE = "prepare"
    COMMIT = "commit"
    ROLLBACK = "rollback"


def journal_path(state: State) -> str:
    """The journal's path in the project, in `state`."""
    return f"{MANIFEST_DIR}/journal-{state}.json"


def temporary_name(path: str, token: str, kind: str) -> str:
    """The path of a temporary file beside `path`: kind `new` or `old`."""
    folder, _, name = path.rpartition("/")
    return f"{folder}/.{name}.{token}.dashsignal-{kind}".lstrip("/")


def is_temporary_name(name: str) -> bool:
    """True for a file name the writer gives its temporary files."""
    return _TEMPORARY.match(name) is not None


@dataclass(frozen=True)
class Step:
    """One file of the write: `path` gets the text in `new`, or (new None) is deleted.

    `old` is where the current file is set aside until the write is done, when there is one.
    """

    path: str
    new: str | None
    old: str | None


@dataclass(frozen=True)
class Journal:
    steps: tuple[Step, ...]
    # Folders the write creates, parents first: removed again by a roll-back.
    made_dirs: tuple[str, ...] = field(default=())

    def dumps(self) -> str:
        data = {
            "format": _FORMAT,
            "made_dirs": list(self.made_dirs),
            "steps": [{"path": s.path, "new": s.new, "old": s.old} for s in self.steps],
        }
        return json.dumps(data, indent=1) + "\n"

    @classmethod
    def loads(cls, text: str, where: str) -> Journal:
        try:
            data = json.loads(text)
            if data["format"] != _FORMAT:
                raise ValueError("unknown format")
            steps = tuple(
                Step(str(item["path"]), _optional(item["new"]), _optional(item["old"]))
                for item in data["steps"]
            )
            made_dirs = tuple(str(folder) for folder in data["made_dirs"])
            for step in steps:
                _check_step(step)
            if not all(is_project_path(folder) for folder in made_dirs):
                raise ValueError("a folder leaves the project")
        except (ValueError, KeyError, TypeError):
            raise InterruptedWriteError(
                f"{where} is damaged, so an interrupted write cannot be finished",
                hint="Restore the project from version control, then delete that file.",
            ) from None
        return cls(steps, made_dirs)

    def paths(self) -> list[str]:
        """Every path the journal names: targets, temporary files and folders."""
        named = [p for s in self.steps for p in (s.path, s.new, s.old) if p is not None]
        return [*named, *self.made_dirs]


def _optional(value: object) -> str | None:
    return None if value is None else str(value)


def _check_step(step: Step) -> None:
    """A tampered journal must not make us rename or delete anything but our own files."""
    if not is_project_path(step.path):
        raise ValueError("a path leaves the project")
    folder = step.path.rpartition("/")[0]
    for temporary, kind in ((step.new, "new"), (step.old, "old")):
        if temporary is None:
            continue
        match = _TEMPORARY.match(temporary.rpartition("/")[2])
        if (
            match is None
            or match["kind"] != kind
            or temporary.rpartition("/")[0] != folder
            or match["name"] != step.path.rpartition("/")[2]
        ):
            raise ValueError("not a temporary file of this path")
