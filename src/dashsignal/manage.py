"""A project's commands about its cached data: `python -m signaling invalidate | warm`.

The generated `signaling/__main__.py` calls `main(create_app)`: the app is built exactly as the
server builds it (its cache chosen from the environment: DASHSIGNAL_CACHE, REDIS_URL, CACHE_DIR),
so the commands act on the cache every worker of the deployment shares.

- `invalidate`: a new generation in every key, at once for every worker and host sharing the
  cache (see dashsignal.freshness); the next request of each filter state computes afresh.
- `warm`: compute the default filter state, through the same lock as the compute step (a user
  asking for it meanwhile waits for it rather than computing it again); `--all`: every state of
  the choice filters (ranges and dates at their default), refused above `--limit`.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["main"]

DEFAULT_LIMIT = 500


def main(create_app: Callable[[], Any], argv: Sequence[str] | None = None) -> int:
    """Run one command on the app `create_app` builds; the exit status."""
    summary = (__doc__ or "").split("\n", 1)[0]
    parser = argparse.ArgumentParser(prog="python -m signaling", description=summary)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("invalidate", help="new results for every filter state from now on")
    warm = commands.add_parser("warm", help="compute filter states before anyone asks")
    warm.add_argument("--all", action="store_true", help="every state of the choice filters")
    warm.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help="most states for --all")
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    from rich.console import Console

    from dashsignal.filters import TooManyStates
    from dashsignal.settings import InvalidSettings
    from dashsignal.signaling import EXTENSION, Signaling

    console = Console(stderr=True)
    try:
        app = create_app()
        signaling = app.server.extensions.get(EXTENSION)
        if not isinstance(signaling, Signaling):
            raise ValueError("the app has no dashsignal.Signaling: create_app() must init it")
        if arguments.command == "invalidate":
            generation = signaling.invalidate()
            print(f"invalidated: every filter state computes afresh (generation {generation})")
            return 0
        states = (
            signaling.filters.every_state(arguments.limit)
            if arguments.all
            else [signaling.filters.defaults()]
        )
        warmed = _warm(signaling, states, console)
    except (TooManyStates, InvalidSettings, ValueError) as error:
        console.print(f"[red]error:[/red] {error}", highlight=False)
        return 2
    print(
        f"warmed {len(states)} filter state{'s' if len(states) != 1 else ''}: "
        f"{warmed.computed} computed, {warmed.found} cached already, {warmed.failed} failed"
    )
    return 1 if warmed.failed else 0


def _warm(signaling: Any, states: list[dict[str, Any]], console: Any) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task("warming", total=len(states))
        return signaling.warm(states, lambda done: progress.update(task, completed=done))
