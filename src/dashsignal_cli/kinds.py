"""Each kind of view and of filter described once.

A view kind: what render writes for it, what the wiring does with it, what `check` expects of
the module the user owns, and how the help and the prompts describe it. A filter kind: how a
flag writes its values, the demo values it gets without them, and what the query finds under
its id. The spec, the flags, the prompts and the help read these; nothing else lists kinds.

Cheap to import (`dashsignal --help` reads the help texts): the standard library only.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_FILTER_KIND",
    "DEFAULT_VIEW_KIND",
    "FILTER_KINDS",
    "VIEW_KINDS",
    "VIEW_KINDS_OFFERED",
    "FilterKind",
    "ViewKind",
    "filter_kinds_help",
    "filter_values_help",
    "number",
    "option_value",
    "view_kinds_help",
]


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
    # The consumer callback's return annotation, the (module, name) its type is imported from,
    # and the verb of its docstring.
    returns: str
    returns_from: tuple[str, str]
    verb: str
    # Keywords its card in the layout gets beyond its id and title (Python source).
    card_keywords: tuple[str, ...] = ()
    # What the user gets, in a few words (the prompts list the kinds with it).
    describes: str = ""


# The page's order: the indicators in a row of cards, then the charts, then the tables.
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
        returns_from=("dash.development.base_component", "Component"),
        verb="Refresh",
        describes="one figure or sentence in a card",
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
        returns_from=("plotly.graph_objects", "Figure"),
        verb="Redraw",
        describes="a Plotly chart",
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
        returns_from=("dashsignal.outputs", "TablePayload"),
        verb="Refill",
        card_keywords=("money_columns=MONEY_COLUMNS",),
        describes="a table of rows (AG Grid)",
    ),
}

DEFAULT_VIEW_KIND = "graph"
# The order the help and the prompts offer them in (a prompt takes a kind by its number too):
# the default first.
VIEW_KINDS_OFFERED = ("graph", "table", "indicator")


def view_kinds_help(*, marked: bool = True, last: str = ", ") -> str:
    """`graph (default), table, indicator`: the kinds as the help names them.

    `marked`: the default kind says so; `last` joins the last two (", " or " or ").
    """
    return _listed(VIEW_KINDS_OFFERED, DEFAULT_VIEW_KIND if marked else None, last=last)


_INTEGER = re.compile(r"-?\d+\Z")
_RANGE = re.compile(r"(?P<low>-?\d+(?:\.\d+)?)\.\.(?P<high>-?\d+(?:\.\d+)?)\Z")
_DATES = re.compile(r"(?P<low>\d{4}-\d{2}-\d{2})\.\.(?P<high>\d{4}-\d{2}-\d{2})\Z")

# Demo options of the choice filters whose id says what they hold; others get generic ones.
_KNOWN_OPTIONS: dict[str, tuple[str | int, ...]] = {
    "region": ("North", "South", "East", "West"),
    "product": ("Basic", "Plus", "Pro"),
    "channel": ("Online", "Retail", "Partner"),
    "country": ("France", "Germany", "Italy", "Spain"),
    "category": ("Books", "Games", "Music"),
    "segment": ("Consumer", "Business", "Public"),
}
_GENERIC_OPTIONS: tuple[str | int, ...] = ("Alpha", "Beta", "Gamma", "Delta")


def option_value(token: str) -> str | int:
    """An option as a flag writes it: whole numbers stay numbers, anything else is text."""
    token = token.strip()
    return int(token) if _INTEGER.match(token) else token


def number(token: str) -> int | float:
    """`10` -> 10, `2.5` -> 2.5: a number as written."""
    return int(token) if _INTEGER.match(token) else float(token)


def _choice_values(values: str) -> dict[str, Any]:
    options: list[str | int] = []
    for token in (part.strip() for part in values.split(",")):
        if not token:
            raise ValueError("empty option; separate options with commas")
        options.append(option_value(token))
    return {"options": options}


def _range_values(values: str) -> dict[str, Any]:
    match = _RANGE.match(values.strip())
    if not match:
        raise ValueError("a range is written MIN..MAX, e.g. year:range=2019..2025")
    return {"min": number(match["low"]), "max": number(match["high"])}


def _date_values(values: str) -> dict[str, Any]:
    match = _DATES.match(values.strip())
    try:
        if match:
            return {
                "min": dt.date.fromisoformat(match["low"]),
                "max": dt.date.fromisoformat(match["high"]),
            }
    except ValueError:
        pass
    raise ValueError("dates are written FROM..TO, e.g. period:dates=2025-01-01..2025-12-31")


def _demo_options(filter_id: str) -> dict[str, Any]:
    return {"options": list(_KNOWN_OPTIONS.get(filter_id, _GENERIC_OPTIONS))}


def _demo_range(filter_id: str) -> dict[str, Any]:
    low, high = (2019, 2025) if filter_id == "year" else (0, 100)
    return {"min": low, "max": high}


def _demo_dates(filter_id: str) -> dict[str, Any]:
    return {"min": dt.date(2025, 1, 1), "max": dt.date(2025, 12, 31)}


@dataclass(frozen=True)
class FilterKind:
    """One kind of filter: how its values are written, and what the query receives."""

    # What the user picks with it, in a few words (the prompts list the kinds with it).
    describes: str
    # What `expensive_query(filters)` finds under the filter's id (signaling/filters.py).
    value_form: str
    # How VALUES are written in `--filter ID:KIND=VALUES` and in the prompts.
    values: str
    # The question that asks for them (of the filter ID).
    question: str
    # VALUES text -> the keys of its [[filters]] table it gives; ValueError says how to write it.
    parse: Callable[[str], dict[str, Any]]
    # The keys it gets when no values are given: demo values, from the filter's id.
    demo: Callable[[str], dict[str, Any]]
    # The demo's data.py: how expensive_query narrows the rows by it, and how the demo column
    # of random values for it is made (templates, once per filter).
    demo_condition: str
    demo_column: str
    # A choice kind has options; the others a min and a max.
    is_choice: bool = False
    # A multiple choice: its value is a list of options.
    is_multi: bool = False
    # What --min and --max of add-filter are read as (the bounds kinds only).
    bound: Callable[[str], Any] | None = None
    # The data.py helpers its demo column needs.
    demo_helpers: tuple[str, ...] = ()

    def written(self, options: tuple[Any, ...], low: Any, high: Any) -> str:
        """The VALUES of a filter as a flag writes them: `North,South`, `2019..2025`."""
        if self.is_choice:
            return ",".join(str(option) for option in options)
        return f"{low}..{high}"


def _choice(describes: str, value_form: str, *, multi: bool = False) -> FilterKind:
    return FilterKind(
        describes=describes,
        value_form=value_form,
        demo_condition="data/where_any_of.jinja" if multi else "data/where_equals.jinja",
        demo_column="data/column_choice.jinja",
        values="A,B,C",
        question="Options of {id}, separated by commas",
        parse=_choice_values,
        demo=_demo_options,
        is_choice=True,
        is_multi=multi,
    )


FILTER_KINDS = {
    "dropdown": _choice("pick one option, or none", "one of its options, or None for no selection"),
    "multi": _choice(
        "pick any of the options", "a list of its options; empty for no filter", multi=True
    ),
    "checklist": _choice(
        "tick any of the options, all ticked at first", "a list of its options", multi=True
    ),
    "radio": _choice("pick exactly one option", "one of its options"),
    "range": FilterKind(
        describes="a slider from MIN to MAX",
        value_form="[low, high], two numbers within its bounds",
        demo_condition="data/where_between.jinja",
        demo_column="data/column_number.jinja",
        values="MIN..MAX",
        question="Range of {id}, as MIN..MAX",
        parse=_range_values,
        demo=_demo_range,
        bound=number,
    ),
    "dates": FilterKind(
        describes="a date range picker",
        value_form='["YYYY-MM-DD", "YYYY-MM-DD"], either end None when cleared',
        demo_condition="data/where_dates.jinja",
        demo_column="data/column_dates.jinja",
        demo_helpers=("_random_days",),
        values="YYYY-MM-DD..YYYY-MM-DD",
        question="Dates of {id}, as YYYY-MM-DD..YYYY-MM-DD",
        parse=_date_values,
        demo=_demo_dates,
        bound=dt.date.fromisoformat,
    ),
}
DEFAULT_FILTER_KIND = "dropdown"


def filter_kinds_help(*, choice: bool | None = None, marked: bool = True, last: str = ", ") -> str:
    """The filter kinds as the help names them: all, or only the choice (or bounds) kinds.

    `marked`: the default kind says so (when all are named); `last` joins the last two.
    """
    names = [n for n, k in FILTER_KINDS.items() if choice is None or k.is_choice == choice]
    default = DEFAULT_FILTER_KIND if choice is None and marked else None
    return _listed(tuple(names), default, last=last)


def filter_values_help(prefix: str = "") -> str:
    """`A,B,C for the choice kinds, MIN..MAX for range, ...`: how each kind writes VALUES."""
    parts: dict[str, list[str]] = {}
    for name, kind in FILTER_KINDS.items():
        parts.setdefault(kind.values, []).append(name)
    return ", ".join(
        f"{prefix}{values} for "
        + ("the choice kinds" if len(names) > 1 and FILTER_KINDS[names[0]].is_choice else names[0])
        for values, names in parts.items()
    )


def _listed(names: tuple[str, ...], default: str | None, *, last: str = ", ") -> str:
    words = [f"{n} (default)" if n == default else n for n in names]
    return ", ".join(words[:-1]) + last + words[-1] if len(words) > 1 else "".join(words)
