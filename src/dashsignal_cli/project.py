"""Finding a project on disk and reading its current state (reading only: the writer writes)."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from dashsignal_cli.errors import DashsignalError
from dashsignal_cli.manifest import MANIFEST_FILE, Manifest, is_project_path
from dashsignal_cli.specfile import SPEC_FILENAME

__all__ = ["ProjectFiles", "find_project", "leftover_files", "links_outside", "pending_journal"]


def find_project(explicit: Path | None, start: Path) -> Path:
    """The project root: `explicit`, or the nearest folder from `start` upwards with a spec."""
    if explicit is not None:
        if not (explicit / SPEC_FILENAME).is_file():
            raise DashsignalError(
                f"{explicit} is not a dashsignal project: it has no {SPEC_FILENAME}",
                hint="Pass the folder that holds dashsignal.toml to --project.",
            )
        return explicit
    for folder in (start, *start.parents):
        if (folder / SPEC_FILENAME).is_file():
            return folder
    raise DashsignalError(
        f"no {SPEC_FILENAME} in {start} or any folder above it",
        hint="Run the command inside a project made by `dashsignal new`, or pass --project PATH.",
    )


@dataclass
class ProjectFiles:
    """Read access to a project's files by relative POSIX path, each read at most once."""

    root: Path
    _cache: dict[str, str | None] = field(default_factory=dict)

    def read(self, path: str) -> str | None:
        """The text at `path`, or None when there is no such file."""
        if path not in self._cache:
            self._cache[path] = self._read(path)
        return self._cache[path]

    def _read(self, path: str) -> str | None:
        if not is_project_path(path):
            raise DashsignalError(f"refusing to read outside the project: {path!r}")
        try:
            return (self.root / path).read_bytes().decode("utf-8")
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            raise DashsignalError(f"{path} is a folder where dashsignal expects a file") from None
        except UnicodeDecodeError:
            raise DashsignalError(f"{path} is not UTF-8 text") from None
        except OSError as error:
            raise DashsignalError(f"cannot read {path}: {error.strerror}") from None

    def manifest(self) -> Manifest:
        text = self.read(MANIFEST_FILE)
        if text is None:
            # A project from before manifests, or one whose .dashsignal/ was removed: every
            # managed file then counts as edited, so nothing is overwritten without a merge.
            return Manifest()
        return Manifest.loads(text)

    @functools.cached_property
    def spec_text(self) -> str:
        text = self.read(SPEC_FILENAME)
        if text is None:
            raise DashsignalError(f"{self.root / SPEC_FILENAME} is missing")
        return text


def links_outside(root: Path, paths: Iterable[str]) -> dict[str, str]:
    """{path: why} for each of `paths` that leads outside `root` through a symbolic link.

    A path counts when any of its parts (a folder such as views/ or .dashsignal/, or the file
    itself) is a link whose target lies outside the project, or cannot be resolved.
    """
    base = root.resolve()
    found: dict[str, str] = {}
    for path in paths:
        parts = path.split("/")
        for depth in range(1, len(parts) + 1):
            part = "/".join(parts[:depth])
            candidate = root / part
            if not candidate.is_symlink():
                continue
            try:
                resolved = candidate.resolve(strict=False)
            except (OSError, RuntimeError):
                found[path] = f"{part} is a symbolic link that cannot be resolved"
                break
            if not resolved.is_relative_to(base):
                link = candidate.readlink()
                found[path] = f"{part} is a symbolic link to {link}, outside the project"
                break
    return found


def leftover_files(root: Path, folders: Iterable[str]) -> list[str]:
    """Temporary files of an unfinished write in `folders` (relative paths; "" is the root).

    Only the folders dashsignal writes in are looked at, so a virtualenv inside the project
    is never walked.
    """
    from dashsignal_cli.journal import is_temporary_name

    found: list[str] = []
    for folder in sorted(set(folders)):
        try:
            names = [entry.name for entry in (root / folder).iterdir()]
        except OSError:
            continue
        found.extend(f"{folder}/{n}".lstrip("/") for n in names if is_temporary_name(n))
    return sorted(found)


def pending_journal(root: Path) -> str | None:
    """The journal of an interrupted write in the project, if there is one."""
    from dashsignal_cli.journal import State, journal_path

    return next(
        (journal_path(s) for s in State if (root / journal_path(s)).is_file()),
        None,
    )
