"""The only module that writes to a project: manifest, base copies and atomic writes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from dashsignal_cli import __version__
from dashsignal_cli.errors import TargetExistsError, WriteError
from dashsignal_cli.render import GeneratedFile, Owner

__all__ = ["MANIFEST_DIR", "create_project", "with_manifest"]

# Kept in the project (and in its version control): the hashes of what was last generated and a
# copy of every managed file as generated, the base of a three-way merge with the user's edits.
MANIFEST_DIR = ".dashsignal"
MANIFEST_FILE = f"{MANIFEST_DIR}/manifest.json"
BASE_DIR = f"{MANIFEST_DIR}/base"


def with_manifest(files: dict[str, GeneratedFile]) -> dict[str, GeneratedFile]:
    """`files` plus the manifest and the base copies that record them."""
    manifest = {
        "dashsignal": __version__,
        "files": {
            path: {"owner": str(item.owner), "sha256": _digest(item.text)}
            for path, item in files.items()
        },
    }
    extra = {
        MANIFEST_FILE: GeneratedFile(json.dumps(manifest, indent=2) + "\n", Owner.MANAGED),
    }
    for path, item in files.items():
        if item.owner is Owner.MANAGED:
            extra[f"{BASE_DIR}/{path}"] = GeneratedFile(item.text, Owner.MANAGED)
    return dict(sorted({**files, **extra}.items()))


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


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
