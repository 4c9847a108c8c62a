"""From what a user answered (flags or prompts) to typed entries and a `NewProject`.

Each flag is parsed once, into the entry the spec holds (`ViewSpec`, `FilterSpec`,
`StageSpec`), validated by spec.py's `*_from_data`; the rules across entries are spec.py's
too (`NewProject.spec` builds through them). The demo defaults live here, so
`dashsignal new NAME --yes` and an interactive run that accepts every default produce the same
project.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dashsignal_cli.errors import UsageError
from dashsignal_cli.kinds import (
    DEFAULT_FILTER_KIND,
    DEFAULT_VIEW_KIND,
    FILTER_KINDS,
    filter_kinds_help,
    number,
    option_value,
)
from dashsignal_cli.spec import (
    AUTH_MODES,
    CACHE_BACKENDS,
    DATA_SOURCES,
    DEFAULT_INTERVAL,
    LIVE,
    MAX_INTERVAL,
    MIN_INTERVAL,
    NEW_DATA_SOURCE,
    PATTERNS,
    QUERY,
    RESERVED_SOURCES,
    SCOPES,
    VIEW_KINDS,
    AppSpec,
    CacheSpec,
    DataSpec,
    FilterSpec,
    Origin,
    Spec,
    StageSpec,
    ViewSpec,
    app_from_data,
    build_spec,
    cache_from_data,
    check_background,
    check_identifier,
    check_project_name,
    filter_from_data,
    humanize,
    stage_from_data,
    view_from_data,
)
from dashsignal_cli.specfile import entry_table

__all__ = [
    "DEFAULT_FILTERS",
    "DEFAULT_VIEWS",
    "NewProject",
    "build_spec_data",
    "check_backend",
    "check_pattern",
    "command_line",
    "filter_from_flags",
    "parse_filter_arg",
    "parse_interval",
    "parse_stage_arg",
    "parse_view_arg",
    "stage_from_flags",
    "view_from_flags",
]

DEFAULT_VIEWS = ("sales:graph", "share:graph", "rows:table", "total:indicator")
DEFAULT_FILTERS = ("region:dropdown", "product:multi", "year:range")
DEFAULT_BACKEND = CacheSpec.backend
DEFAULT_TIMEOUT = CacheSpec.timeout
DEFAULT_PATTERN = "signal"

_DEMO_TITLES = {
    "sales": "Sales by month",
    "share": "Sales by region",
    "rows": "Matching rows",
    "total": "Total sales",
}
_NUMBER = re.compile(r"\d+(?:\.\d+)?\Z")
_SOURCES_IN_WORDS = (
    "query (the shared query), the id of a stage, own (its own cached computation) "
    "or live[/SECONDS] (refreshed on an interval)"
)


@dataclass(frozen=True)
class NewProject:
    """What `dashsignal new` makes: filled by its flags, then by the prompts or the defaults.

    None is an answer not given yet: a prompt asks for it, or `--yes` takes its default.
    """

    name: str | None = None
    title: str | None = None
    pattern: str | None = None
    background: bool = False
    backend: str | None = None
    timeout: int | None = None
    filters: tuple[FilterSpec, ...] | None = None
    stages: tuple[StageSpec, ...] = ()
    views: tuple[ViewSpec, ...] | None = None
    # Where the rows come from: a quiet default, like the pattern (never asked for).
    data: str | None = None
    # Who may see it and whose the query's results are: quiet defaults too (none, shared).
    auth: str | None = None
    scope: str | None = None

    @classmethod
    def from_flags(
        cls,
        name: str | None,
        *,
        title: str | None = None,
        pattern: str | None = None,
        background: bool = False,
        cache: str | None = None,
        timeout: int | None = None,
        filters: Sequence[str] | None = None,
        stages: Sequence[str] | None = None,
        views: Sequence[str] | None = None,
        data: str | None = None,
        auth: str | None = None,
        scope: str | None = None,
    ) -> NewProject:
        """The answers the flags give, each parsed and checked."""
        if name is not None:
            check_project_name(name)
        for flag, what, value, allowed in (
            ("--data", "data source", data, DATA_SOURCES),
            ("--auth", "mode", auth, AUTH_MODES),
            ("--scope", "scope", scope, SCOPES),
        ):
            if value is not None and value not in allowed:
                raise UsageError(f"{flag}: unknown {what} {value!r}; allowed: {', '.join(allowed)}")
        if cache is not None:
            check_backend(cache)
        if pattern is not None:
            check_pattern(pattern)
            check_background(pattern, background, Origin.FLAGS)
        return cls(
            name=name,
            title=title,
            # A background compute step needs the signal pattern: nothing to ask then.
            pattern=pattern or ("signal" if background else None),
            background=background,
            backend=cache,
            timeout=timeout,
            filters=None if filters is None else tuple(parse_filter_arg(f) for f in filters),
            stages=tuple(parse_stage_arg(s) for s in stages or ()),
            views=None if views is None else tuple(parse_view_arg(v) for v in views),
            data=data,
            auth=auth,
            scope=scope,
        )

    def unanswered(self) -> list[str]:
        """The flags of the answers a prompt would ask for (the pattern has a quiet default)."""
        answers = [
            ("--view", self.views),
            ("--filter", self.filters),
            ("--cache", self.backend),
            ("--timeout", self.timeout),
            ("--title", self.title),
        ]
        return [flag for flag, value in answers if value is None]

    def with_defaults(self) -> NewProject:
        """Every answer not given taken from the demo defaults (the title from the name)."""
        return dataclasses.replace(
            self,
            pattern=self.pattern or DEFAULT_PATTERN,
            backend=self.backend or DEFAULT_BACKEND,
            timeout=DEFAULT_TIMEOUT if self.timeout is None else self.timeout,
            filters=self.filters or tuple(parse_filter_arg(f) for f in DEFAULT_FILTERS),
            views=self.views or tuple(parse_view_arg(v) for v in DEFAULT_VIEWS),
        )

    def spec(self) -> Spec:
        """The validated spec of these answers, defaults filling the gaps."""
        done = self.with_defaults()
        if done.name is None:
            raise UsageError("the project has no name yet")
        assert done.filters is not None and done.views is not None  # filled by with_defaults
        app = app_from_data(
            {
                "name": done.name,
                "title": humanize(done.name) if done.title is None else done.title,
                "pattern": done.pattern,
                "background": done.background,
                "auth": done.auth or AppSpec.auth,
                "scope": done.scope or AppSpec.scope,
            }
        )
        cache = cache_from_data({"backend": done.backend, "timeout": done.timeout})
        return build_spec(
            app,
            cache,
            filters=done.filters,
            stages=done.stages,
            views=done.views,
            data=DataSpec.of(done.data or NEW_DATA_SOURCE),
            origin=Origin.FLAGS,
        )


def parse_view_arg(text: str) -> ViewSpec:
    """`ID[:KIND][@SOURCE]` -> the view; the kind defaults to graph.

    SOURCE is `query` (the default), a stage's id, `own`, or `live[/SECONDS]`.
    """
    head, at, source = text.strip().partition("@")
    view_id, _, kind = head.partition(":")
    check_identifier(view_id, f"view {text!r}")
    kind = kind or DEFAULT_VIEW_KIND
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
    return view_from_data(table, f"view {text!r}")


def view_from_flags(
    view_id: str,
    kind: str,
    *,
    title: str | None = None,
    source: str = QUERY,
    interval: str | None = None,
) -> ViewSpec:
    """The view of `add-view`'s options."""
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
    return view_from_data(table, where)


