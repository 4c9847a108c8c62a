"""Finding the project's app and its Signaling."""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dash import Dash

    from dashsignal.signaling import Signaling

__all__ = [
    "DEFAULT_APP",
    "VIEW_KINDS",
    "app_module_name",
    "imported",
    "load_app",
    "signaling_of",
    "signaling_of_server",
    "split_output",
    "views_of",
]

# Where the Dash app is: module:attribute (the ini option dashsignal_app).
DEFAULT_APP = "app:app"
# The kind of view that each property written by a view's callback shows.
VIEW_KINDS = {"figure": "graph", "rowData": "table", "children": "indicator"}


def app_module_name(spec: str) -> str:
    """The module of a `module:attribute` spec."""
    return spec.partition(":")[0]


def load_app(spec: str = DEFAULT_APP) -> Dash:
    """The Dash app named by `module:attribute` (the attribute defaults to `app`)."""
    module_name, _, attribute = spec.partition(":")
    module = importlib.import_module(module_name)
    app: Dash = getattr(module, attribute or "app")
    return app


def imported(spec: str) -> bool:
    """Whether the app's module has been imported already."""
    return app_module_name(spec) in sys.modules


def signaling_of(app: Any) -> Signaling:
    """The Signaling that `Signaling.init_app(app)` attached to the Dash app's server."""
    return signaling_of_server(app.server)


def signaling_of_server(server: Any) -> Signaling:
    """The Signaling that `Signaling.init_app(app)` attached to a Flask server."""
    from dashsignal.signaling import EXTENSION, Signaling

    signaling = server.extensions.get(EXTENSION)
    if not isinstance(signaling, Signaling):
        raise LookupError(
            "the app has no dashsignal.Signaling: its create_app() must call "
            "SIGNALING.init_app(app)"
        )
    return signaling


def views_of(app: Any, signaling: Signaling) -> dict[str, str]:
    """Every view of the page, by id, with its kind (graph, table or indicator): the components
    that callbacks draw into, besides the signal stores."""
    stores = set(signaling.signals.values())
    views: dict[str, str] = {}
    for output in app.callback_map:
        for component_id, prop in split_output(output):
            kind = VIEW_KINDS.get(prop)
            if kind is not None and component_id not in stores:
                views.setdefault(component_id, kind)
    return views


def split_output(output: str) -> list[tuple[str, str]]:
    """The (component id, property) pairs of a callback's output: "id.prop" for one output,
    "..id1.prop1...id2.prop2.." for several."""
    parts = output.strip(".").split("...") if output.startswith("..") else [output]
    pairs: list[tuple[str, str]] = []
    for part in parts:
        component_id, _, prop = part.rpartition(".")
        pairs.append((component_id, prop))
    return pairs
