"""The names a project derives from the ids in its spec, defined once.

render (the generated wiring), flow (`dashsignal graph`) and the tests all take them from here:
the component ids of the signal stores and of a live view's interval, and the names of the
callback functions the wiring defines for each stage and view.
"""

from __future__ import annotations

from dashsignal_cli.spec import QUERY

__all__ = [
    "COMPUTE_CALLBACK",
    "RUNNING_ID",
    "SIGNAL_ID",
    "derive_callback",
    "interval_id",
    "signal_id",
    "update_callback",
]

# The dcc.Store the query's result is signalled in.
SIGNAL_ID = "dashsignal-signal"
# What shows while the compute step runs as a background job.
RUNNING_ID = "dashsignal-running"
# The compute callback of the signal pattern.
COMPUTE_CALLBACK = "compute_signal"


def signal_id(source: str) -> str:
    """The id of the dcc.Store that signals a computed result: the query's or a stage's."""
    return SIGNAL_ID if source == QUERY else f"{SIGNAL_ID}-{source}"


def interval_id(view_id: str) -> str:
    """The id of the dcc.Interval that refreshes a live view."""
    return f"{view_id}-interval"


def update_callback(view_id: str) -> str:
    """The consumer callback of a view."""
    return f"update_{view_id}"


def derive_callback(stage_id: str) -> str:
    """The callback that derives a stage (signal pattern)."""
    return f"derive_{stage_id}"
