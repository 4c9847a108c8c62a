"""The Rich consoles of the CLI layer; the library never prints."""

from __future__ import annotations

import builtins
import functools
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


@functools.cache
def out() -> Console:
    """Standard output: reports and results. Rich drops colour for NO_COLOR and for pipes."""
    from rich.console import Console

    # soft_wrap: one line per file or finding, whatever the width, so output greps well.
    return Console(highlight=False, soft_wrap=True)


@functools.cache
def err() -> Console:
    """Standard error: errors and hints."""
    from rich.console import Console

    # soft_wrap: an error stays one line however narrow the terminal, for people and for grep.
    return Console(stderr=True, highlight=False, soft_wrap=True)


def plain_width() -> int | None:
    """The width `out()` prints at when it prints plain text; None when it may not.

    Rich prints no colour or style where standard output is not a terminal (decided as its
    Console decides: TTY_COMPATIBLE, FORCE_COLOR, then isatty), on a UTF-8 stream, outside
    Windows and Jupyter: there its text can be written without importing it. The width is
    the one its Console takes: COLUMNS, else the first of the standard streams that is a
    terminal, else 80.
    """
    stream = sys.stdout
    if sys.platform == "win32" or stream is None or hasattr(builtins, "get_ipython"):
        return None
    compatible = os.environ.get("TTY_COMPATIBLE", "")
    if compatible == "1":
        return None
    if compatible != "0":
        force = os.environ.get("FORCE_COLOR")
        if force is not None and force != "":
            return None
        if force is None and _isatty(stream):
            return None
    if not (getattr(stream, "encoding", None) or "utf-8").lower().startswith("utf"):
        return None
    columns = os.environ.get("COLUMNS")
    if columns is not None and columns.isdigit():
        return int(columns)
    for descriptor in (0, 1, 2):
        try:
            width = os.get_terminal_size(descriptor).columns
        except (AttributeError, ValueError, OSError):
            continue
        return width or 80
    return 80


def _isatty(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return False if isatty is None else bool(isatty())
    except ValueError:  # a closed stream
        return False
