"""The Rich consoles of the CLI layer; the library never prints."""

from __future__ import annotations

import functools
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
