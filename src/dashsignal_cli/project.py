"""Finding a project on disk and reading its current state (reading only: the writer writes)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from dashsignal_cli.errors import DashsignalError
from dashsignal_cli.manifest import MANIFEST_FILE, Manifest, is_project_path
from dashsignal_cli.specfile import SPEC_FILENAME

__all__ = ["ProjectFiles", "find_project"]


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
