"""Each kind of view described once: what render writes for it, what the wiring does with it,
and what `check` expects of the module the user owns.

The order is the page's: the indicators in a row of cards, then the charts, then the tables.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["VIEW_KINDS", "ViewKind"]


@dataclass(frozen=True)
class ViewKind:
    """One kind of view."""

    # The user's module views/<id>.py is rendered from this template, once.
    template: str
    # What that module's render() is annotated to return (`check` reports another kind's).
    render_returns: tuple[str, ...]
    # Its card in the layout (dashsignal.layout), and the page's group of cards it is shown in.
    card: str
    group: str
    # The component properties its consumer callback writes, in order.
    outputs: tuple[str, ...]
    # The runtime helpers (dashsignal.outputs) that fill the card and show a failure in it.
    shows: str
    failed: str
    # The consumer callback's return annotation, and the verb of its docstring.
    returns: str
    verb: str


VIEW_KINDS = {
    "indicator": ViewKind(
        template="views/indicator.py.jinja",
        render_returns=("str",),
        card="indicator_card",
        group="indicators",
        outputs=("children",),
        shows="show_indicator",
        failed="failed_text",
        returns="str | Component",
        verb="Refresh",
    ),
    "graph": ViewKind(
        template="views/graph.py.jinja",
        render_returns=("Figure",),
        card="graph_card",
        group="charts",
        outputs=("figure",),
        shows="draw_graph",
        failed="failed_figure",
        returns="Figure",
        verb="Redraw",
    ),
    "table": ViewKind(
        template="views/table.py.jinja",
        render_returns=("pd.DataFrame", "DataFrame"),
        card="table_card",
        group="tables",
        outputs=("rowData", "columnDefs"),
        shows="fill_table",
        failed="failed_table",
        returns="TablePayload",
        verb="Refill",
    ),
}