def parse_stage_arg(text: str) -> StageSpec:
    """`ID[:SOURCE]` -> the stage; the source defaults to the query."""
    stage_id, colon, source = text.strip().partition(":")
    if colon and not source:
        raise UsageError(
            f"stage {text!r}: no source after ':'",
            hint=f'Write ID:SOURCE, SOURCE being "{QUERY}" or the id of another stage.',
        )
    return stage_from_flags(stage_id, source or QUERY, where=f"stage {text!r}")


def stage_from_flags(
    stage_id: str, source: str = QUERY, title: str | None = None, *, where: str | None = None
) -> StageSpec:
    """The stage of `add-stage`'s options (its source is checked against the others later)."""
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
    return stage_from_data(table, where)


def parse_interval(text: str, where: str) -> int | float:
    """Seconds between refreshes as given: `10` stays a whole number, `0.5` a fraction."""
    token = text.strip()
    hint = f"Write the seconds between refreshes, from {MIN_INTERVAL} to {MAX_INTERVAL}, e.g. 10."
    if not _NUMBER.match(token):
        raise UsageError(f"{where}: interval {text!r} is not a number of seconds", hint=hint)
    seconds = number(token)
    if not MIN_INTERVAL <= seconds <= MAX_INTERVAL:
        raise UsageError(
            f"{where}: an interval of {token} s is out of range: "
            f"from {MIN_INTERVAL} to {MAX_INTERVAL} seconds",
            hint=hint,
        )
    return seconds


def check_pattern(pattern: str) -> str:
    if pattern not in PATTERNS:
        raise UsageError(f"unknown pattern {pattern!r}; allowed: {', '.join(PATTERNS)}")
    return pattern


