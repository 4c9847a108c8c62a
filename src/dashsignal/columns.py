"""Which column each declared filter is a condition on.

A filter is a condition on the column named like its id unless it declares another
(`Filter(column=...)`, from the spec's `column`) or the caller maps it to another column, or to
None when the filter is not a condition at all (a radio that picks the metric to plot, say).
Column names come from the project's declarations, never from the browser, and are checked
here, before any SQL is built: an identifier, optionally qualified by one table name
(`sales.region`), 63 characters at most per part (PostgreSQL's limit).

Both the SQL sources (dashsignal.sql) and the pandas source (dashsignal.frames) read the
mapping through `filter_columns`, so they agree on it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dashsignal.filters import Filters

__all__ = ["IDENTIFIER", "check_column", "filter_columns"]

# One part of a column name: a letter or underscore, then letters, digits and underscores.
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def check_column(name: object) -> str:
    """`name` if it is a column name (`region`, `sales.region`); ValueError otherwise."""
    if not isinstance(name, str):
        raise ValueError(f"a column name must be a string, not {type(name).__name__}")
    parts = name.split(".")
    if len(parts) > 2 or not all(IDENTIFIER.fullmatch(part) for part in parts):
        shown = name if len(name) <= 40 else name[:40] + "..."
        raise ValueError(
            f"invalid column name {shown!r}: expected letters, digits and underscores, not "
            "starting with a digit, at most 63 characters, optionally after one 'table.'"
        )
    return name


def filter_columns(
    filters: Filters, columns: Mapping[str, str | None] | None = None
) -> dict[str, str]:
    """The column of each filter that is a condition, by filter id, in declaration order.

    `columns` maps a filter id to its column, or to None to leave the filter out; an id it does
    not name is a condition on its filter's own column (`Filter.column`, default its id).
    ValueError for an id that is not a declared filter, or a column name that is not an
    identifier.
    """
    columns = dict(columns or {})
    unknown = sorted(set(columns) - set(filters))
    if unknown:
        raise ValueError(f"columns given for filters that are not declared: {', '.join(unknown)}")
    mapped: dict[str, str] = {}
    for filter_id in filters:
        column = columns.get(filter_id, filters[filter_id].column_name)
        if column is not None:
            try:
                mapped[filter_id] = check_column(column)
            except ValueError as error:
                raise ValueError(f"filter {filter_id}: {error}") from None
    return mapped
