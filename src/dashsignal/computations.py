"""A dashboard's cached computations (the query, the stages derived from it, own views' data)
and the views that read them."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["QUERY", "SCOPES", "Computation", "Computations", "View"]

# The name of the computation that runs the project's data.expensive_query.
QUERY = "query"
# Whose data a computation's results are: everyone's, the signed-in user's, the browser
# session's (see dashsignal.auth).
SCOPES = ("shared", "user", "session")


@dataclass(frozen=True)
class Computation:
    """One cached computation: a function of a user module, and what it derives from."""

    name: str
    module: ModuleType
    # Looked up on every call, so that a test or a reloaded module can replace the function.
    function_name: str
    # The computation whose result this one derives from; None when it starts from the filters.
    source: str | None = None
    # The module constant to bump when the function changes: part of every cache key.
    version_name: str = "VERSION"
    # A live view's data: fetched afresh on every tick of its interval, never cached.
    live: bool = False
    # Whose data its results are (dashsignal.auth.SCOPES): "shared" by everyone, the signed-in
    # "user"'s (the function is called with the filters and the User), or the browser
    # "session"'s (with the filters and the Session). A stage has its source's scope.
    scope: str = "shared"

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise ValueError(
                f"{self.name}: unknown scope {self.scope!r}; one of {', '.join(SCOPES)}"
            )
        if self.source is not None and self.scope != "shared":
            raise ValueError(f"{self.name}: a stage has its source's scope; declare it there")

    @property
    def function(self) -> Callable[..., Any]:
        function: Callable[..., Any] = getattr(self.module, self.function_name)
        return function

    @property
    def version(self) -> str:
        return str(getattr(self.module, self.version_name, "0"))


class Computations(Mapping[str, Computation]):
    """Every computation of a dashboard, by name; each source is declared before use."""

    def __init__(self, *computations: Computation) -> None:
        self._by_name: dict[str, Computation] = {}
        for computation in computations:
            if computation.name in self._by_name:
                raise ValueError(f"two computations are named {computation.name!r}")
            self._by_name[computation.name] = computation
        for computation in computations:
            if computation.source is not None and computation.source not in self._by_name:
                raise ValueError(f"{computation.name}: unknown source {computation.source!r}")

    def __getitem__(self, name: str) -> Computation:
        return self._by_name[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def lineage(self, name: str) -> list[Computation]:
        """The computation `name` and everything it derives from, the first source first."""
        chain: list[Computation] = []
        current: str | None = name
        while current is not None:
            computation = self._by_name[current]
            if computation in chain:
                raise ValueError(f"{name}: its sources form a cycle")
            chain.append(computation)
            current = computation.source
        return chain[::-1]

    def scope_of(self, name: str) -> str:
        """The scope of `name`'s results: its first source's (a stage has its source's)."""
        return self.lineage(name)[0].scope

    def scopes(self) -> set[str]:
        """The scopes its computations declare."""
        return {computation.scope for computation in self._by_name.values()}


@dataclass(frozen=True)
class View:
    """A view that draws a computed result (the query's, or a stage's: `source`) through its
    module.

    A module that defines `summarise(data)` has it run once per filter state, in the step that
    computes the source, and its result (small: what the view draws) cached for the view alone;
    the view's `render` then receives that summary. A module with `render(data)` alone (written
    before summaries existed) receives the whole result, as before.
    """

    id: str
    module: ModuleType
    source: str = QUERY

    @property
    def summarises(self) -> bool:
        return callable(getattr(self.module, "summarise", None))

    @property
    def summarise(self) -> Callable[[Any], Any]:
        # Looked up on every call, like a computation's function.
        summarise: Callable[[Any], Any] = self.module.summarise
        return summarise

    @property
    def version(self) -> str:
        """Part of its summaries' keys: the module's VERSION constant and a digest of its source,
        so that editing the module (and restarting) never serves a summary the old code made."""
        return f"{getattr(self.module, 'VERSION', '0')}-{_source_digest(self.module)}"


@functools.cache
def _source_digest(module: ModuleType) -> str:
    path = getattr(module, "__file__", None)
    try:
        text = Path(path).read_bytes() if path else b""
    except OSError:
        text = b""
    return hashlib.sha256(text).hexdigest()[:12]