def check_backend(backend: str) -> str:
    if backend not in CACHE_BACKENDS:
        raise UsageError(f"unknown cache backend {backend!r}; allowed: {', '.join(CACHE_BACKENDS)}")
    return backend


def parse_filter_arg(text: str) -> FilterSpec:
    """`ID[:KIND][=VALUES]` -> the filter; the kind defaults to dropdown.

    VALUES is written as its kind says (kinds.FILTER_KINDS: `A,B,C` for the choice kinds,
    `MIN..MAX` for range, `YYYY-MM-DD..YYYY-MM-DD` for dates); without it the filter gets demo
    values.
    """
    head, has_values, values = text.strip().partition("=")
    filter_id, _, kind = head.partition(":")
    table = _filter_table(filter_id, kind or DEFAULT_FILTER_KIND, f"filter {text!r}")
    if has_values:
        try:
            table.update(FILTER_KINDS[table["kind"]].parse(values))
        except ValueError as error:
            raise UsageError(f"filter {text!r}: {error}") from None
    return filter_from_data(table, f"filter {text!r}")


def filter_from_flags(
    filter_id: str,
    kind: str,
    *,
    label: str | None = None,
    options: list[str] | None = None,
    minimum: str | None = None,
    maximum: str | None = None,
    column: str | None = None,
    options_from: str | None = None,
) -> FilterSpec:
    """The filter of `add-filter`'s options; demo values fill the gaps."""
    where = f"filter {filter_id!r}"
    table = _filter_table(filter_id, kind, f"filter {f'{filter_id}:{kind}'!r}")
    described = FILTER_KINDS[kind]
    if label is not None:
        table["label"] = label
    if described.bound is None:
        if minimum is not None or maximum is not None:
            raise UsageError(
                f"{where}: --min and --max are for {filter_kinds_help(choice=False, last=' and ')} "
                "filters"
            )
        if options:
            table["options"] = [option_value(o) for o in options]
    else:
        if options:
            raise UsageError(
                f"{where}: --option is for {filter_kinds_help(choice=True, last=' and ')}"
            )
        for key, value in (("min", minimum), ("max", maximum)):
            if value is not None:
                try:
                    table[key] = described.bound(value.strip())
                except ValueError:
                    raise UsageError(f"{where}: --{key} {value!r} is not a valid bound") from None
    if column is not None:
        table["column"] = column
    if options_from is not None:
        if options:
            raise UsageError(f"{where}: --option and --options-from exclude each other")
        del table["options"]
        table["options_from"] = options_from
    return filter_from_data(table, where)


def _filter_table(filter_id: str, kind: str, where: str) -> dict[str, Any]:
    """The `[[filters]]` table of a filter of this kind, with its kind's demo values."""
    check_identifier(filter_id, where)
    if kind not in FILTER_KINDS:
        raise UsageError(
            f"{where}: unknown filter kind {kind!r}; allowed: {', '.join(FILTER_KINDS)}"
        )
    return {
        "id": filter_id,
        "kind": kind,
        "label": humanize(filter_id),
        **FILTER_KINDS[kind].demo(filter_id),
    }


def build_spec_data(
    *,
    name: str,
    title: str | None,
    views: Sequence[ViewSpec],
    filters: Sequence[FilterSpec],
    backend: str,
    timeout: int,
    background: bool = False,
    pattern: str = "signal",
    stages: Sequence[StageSpec] | None = None,
) -> dict[str, Any]:
    """The plain data of a spec file of these entries, in the order it is written."""
    return {
        "app": {
            "name": name,
            "title": humanize(name) if title is None else title,
            "pattern": pattern,
            "background": background,
        },
        "cache": {"backend": backend, "timeout": timeout},
        "filters": [entry_table(f) for f in filters],
        "stages": [entry_table(s) for s in stages or ()],
        "views": [entry_table(v) for v in views],
    }


def command_line(spec: Spec, directory: Path) -> str:
    """The `dashsignal new` command that makes `spec` without asking anything.

    What an interactive session prints when the user declines, so the answers are not lost.
    """
    words = ["dashsignal", "new", spec.app.name]
    if directory != Path():
        words += ["--directory", str(directory)]
    words += ["--title", spec.app.title, "--pattern", spec.app.pattern, "--data", spec.data.source]
    if spec.app.background:
        words.append("--background")
    for flag, key in (("--auth", "auth"), ("--scope", "scope")):
        if getattr(spec.app, key) != getattr(AppSpec, key):
            words += [flag, getattr(spec.app, key)]
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
        words += ["--filter", f"{item.id}:{item.kind}={item.values_written}"]
    words += ["--cache", spec.cache.backend, "--timeout", str(spec.cache.timeout)]
    return shlex.join(words)
