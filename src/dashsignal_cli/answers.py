"""From what a user answered (flags or prompts) to the plain data of a spec.

The demo defaults live here too, so `dashsignal new NAME --yes` and an interactive run that
accepts every default produce the same project.
"""

from __future__ import annotations

import datetime as dt
import re
import shlex
from pathlib import Path
from typing import Any

from dashsignal_cli.errors import UsageError
from dashsignal_cli.spec import (
    CHOICE_KINDS,
    DEFAULT_INTERVAL,
    FILTER_KINDS,
    LIVE,
    MAX_INTERVAL,
    MIN_INTERVAL,
    PATTERNS,
    QUERY,
    RESERVED_SOURCES,
    VIEW_KINDS,
    Spec,
    check_identifier,
    filter_from_data,
    humanize,
    stage_from_data,
    view_from_data,
)

__all__ = [
    "DEFAULT_FILTERS",
    "DEFAULT_VIEWS",
    "build_spec_data",
    "check_pattern",
    "check_sources",
    "command_line",
    "filter_table",
    "parse_filter_arg",
    "parse_interval",
    "parse_stage_arg",
    "parse_view_arg",
    "stage_table",
    "view_table",
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
_NUMBER = re.compile(r"\d+(?:\.\d+)?\Z")
_SOURCES_IN_WORDS = (
    "query (the shared query), the id of a stage, own (its own cached computation) "
    "or live[/SECONDS] (refreshed on an interval)"
)


def parse_view_arg(text: str) -> dict[str, Any]:
    """`ID[:KIND][@SOURCE]` -> a `[[views]]` table; the kind defaults to graph.

    SOURCE is `query` (the default), a stage's id, `own`, or `live[/SECONDS]`.
    """
    head, at, source = text.strip().partition("@")
    view_id, _, kind = head.partition(":")
    check_identifier(view_id, f"view {text!r}")
    kind = kind or "graph"
    if kind not in VIEW_KINDS:
        raise UsageError(
            f"view {text!r}: unknown view kind {kind!r}; allowed: {', '.join(VIEW_KINDS)}"
        )
    table: dict[str, Any] = {
        "id": view_id,
        "kind": kind,
        "title": _DEMO_TITLES.get(view_id, humanize(view_id)),
    }
    if at:
        source, slash, seconds = source.partition("/")
        if not source:
            raise UsageError(
                f"view {text!r}: no source after '@'",
                hint=f"Write ID:KIND@SOURCE, SOURCE being {_SOURCES_IN_WORDS}.",
            )
        if slash and source != LIVE:
            raise UsageError(
                f"view {text!r}: only a live view refreshes on an interval",
                hint=f"Write {view_id}:{kind}@live/{seconds or 10} for a live view.",
            )
        if source != QUERY:
            table["source"] = source
        if slash:
            table["interval"] = parse_interval(seconds, f"view {text!r}")
    view_from_data(table, f"view {text!r}")
    return table


def parse_stage_arg(text: str) -> dict[str, Any]:
    """`ID[:SOURCE]` -> a `[[stages]]` table; the source defaults to the query."""
    stage_id, colon, source = text.strip().partition(":")
    if colon and not source:
        raise UsageError(
            f"stage {text!r}: no source after ':'",
            hint=f'Write ID:SOURCE, SOURCE being "{QUERY}" or the id of another stage.',
        )
    return stage_table(stage_id, source or QUERY, where=f"stage {text!r}")


def stage_table(
    stage_id: str, source: str = QUERY, title: str | None = None, *, where: str | None = None
) -> dict[str, Any]:
    """A validated `[[stages]]` table (its source is checked against the others later)."""
    where = where or f"stage {stage_id!r}"
    check_identifier(stage_id, where)
    if stage_id in RESERVED_SOURCES:
        raise UsageError(
            f"{where}: the id {stage_id!r} is reserved: {', '.join(RESERVED_SOURCES)} name the "
            "other sources a view can read",
            hint="Pick another id for the stage, e.g. daily.",
        )
    table = {
        "id": stage_id,
        "source": source,
        "title": humanize(stage_id) if title is None else title,
    }
    stage_from_data(table, where)
    return table


def view_table(
    view_id: str,
    kind: str,
    *,
    title: str | None = None,
    source: str = QUERY,
    interval: str | None = None,
) -> dict[str, Any]:
    """A validated `[[views]]` table from `add-view`'s options."""
    where = f"view {view_id!r}"
    table: dict[str, Any] = {
        "id": view_id,
        "kind": kind,
        "title": humanize(view_id) if title is None else title,
    }
    if source != QUERY:
        table["source"] = source
    if interval is not None:
        if source != LIVE:
            raise UsageError(
                f"{where}: --interval is for a live view",
                hint=f"Add --source {LIVE}, or leave out --interval.",
            )
        table["interval"] = parse_interval(interval, where)
    view_from_data(table, where)
    return table


def parse_interval(text: str, where: str) -> int | float:
    """Seconds between refreshes as given: `10` stays a whole number, `0.5` a fraction."""
    token = text.strip()
    hint = f"Write the seconds between refreshes, from {MIN_INTERVAL} to {MAX_INTERVAL}, e.g. 10."
    if not _NUMBER.match(token):
        raise UsageError(f"{where}: interval {text!r} is not a number of seconds", hint=hint)
    seconds = _number(token)
    if not MIN_INTERVAL <= seconds <= MAX_INTERVAL:
        raise UsageError(
            f"{where}: an interval of {token} s is out of range: "
            f"from {MIN_INTERVAL} to {MAX_INTERVAL} seconds",
            hint=hint,
        )
    return seconds


def check_sources(views: list[dict[str, Any]], stages: list[dict[str, Any]]) -> None:
    """Every stage derives from the query or a declared stage; every view reads a known source.

    The spec checks this too (and cycles); here the error names the flag's value.
    """
    stage_ids = [s["id"] for s in stages]
    for stage in stages:
        if stage["source"] != QUERY and stage["source"] not in stage_ids:
            allowed = ", ".join([QUERY, *(s for s in stage_ids if s != stage["id"])])
            raise UsageError(
                f"stage {stage['id']!r}: unknown source {stage['source']!r}; allowed: {allowed}",
                hint=f"Declare that stage too with --stage {stage['source']}, or derive from "
                f"{QUERY}.",
            )
    for view in views:
        source = view.get("source", QUERY)
        if source not in RESERVED_SOURCES and source not in stage_ids:
            allowed = ", ".join([*RESERVED_SOURCES, *stage_ids])
            raise UsageError(
                f"view {view['id']!r}: unknown source {source!r}; allowed: {allowed}",
                hint=f"Declare the stage with --stage {source}, or read {_SOURCES_IN_WORDS}.",
            )


def check_pattern(pattern: str) -> str:
    if pattern not in PATTERNS:
        raise UsageError(f"unknown pattern {pattern!r}; allowed: {', '.join(PATTERNS)}")
    return pattern


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
    pattern: str = "signal",
    stages: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The plain data of a spec file, in the order it is written."""
    return {
        "app": {
            "name": name,
            "title": humanize(name) if title is None else title,
            "pattern": pattern,
            "background": background,
        },
        "cache": {"backend": backend, "timeout": timeout},
        "filters": filters,
        "stages": stages or [],
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


def command_line(spec: Spec, directory: Path) -> str:
    """The `dashsignal new` command that makes `spec` without asking anything.

    What an interactive session prints when the user declines, so the answers are not lost.
    """
    words = ["dashsignal", "new", spec.app.name]
    if directory != Path():
        words += ["--directory", str(directory)]
    words += ["--title", spec.app.title, "--pattern", spec.app.pattern]
    if spec.app.background:
        words.append("--background")
    for stage in spec.stages:
        words += ["--stage", stage.id if stage.source == QUERY else f"{stage.id}:{stage.source}"]
    for view in spec.views:
        text = f"{view.id}:{view.kind}"
        if view.is_live:
            interval = "" if view.interval == DEFAULT_INTERVAL else f"/{view.interval}"
            text += f"@{LIVE}{interval}"
        elif view.source != QUERY:
            text += f"@{view.source}"
        words += ["--view", text]
    for item in spec.filters:
        if item.is_choice:
            values = ",".join(str(option) for option in item.options)
        else:
            values = f"{item.min}..{item.max}"
        words += ["--filter", f"{item.id}:{item.kind}={values}"]
    words += ["--cache", spec.cache.backend, "--timeout", str(spec.cache.timeout)]
    return shlex.join(words)
