"""dashsignal's runtime: the signaling pattern for Plotly Dash, as a library.

A generated project holds its own wiring (its filters, computations, layout and callbacks) and
imports the machinery from here: canonical filter values and cache keys, single-flight loading
with a lock per key on every backend, the callback request guard, the codecs, the per-process
memo, the outage bypass and the background-job managers. See "The runtime API" in dashsignal's
README.

Importing this package is cheap: the names below are loaded on first use, so that the CLI and
the pytest plugin (dashsignal.testing) import neither Dash nor pandas until they need them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.6.0"

# Where each public name lives.
_EXPORTS = {
    "QUERY": "dashsignal.computations",
    "Computation": "dashsignal.computations",
    "Computations": "dashsignal.computations",
    "View": "dashsignal.computations",
    "CacheSettings": "dashsignal.settings",
    "BACKENDS": "dashsignal.settings",
    "Filter": "dashsignal.filters",
    "Filters": "dashsignal.filters",
    "InvalidFilters": "dashsignal.filters",
    "Signaling": "dashsignal.signaling",
    "ComputationFailed": "dashsignal.signaling",
    "StillComputing": "dashsignal.cache",
    "TooManyComputations": "dashsignal.cache",
    "WiringMismatch": "dashsignal.compat",
    "require_runtime": "dashsignal.compat",
}

__all__ = [
    "BACKENDS",
    "QUERY",
    "CacheSettings",
    "Computation",
    "ComputationFailed",
    "Computations",
    "Filter",
    "Filters",
    "InvalidFilters",
    "Signaling",
    "StillComputing",
    "TooManyComputations",
    "View",
    "WiringMismatch",
    "__version__",
    "require_runtime",
]

if TYPE_CHECKING:
    from dashsignal.cache import StillComputing, TooManyComputations
    from dashsignal.compat import WiringMismatch, require_runtime
    from dashsignal.computations import QUERY, Computation, Computations, View
    from dashsignal.filters import Filter, Filters, InvalidFilters
    from dashsignal.settings import BACKENDS, CacheSettings
    from dashsignal.signaling import ComputationFailed, Signaling


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dashsignal' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
