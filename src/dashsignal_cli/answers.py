"""From what a user answered (flags or prompts) to the plain data of a spec.

The demo defaults live here too, so `dashsignal new NAME --yes` and an interactive run that
accepts every default produce the same project.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from dashsignal_cli.errors import UsageError
from dashsignal_cli.spec import (
    CHOICE_KINDS,
    FILTER_KINDS,
    VIEW_KINDS,
    check_identifier,
    filter_from_data,
    humanize,
    view_from_data,
)

__all__ = [
    "DEFAULT_FILTERS",
    "DEFAULT_VIEWS",
    "build_spec_data",
    "filter_table",
    "parse_filter_arg",
    "parse_view_arg",
]

DEFAULT_VIEWS = ("sales:graph", "share:graph", "rows:table", "total:indicator")
DEFAULT_FILTERS = ("region:dropdown", "product:multi", "year:range")

_DEMO_TITLES = {
    "sales": "Sales by month",
    "share": "Sales by region",
    "rows": "Matching rows",
    "total": "Total sales",
}
_KNOWN_OPTIONS: dict[str, list[str | int]] = {
    "region": ["North", "South", "East", "West"],
    "product": ["Basic", "Plus", "Pro"],
    "channel": ["Online", "Retail", "Partner"],
    "country": ["France", "Germany", "Italy", "Spain"],
    "category": ["Books", "Games", "Music"],
    "segment": ["Consumer", "Business", "Public"],
}
_GENERIC_OPTIONS: list[str | int] = ["Alpha", "Beta", "Gamma", "Delta"]
_RANGE = re.compile(r"(?P<low>-?\d+(?:\.\d+)?)\.\.(?P<high>-?\d+(?:\.\d+)?)\Z")
_DATES = re.compile(r"(?P<low>\d{4}-\d{2}-\d{2})\.\.(?P<high>\d{4}-\d{2}-\d{2})\Z")
_INTEGER = re.compile(r"-?\d+\Z")


def parse_view_arg(text: str) -> dict[str, Any]:
    """`ID[:KIND]` -> a `[[views]]` table; the kind defaults to graph."""
    view_id, _, kind = text.strip().partition(":")
    check_identifier(view_id, f"view {text!r}")
    kind = kind or "graph"
    if kind not in VIEW_KINDS:
        raise UsageError(
            f"view {text!r}: unknown view kind {kind!r}; allowed: {', '.join(VIEW_KINDS)}"
        )
    table = {"id": view_id, "kind": kind, "title": _DEMO_TITLES.get(view_id, humanize(view_id))}
    view_from_data(table, f"view {text!r}")
    return table


def parse_filter_arg(text: str) -> dict[str, Any]:
    """`ID[:KIND][=VALUES]` -> a `[[filters]]` table; the kind defaults to dropdown.

    VALUES is `A,B,C` for the choice kinds, `MIN..MAX` for range and `YYYY-MM-DD..YYYY-MM-DD`
    for dates; without it the filter gets demo values.
    """
    head, has_values, values = text.strip().partition("=")
    filter_id, _, kind = head.partition(":")
    check_identifier(filter_id, f"filter {text!r}")
    kind = kind or "dropdown"
    if kind not in FILTER_KINDS:
        raise UsageError(
            f"filter {text!r}: unknown filter kind {kind!r}; allowed: {', '.join(FILTER_KINDS)}"
        )
    table: dict[str, Any] = {"id": filter_id, "kind": kind, "label": humanize(filter_id)}
    if kind in CHOICE_KINDS:
        table["options"] = _choice_values(text, values) if has_values else _demo_options(filter_id)
    elif kind == "range":
        low, high = _range_values(text, values) if has_values else _demo_range(filter_id)
        table.update(min=low, max=high)
    else:
        first, last = _date_values(text, values) if has_values else _demo_dates()
        table.update(min=first, max=last)
    filter_from_data(table, f"filter {text!r}")
    return table


def build_spec_data(
    *,
    name: str,
    title: str | None,
    views: list[dict[str, Any]],
    filters: list[dict[str, Any]],
    backend: str,
    timeout: int,
    background: bool = False,
) -> dict[str, Any]:
    """The plain data of a spec file, in the order it is written."""
    return {
        "app": {
            "name": name,
            "title": humanize(name) if title is None else title,
            "background": background,
        },
        "cache": {"backend": backend, "timeout": timeout},
        "filters": filters,
        "views": views,
    }


def _choice_values(text: str, values: str) -> list[str | int]:
    options: list[str | int] = []
    for token in (part.strip() for part in values.split(",")):
        if not token:
            raise UsageError(f"filter {text!r}: empty option; separate options with commas")
        options.append(int(token) if _INTEGER.match(token) else token)
    return options


def _range_values(text: str, values: str) -> tuple[int | float, int | float]:
    match = _RANGE.match(values.strip())
    if not match:
        raise UsageError(
            f"filter {text!r}: a range is written MIN..MAX, e.g. year:range=2019..2025"
        )
    return _number(match["low"]), _number(match["high"])


def _date_values(text: str, values: str) -> tuple[dt.date, dt.date]:
    match = _DATES.match(values.strip())
    try:
        if match:
            return dt.date.fromisoformat(match["low"]), dt.date.fromisoformat(match["high"])
    except ValueError:
        pass
    raise UsageError(
        f"filter {text!r}: dates are written FROM..TO, e.g. period:dates=2025-01-01..2025-12-31"
    )


def _number(token: str) -> int | float:
    return int(token) if _INTEGER.match(token) else float(token)


def _demo_options(filter_id: str) -> list[str | int]:
    return list(_KNOWN_OPTIONS.get(filter_id, _GENERIC_OPTIONS))


def _demo_range(filter_id: str) -> tuple[int, int]:
    return (2019, 2025) if filter_id == "year" else (0, 100)


def _demo_dates() -> tuple[dt.date, dt.date]:
    return dt.date(2025, 1, 1), dt.date(2025, 12, 31)


def filter_table(
    filter_id: str,
    kind: str,
    *,
    label: str | None = None,
    options: list[str] | None = None,
    minimum: str | None = None,
    maximum: str | None = None,
) -> dict[str, Any]:
    """A validated `[[filters]]` table from `add-filter`'s options; demo values fill the gaps."""
    where = f"filter {filter_id!r}"
    table = parse_filter_arg(f"{filter_id}:{kind}")
    if label is not None:
        table["label"] = label
    if kind in CHOICE_KINDS:
        if minimum is not None or maximum is not None:
            raise UsageError(f"{where}: --min and --max are for range and dates filters")
        if options:
            table["options"] = [int(o) if _INTEGER.match(o.strip()) else o for o in options]
    else:
        if options:
            raise UsageError(f"{where}: --option is for dropdown, multi, checklist and radio")
        bound = _number if kind == "range" else dt.date.fromisoformat
        for key, value in (("min", minimum), ("max", maximum)):
            if value is not None:
                try:
                    table[key] = bound(value.strip())
                except ValueError:
                    raise UsageError(f"{where}: --{key} {value!r} is not a valid bound") from None
    filter_from_data(table, where)
    return table
