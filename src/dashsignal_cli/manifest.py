"""The record of what dashsignal last generated: `.dashsignal/manifest.json` and base copies.

The manifest holds, per path, who owns the file and the sha256 of the text we generated; a
managed file whose text on disk has another digest was edited by hand. `.dashsignal/base/<path>`
keeps that generated text itself: the base of the three-way merge with the user's edits.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from dashsignal_cli import __version__
from dashsignal_cli.errors import DamagedRecordError
from dashsignal_cli.render import GeneratedFile, Owner

__all__ = [
    "BASE_DIR",
    "MANIFEST_DIR",
    "MANIFEST_FILE",
    "Entry",
    "Manifest",
    "base_path",
    "digest",
    "is_project_path",
]

MANIFEST_DIR = ".dashsignal"
MANIFEST_FILE = f"{MANIFEST_DIR}/manifest.json"
BASE_DIR = f"{MANIFEST_DIR}/base"
_FORMAT = 1


@dataclass(frozen=True)
class Entry:
    owner: Owner
    sha256: str


@dataclass(frozen=True)
class Manifest:
    files: dict[str, Entry] = field(default_factory=dict)
    # The columns the demo data.py was written with (see render.demo_columns).
    demo: dict[str, Any] | None = None
    # The dashsignal that wrote this record; None for a project with no manifest yet. Manifests
    # of every version carry it (0.1.0 wrote it too), but it is read leniently all the same.
    version: str | None = None

    @classmethod
    def of(cls, files: dict[str, GeneratedFile], demo: dict[str, Any]) -> Manifest:
        """The manifest that records `files` as just generated."""
        return cls({p: Entry(f.owner, digest(f.text)) for p, f in files.items()}, demo)

    def dumps(self) -> str:
        """The manifest as written now: by the running dashsignal, whatever `version` says."""
        data = {
            "format": _FORMAT,
            "dashsignal": __version__,
            "demo": self.demo,
            "files": {
                path: {"owner": str(entry.owner), "sha256": entry.sha256}
                for path, entry in sorted(self.files.items())
            },
        }
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def loads(cls, text: str) -> Manifest:
        try:
            data = json.loads(text)
            files = {
                str(path): Entry(Owner(item["owner"]), str(item["sha256"]))
                for path, item in data["files"].items()
            }
            demo = data.get("demo")
            version = data.get("dashsignal")
            if not all(is_project_path(path) for path in files):
                raise ValueError("a path leaves the project")
        except (ValueError, KeyError, TypeError, AttributeError):
            raise DamagedRecordError(
                f"{MANIFEST_FILE} is damaged",
                hint="Restore it from version control; dashsignal needs it to tell your edits.",
            ) from None
        return cls(
            files,
            demo if isinstance(demo, dict) else None,
            version if isinstance(version, str) and version else None,
        )

    def same_record(self, other: Manifest) -> bool:
        """True when both record the same files and demo, whichever dashsignal wrote them."""
        return self.files == other.files and self.demo == other.demo


def is_project_path(path: str) -> bool:
    """A relative POSIX path that stays inside the project (a manifest could be tampered with)."""
    parts = path.split("/")
    return (
        bool(path)
        and not path.startswith("/")
        and "\\" not in path
        and ".." not in parts
        and ("" not in parts and ":" not in parts[0])
    )


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def base_path(path: str) -> str:
    return f"{BASE_DIR}/{path}"
