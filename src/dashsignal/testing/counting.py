"""Counting computations: every run of every computation, from any process.

A background job runs in a child process (or on a Celery worker), so the runs are appended to a
file, one JSON line each, rather than kept in memory. `count_runs` replaces each counted
function in its module (a `dashsignal.Computation` looks its function up on every call, so the
replacement is what runs) and sets the module's DEMO_DELAY_SECONDS to 0, if it has one.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from dashsignal.computations import Computations

__all__ = ["ComputationLog", "Counted", "QueryCalls", "count_runs", "counted_computations"]


class Counted(NamedTuple):
    """A function whose runs are counted: `module.function_name`, counted under `name`."""

    name: str
    module: ModuleType
    function_name: str


class ComputationLog:
    """Every computation run, from any process: one JSON line per run in `log`, with the name
    of the computation and the filters it ran for (None for a stage, which runs on a frame)."""

    def __init__(self, log: Path) -> None:
        self.log = log

    def runs(self) -> list[dict[str, Any]]:
        """Every run so far, in order: {"name": ..., "filters": ...}."""
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line]

    def counts(self) -> Counter[str]:
        """How many times each computation (query, stage, own or live view) ran."""
        return Counter(run["name"] for run in self.runs())

    def record(self, name: str, filters: Any) -> None:
        """Append one run of `name` for `filters`."""
        with self.log.open("a") as log:
            log.write(json.dumps({"name": name, "filters": filters}) + "\n")

    def clear(self) -> None:
        """Forget every run so far."""
        self.log.write_text("")


class QueryCalls:
    """The filters of every run of one computation (the query, by default): a read-only list
    that compares equal to a list of filter dicts."""

    def __init__(self, computations: ComputationLog, name: str = "query") -> None:
        self.computations = computations
        self.name = name

    @property
    def calls(self) -> list[dict[str, Any]]:
        """The filters of each run, in order."""
        return [run["filters"] for run in self.computations.runs() if run["name"] == self.name]

    def __len__(self) -> int:
        return len(self.calls)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.calls[index]

    def __eq__(self, other: object) -> bool:
        return self.calls == other

    __hash__ = None  # type: ignore[assignment]  # mutable: compares by its current calls

    def __repr__(self) -> str:
        return repr(self.calls)


def counted_computations(computations: Computations) -> list[Counted]:
    """The functions of a dashboard's cached computations, each counted under its own name."""
    return [Counted(c.name, c.module, c.function_name) for c in computations.values()]


def count_runs(
    log: ComputationLog,
    counted: Iterable[Counted],
    setattr_: Callable[..., None] = setattr,
) -> None:
    """Make every counted function record its runs in `log`, and its module skip its demo
    delay. `setattr_` makes the replacements (pytest's monkeypatch.setattr, to undo them)."""
    for name, module, function_name in counted:
        setattr_(module, function_name, _recorded(log, name, getattr(module, function_name)))
        if hasattr(module, "DEMO_DELAY_SECONDS"):
            setattr_(module, "DEMO_DELAY_SECONDS", 0)


def _recorded(log: ComputationLog, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def recorded(argument: Any, *scope: Any) -> Any:
        # A stage's argument is its source's DataFrame; the others' are the filters (then the
        # User or Session of a scoped computation).
        log.record(name, argument if isinstance(argument, dict) else None)
        return function(argument, *scope)

    recorded.__wrapped__ = function  # type: ignore[attr-defined]
    return recorded
