"""Real file-system conditions for the tests that need them, made and undone by each test.

As root (the tests run as root in CI, for whom chmod stops nothing) a read-only folder is a
read-only bind mount of itself, a small disk a tmpfs, an immutable file `chattr +i`; a test
skips only where root cannot mount or chattr here.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def _root_command(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=30)


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """`folder` and everything under it read-only for the time of the block, root or not."""
    if os.geteuid() != 0:
        folders = [folder, *(p for p in folder.rglob("*") if p.is_dir() and not p.is_symlink())]
        modes = {p: p.stat().st_mode for p in folders}
        for path in folders:
            path.chmod(modes[path] & ~0o222)
        try:
            yield
        finally:
            for path in folders:
                path.chmod(modes[path])
        return
    try:
        _root_command("mount", "--bind", str(folder), str(folder))
    except (OSError, subprocess.CalledProcessError) as error:
        pytest.skip(f"root, yet cannot bind-mount here (needs mount(8) and CAP_SYS_ADMIN): {error}")
    try:
        _root_command("mount", "-o", "remount,bind,ro", str(folder))
        yield
    finally:
        _root_command("umount", str(folder))


@contextlib.contextmanager
def small_disk(folder: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted on `folder`, for the time of the block."""
    folder.mkdir()
    try:
        _root_command("mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder))
    except (OSError, subprocess.CalledProcessError) as error:
        pytest.skip(f"cannot mount a tmpfs here (needs root and mount(8)): {error}")
    try:
        yield folder
    finally:
        _root_command("umount", str(folder))


def fill(disk: Path, leave: int) -> None:
    """Fill `disk` up, then free `leave` bytes again."""
    filler = disk / "filler"
    handle = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        block = b"\0" * 4096
        with contextlib.suppress(OSError):
            while True:
                os.write(handle, block)
        os.ftruncate(handle, max(0, os.fstat(handle).st_size - leave))
    finally:
        os.close(handle)


@contextlib.contextmanager
def immutable(path: Path) -> Iterator[None]:
    try:
        _root_command("chattr", "+i", str(path))
    except (OSError, subprocess.CalledProcessError) as error:
        pytest.skip(f"chattr +i is not available here: {error}")
    try:
        yield
    finally:
        _root_command("chattr", "-i", str(path))
