"""Pure rendering: a spec in, every generated file's text and owner out. No disk, no clock."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

from dashsignal.compat import series_of
from dashsignal_cli import __version__
from dashsignal_cli.kinds import FILTER_KINDS, VIEW_KINDS, ViewKind
from dashsignal_cli.names import (
    COMPUTE_CALLBACK,
    RUNNING_ID,
    SIGNAL_ID,
    derive_callback,
    interval_id,
    signal_id,
    update_callback,
)
from dashsignal_cli.spec import (
    OPTIONS_FROM_COLUMN,
    QUERY,
    SCOPE_ARGUMENTS,
    FilterSpec,
    Spec,
    StageSpec,
    ViewSpec,
    humanize,
)
from dashsignal_cli.specfile import SPEC_FILENAME, dump_spec
from dashsignal_cli.templating import python_literal

__all__ = [
    "GeneratedFile",
    "Owner",
    "demo_columns",
    "render",
    "render_project",
    "spec_version",
]

# The runtime series the generated wiring needs ("0.3": any 0.3.x), and the first it does not.
RUNTIME_SERIES = series_of(__version__)
_NEXT_SERIES = f"{RUNTIME_SERIES.split('.')[0]}.{int(RUNTIME_SERIES.split('.')[1]) + 1}"


class Owner(StrEnum):
    """Who a file belongs to after it is first written."""

    MANAGED = "managed"  # rewritten from the spec on every regeneration
    USER = "user"  # written once, then never touched again
    SPEC = "spec"  # dashsignal.toml: edited by the user and by our commands


@dataclass(frozen=True)
class GeneratedFile:
    text: str
    owner: Owner


# (template, output path, owner) for the files that exist once per project.
_PROJECT_FILES = (
    ("app.py.jinja", "app.py", Owner.USER),
    ("data.py.jinja", "data.py", Owner.USER),
    ("README.md.jinja", "README.md", Owner.USER),
    ("pyproject.toml.jinja", "pyproject.toml", Owner.USER),
    ("gitignore.jinja", ".gitignore", Owner.USER),
    ("gunicorn.conf.py.jinja", "gunicorn.conf.py", Owner.MANAGED),
    ("requirements.txt.jinja", "requirements.txt", Owner.MANAGED),
    ("requirements-dev.txt.jinja", "requirements-dev.txt", Owner.MANAGED),
    ("assets/dashsignal.css.jinja", "assets/dashsignal.css", Owner.MANAGED),
    ("signaling/__init__.py.jinja", "signaling/__init__.py", Owner.MANAGED),
    ("signaling/__main__.py.jinja", "signaling/__main__.py", Owner.MANAGED),
    ("signaling/settings.py.jinja", "signaling/settings.py", Owner.MANAGED),
    ("signaling/ids.py.jinja", "signaling/ids.py", Owner.MANAGED),
    ("signaling/filters.py.jinja", "signaling/filters.py", Owner.MANAGED),
    ("signaling/computations.py.jinja", "signaling/computations.py", Owner.MANAGED),
    ("signaling/layout.py.jinja", "signaling/layout.py", Owner.MANAGED),
    ("signaling/callbacks.py.jinja", "signaling/callbacks.py", Owner.MANAGED),
    ("views/__init__.py.jinja", "views/__init__.py", Owner.MANAGED),
    ("tests/__init__.py.jinja", "tests/__init__.py", Owner.MANAGED),
    ("tests/test_signaling.py.jinja", "tests/test_signaling.py", Owner.MANAGED),
    ("tests/test_browser.py.jinja", "tests/test_browser.py", Owner.MANAGED),
    ("tests/test_views.py.jinja", "tests/test_views.py", Owner.USER),
)


def demo_columns(spec: Spec) -> dict[str, Any]:
    """The columns the demo data.py of `spec` makes, as recorded in the manifest.

    data.py belongs to the user once written, so a view added later must draw from the columns
    that data.py really has, not from the filters declared since.
    """
    taken = {f.column_name for f in spec.filters}
    names = {name: _free_name(name, taken) for name in ("day", "units", "amount")}
    return {
        **names,
        "dates": [f.column_name for f in spec.filters if f.kind == "dates"],
        "categories": [f.column_name for f in spec.filters if f.is_choice],
        "columns": _demo_table_columns(spec, taken | set(names.values())),
    }


# A column the demo makes beyond the filters' own, so that a filter added later on it (`dashsignal
# add-filter channel --kind checklist`) narrows the rows at once.
_EXTRA_DEMO_COLUMN = ("channel", ["Online", "Retail", "Partner"])
# dashsignal.demo.DemoSales's defaults: the generated declaration leaves them out.
_DEMO_DEFAULTS = {"table": "sales", "day": "day", "units": "units", "amount": "amount"}


def _demo_table_columns(spec: Spec, taken: set[str]) -> list[list[Any]]:
    """The demo table's columns before day, units and amount: `[kind, name, values...]`, the
    arguments of dashsignal.demo's Choice, Years, Numbers and Dates."""
    year = _year_filter(spec)
    columns: list[list[Any]] = []
    for f in spec.filters:
        if f.options_from is not None:
            # Its options are the database's: the demo makes a few of its own kind's.
            columns.append(["Choice", f.column_name, FILTER_KINDS[f.kind].demo(f.id)["options"]])
        elif f.is_choice and f.id == year:
            options = [int(o) for o in f.options]
            columns.append(["Years", f.column_name, min(options), max(options)])
        elif f.is_choice:
            columns.append(["Choice", f.column_name, list(f.options)])
        elif f.id == year:
            columns.append(["Years", f.column_name, f.min, f.max])
        elif f.kind == "range":
            columns.append(["Numbers", f.column_name, f.min, f.max])
        else:
            columns.append(["Dates", f.column_name, _plain(f.min), _plain(f.max)])
    name, extra = _EXTRA_DEMO_COLUMN
    if name not in taken:
        columns.append(["Choice", name, extra])
    return columns


def render(spec: Spec, demo: dict[str, Any] | None = None) -> dict[str, GeneratedFile]:
    """Every file of the project except the spec file, keyed by POSIX path, sorted.

    `demo` is the record of `demo_columns` made when the project was created (default: now).
    """
    from dashsignal_cli.templating import environment

    env = environment()
    demo = demo_columns(spec) if demo is None else demo
    context = _context(spec, demo)
    files = {
        path: GeneratedFile(env.get_template(template).render(context), owner)
        for template, path, owner in _PROJECT_FILES
    }
    for path in _optional_files(spec, demo):
        files[path] = GeneratedFile(
            env.get_template(f"{path}.jinja").render(context), Owner.MANAGED
        )
    if spec.app.has_auth:
        # Who is signed in, as the project decides: its own hook, written once.
        files["auth.py"] = GeneratedFile(
            env.get_template("auth.py.jinja").render(context), Owner.USER
        )
    for view in context["views"]:
        text = env.get_template(VIEW_KINDS[view.kind].template).render(context, view=view)
        files[f"views/{view.id}.py"] = GeneratedFile(text, Owner.USER)
    for stage in context["stages"]:
        text = env.get_template("stages/stage.py.jinja").render(context, stage=stage)
        files[f"stages/{stage.id}.py"] = GeneratedFile(text, Owner.USER)
    return dict(sorted(files.items()))


def _optional_files(spec: Spec, demo: dict[str, Any]) -> list[str]:
    """Managed files only some specs have."""
    paths = ["stages/__init__.py"] if spec.stages else []
    # Where the rows come from; a project made before [data] has its demo inside data.py.
    if spec.data.is_sql or "columns" in demo:
        paths.append("signaling/source.py")
    if spec.app.background and spec.cache.backend == "redis":
        # Celery runs the jobs: app.py names the Celery app (`celery -A app:celery_app worker`).
        paths.append("signaling/background.py")
    return paths


def render_project(spec: Spec, demo: dict[str, Any] | None = None) -> dict[str, GeneratedFile]:
    """`render` plus the spec file itself: everything `dashsignal new` writes."""
    files = render(spec, demo)
    files[SPEC_FILENAME] = GeneratedFile(dump_spec(spec), Owner.SPEC)
    return dict(sorted(files.items()))


def spec_version(spec: Spec) -> str:
    """A short digest of what gives cached data its meaning: the app and its declared filters."""
    meaning: dict[str, Any] = {
        "app": spec.app.name,
        "filters": [
            [f.id, f.kind, list(f.options), _plain(f.min), _plain(f.max), f.step]
            + ([f.column] if f.column is not None else [])
            for f in spec.filters
        ],
        # Where each stage's result comes from is part of what it means.
        "stages": sorted([s.id, s.source] for s in spec.stages),
    }
    if spec.data.is_sql:
        # Another source or table gives other rows (a spec without [data] keeps its version).
        meaning["data"] = [spec.data.source, spec.data.table]
    canonical = json.dumps(meaning, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


def _context(spec: Spec, demo: dict[str, Any]) -> dict[str, Any]:
    dates, categories = demo["dates"], demo["categories"]
    time_column = dates[0] if dates else demo["day"]
    graphs = [v for v in spec.views if v.kind == "graph" and v.reads_cache]
    indicators = [v for v in spec.views if v.kind == "indicator"]
    # Axis titles: a filter's label for its column, else the column's name made readable.
    titles = {f.column_name: f.label for f in spec.filters}
    views = [
        _view_context(
            v,
            graphs,
            indicators,
            demo,
            time_column=time_column,
            categories=categories,
            titles=titles,
            scope=_scope(spec.scope_of(v)),
        )
        for v in spec.views
    ]
    stages = [_stage_context(s, views) for s in spec.ordered_stages()]
    signalled = spec.app.pattern == "signal"
    consumers = [_consumer_context(v, signalled) for v in spec.views]
    filters = [_filter_context(f, spec.data.table) for f in spec.filters]
    live_views = [v for v in views if v.is_live]
    demo_table = _demo_table(demo)
    row_rule = _row_rule(spec, demo_table) if spec.app.scope == "user" else None
    return {
        "auth_mode": spec.app.auth,
        "auth": spec.auth,
        "auth_class": _AUTH_CLASSES.get(spec.app.auth),
        "query_scope": _scope(spec.app.scope),
        "computations_scoped": any(s != "shared" for s in spec.scopes().values()),
        "row_rule": row_rule,
        "test_subject": _test_subject(_scope(spec.app.scope), row_rule),
        "runtime_series": RUNTIME_SERIES,
        "next_series": _NEXT_SERIES,
        "callbacks": _callbacks_module(spec, consumers),
        "layout": _layout_module(spec, views, demo["amount"]),
        "app": spec.app,
        "signal_pattern": signalled,
        "cache": spec.cache,
        "signal_id": SIGNAL_ID,
        "running_id": RUNNING_ID,
        "compute_callback": COMPUTE_CALLBACK,
        "spec_version": spec_version(spec),
        "filters": filters,
        "views": views,
        # The views that compute their own data (own or live), in spec order and by module name.
        "computed_views": [v for v in views if not v.reads_cache],
        "own_views": [v for v in views if v.is_own],
        "live_views": live_views,
        "stages": stages,
        "contracts": _contracts(spec),
        "browser": _browser_test(views, filters, demo["amount"]),
        # The grouping keys of the demo stages: every view template still finds its columns.
        "demo_keys": [time_column, *categories],
        "demo": demo,
        "data": spec.data,
        # The demo table's columns (dashsignal.demo), and what signaling/source.py imports.
        "demo_table": demo_table,
        # signaling/filters.py reads the options of these from the database.
        "options_from_database": any(f.options_from is not None for f in spec.filters),
        # DemoSales's keywords that differ from its defaults (200,000 rows, seed 7, "sales"...).
        "demo_keywords": [
            (name, value)
            for name, value in (
                ("table", spec.data.table),
                *((key, demo[key]) for key in ("day", "units", "amount")),
            )
            if value != _DEMO_DEFAULTS[name]
        ],
        "demo_imports": sorted({c.kind for c in demo_table} | {"DemoSales"}),
        # The demo query's SELECT list, and the columns it reads back as dates.
        "sql_columns": [_sql_name(c.arguments[0]) for c in demo_table]
        + [_sql_name(demo[key]) for key in ("day", "units", "amount")],
        # What data_version sums: the demo's amounts, whatever name they took beside the filters.
        "amount_column": _sql_name(demo["amount"]),
        "date_columns": tuple(
            [c.arguments[0] for c in demo_table if c.kind == "Dates"] + [demo["day"]]
        ),
        "demo_year": _year_filter(spec),
        "demo_helpers": sorted(
            {h for f in spec.filters for h in FILTER_KINDS[f.kind].demo_helpers}
        ),
    }


# --- users and scopes ------------------------------------------------------------------------

# The dashsignal.auth class of each [app] auth mode but "none".
_AUTH_CLASSES = {"basic": "BasicAuth", "proxy": "ProxyAuth", "custom": "CustomAuth"}


class _Scope(NamedTuple):
    """Whose a computation's results are, and what its function receives after the filters."""

    name: str
    # Its second parameter's name and type (dashsignal.auth); None for a shared computation.
    parameter: str | None
    type: str | None

    @property
    def arguments(self) -> str:
        """What its function receives, as a docstring names it: `filters` or `filters, user`."""
        return f"filters, {self.parameter}" if self.parameter else "filters"

    @property
    def parameters(self) -> str:
        """Its function's parameters, as Python source."""
        second = f", {self.parameter}: {self.type}" if self.parameter else ""
        return f"filters: dict[str, Any]{second}"


def _scope(name: str) -> _Scope:
    parameter, type_name = SCOPE_ARGUMENTS.get(name, (None, None))
    return _Scope(name, parameter, type_name)


class _RowRule(NamedTuple):
    """The demo's row-level rule of a user scope: the rows whose column holds the user's
    attribute of the same name (the filter's id), bound as a parameter of that name."""

    attribute: str
    column: str
    sql_column: str
    # One of the column's demo values: the tests' user sees the rows that hold it.
    example: str


def _row_rule(spec: Spec, demo_table: tuple[_DemoColumn, ...]) -> _RowRule | None:
    """The first choice filter whose column the demo makes as text (a Choice column); None
    when there is none, and every user then sees every row."""
    made = {c.arguments[0]: c.arguments[1] for c in demo_table if c.kind == "Choice"}
    for f in spec.filters:
        if f.is_choice and f.column_name in made:
            example = str(made[f.column_name][0])
            return _RowRule(f.id, f.column_name, _sql_name(f.column_name), example)
    return None


class _TestSubject(NamedTuple):
    """Who the project's own tests call a scoped query for: the user the fixtures sign in as
    (dashsignal.testing's `dashsignal_user`), or a session of their own. Python source."""

    # What a test takes beyond its fixtures, what the query is called with after the filters,
    # and what a test hands on to frame_of for it.
    parameter: str = ""
    argument: str = ""
    passed: str = ""
    # The ini option that describes the fixtures' user: one with rows to see.
    user: str | None = None


def _test_subject(scope: _Scope, rule: _RowRule | None) -> _TestSubject:
    if scope.name == "user":
        described = f"tester {rule.attribute}={rule.example}" if rule else None
        return _TestSubject(
            ", dashsignal_user: Any", ", dashsignal_user", ", dashsignal_user", described
        )
    if scope.name == "session":
        return _TestSubject("", ', Session("tests")')
    return _TestSubject()


# --- signaling/callbacks.py ------------------------------------------------------------------
# What a template needs is a NamedTuple: typed and immutable like a frozen dataclass, and made
# about three times faster when this module is imported (every `dashsignal new` imports it).


class _Trigger(NamedTuple):
    """What fires a view's consumer callback, and what the callback's parameters are."""

    # The callback's parameters.
    parameters: str
    # The parameter it reads the view's data for.
    argument: str
    # How the callback's docstring ends.
    when: str


# A cached view under the signal pattern waits for its source's signal; a live view runs on
# every tick of its interval; any other view is fired by the filters themselves.
_SIGNAL = _Trigger("signal: Any", "signal", "when its data changes")
_LIVE = _Trigger("filters: dict[str, Any], tick: Any", "filters", "on every tick, with fresh data")
_FILTERS = _Trigger("filters: dict[str, Any]", "filters", "when its data changes")


class _Consumer(NamedTuple):
    """A view's consumer callback, and how register_callbacks wires it."""

    view: str
    kind_name: str
    kind: ViewKind
    callback: str
    trigger: _Trigger
    # The Signaling method that reads what the view's render receives, and the variable that
    # holds it: a view of the query or a stage reads its summary, an own or live view its frame.
    reads: str
    variable: str
    # Python source: the computation the view's data comes from (QUERY, or a literal of its id).
    computation: str
    # Python source: the lines that give app.callback its inputs, after the outputs.
    inputs: tuple[str, ...]


class _CallbacksModule(NamedTuple):
    """What signaling/callbacks.py imports and defines beside the compute and stage callbacks."""

    # Its import statements, sorted as isort does, "" between sections.
    imports: tuple[str, ...]
    consumers: tuple[_Consumer, ...]


# The module each view kind's callback annotation is imported from (see ViewKind.returns).
# Imports are wrapped, as ruff formats them, past this length.
_LINE_LENGTH = 88


def _signal_ref(source: str) -> str:
    """Python source for the store that signals `source`: see signaling/ids.py."""
    return "SIGNAL_ID" if source == QUERY else f"SIGNALS[{python_literal(source)}]"


def _consumer_context(view: ViewSpec, signalled: bool) -> _Consumer:
    """A view's consumer callback: it reads a signal, the filters, or (live) fresh data."""
    literal = python_literal(view.id)
    if view.is_live:
        trigger, reads = _LIVE, "fresh"
        inputs: tuple[str, ...] = (
            "inputs={",
            '    "filters": FILTERS.inputs(),',
            f'    "tick": Input(INTERVALS[{literal}][0], "n_intervals"),',
            "},",
        )
    elif view.reads_cache and signalled:
        trigger, reads = _SIGNAL, "summary_for"
        inputs = (f'Input({_signal_ref(view.source)}, "data"),',)
    else:
        trigger = _FILTERS
        reads = "cached_summary" if view.reads_cache else "cached_result"
        inputs = ('inputs={"filters": FILTERS.inputs()},',)
    name = view.source if view.reads_cache else view.id
    return _Consumer(
        view=view.id,
        kind_name=view.kind,
        kind=VIEW_KINDS[view.kind],
        callback=update_callback(view.id),
        trigger=trigger,
        reads=reads,
        variable="summary" if view.reads_cache else "frame",
        computation="QUERY" if name == QUERY else python_literal(name),
        inputs=inputs,
    )


def _callbacks_module(spec: Spec, consumers: list[_Consumer]) -> _CallbacksModule:
    signalled = spec.app.pattern == "signal"
    kinds = {c.kind_name for c in consumers}
    used = [VIEW_KINDS[kind] for kind in VIEW_KINDS if kind in kinds]
    triggers = {c.trigger for c in consumers}
    live = _LIVE in triggers
    ids = {
        "INTERVALS": live,
        "RUNNING_ID": spec.app.background,
        "SIGNAL_ID": signalled,
        "SIGNALS": any(c.trigger is _SIGNAL and c.computation != "QUERY" for c in consumers)
        or (signalled and bool(spec.stages)),
    }
    wired = live or _SIGNAL in triggers or (signalled and bool(spec.stages))
    queried = signalled
    id_names = [name for name, wanted in ids.items() if wanted]
    # The third-party imports, by module as ruff sorts them: each kind's helpers and the type
    # its callbacks return.
    names: dict[str, set[str]] = {
        "dash": {"Dash", "Input", "Output"} if wired else {"Dash", "Output"},
        "dashsignal.outputs": {name for k in used for name in (k.shows, k.failed)},
        "dashsignal.signaling": {"shows_failures"},
    }
    if queried:
        names["dashsignal"] = {"QUERY"}
    for kind in used:
        module, name = kind.returns_from
        names.setdefault(module, set()).add(name)
    imports = (
        "from typing import Any",
        "",
        *(_import_from(module, sorted(names[module], key=_by_type)) for module in sorted(names)),
        "",
        *(f"import views.{view_id}" for view_id in sorted(c.view for c in consumers)),
        _import_from("signaling.computations", "SIGNALING"),
        _import_from("signaling.filters", "FILTERS"),
        *([_import_from("signaling.ids", id_names)] if id_names else []),
    )
    return _CallbacksModule(imports=imports, consumers=tuple(consumers))


def _by_type(name: str) -> tuple[int, str]:
    """Constants, then classes, then functions: the order ruff's isort gives imported names."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def _import_from(module: str, names: list[str] | str) -> str:
    """`from module import names`, in parentheses one name a line when it is too long."""
    names = [names] if isinstance(names, str) else names
    line = f"from {module} import {', '.join(names)}"
    if len(line) <= _LINE_LENGTH:
        return line
    return "\n".join([f"from {module} import (", *(f"    {name}," for name in names), ")"])


# --- signaling/layout.py ---------------------------------------------------------------------


class _Card(NamedTuple):
    """A view's card in the page."""

    builder: str
    view: str
    title: str
    # Python source: the builder's keyword arguments after the id and the title.
    keywords: tuple[str, ...] = ()


class _LayoutModule(NamedTuple):
    """What signaling/layout.py imports and shows: its groups of cards, in the page's order."""

    imports: tuple[str, ...]
    groups: tuple[tuple[str, tuple[_Card, ...]], ...]
    # The table columns shown as money: none without a table.
    money_columns: tuple[str, ...]


# The keyword arguments a kind's card takes beyond its id and title.
def _layout_module(spec: Spec, views: list[_View], amount: str) -> _LayoutModule:
    kinds = {v.kind for v in views}
    ids = [
        name
        for name, wanted in (
            ("INTERVALS", any(v.is_live for v in views)),
            ("RUNNING_ID", spec.app.background),
            ("SIGNALS", spec.app.pattern == "signal"),
        )
        if wanted
    ]
    builders = sorted([VIEW_KINDS[k].card for k in VIEW_KINDS if k in kinds] + ["page"])
    imports = (
        "from dash import html",
        _import_from("dashsignal.layout", builders),
        "",
        _import_from("signaling.filters", "FILTERS"),
        *([_import_from("signaling.ids", ids)] if ids else []),
        _import_from("signaling.settings", "TITLE"),
    )
    groups = tuple(
        (
            kind.group,
            tuple(
                _Card(kind.card, v.id, v.title, kind.card_keywords) for v in views if v.kind == name
            ),
        )
        for name, kind in VIEW_KINDS.items()
        if name in kinds
    )
    money = (amount,) if "table" in kinds else ()
    return _LayoutModule(imports=imports, groups=groups, money_columns=money)


# --- tests/test_signaling.py and tests/test_browser.py ----------------------------------------


def _contracts(spec: Spec) -> tuple[str, ...]:
    """The contract mixins the project's signaling test takes from dashsignal.testing.contract."""
    cached = spec.cache.backend != "null"
    mixins = [
        name
        for name, applies in (
            ("CachedContract", cached),
            ("LiveViewsContract", any(v.is_live for v in spec.views)),
            ("SignalsContract", spec.app.pattern == "signal"),
            ("StagesContract", bool(spec.stages) and cached),
        )
        if applies
    ]
    return tuple(mixins) or ("SignalingContract",)


class _BrowserTest(NamedTuple):
    """What the project's browser test declares beyond its views."""

    # The views whose data does not come from the query: a stage, "own" or "live".
    sourced: tuple[_View, ...]
    # The filters a user can change: a radio button or dropdown whose one option is its
    # default cannot be changed.
    changeable: tuple[str, ...]
    money_columns: tuple[str, ...]


def _browser_test(views: list[_View], filters: list[_Filter], amount: str) -> _BrowserTest:
    changeable = tuple(
        f.id
        for f in filters
        if f.kind not in ("radio", "dropdown") or any(o != f.default for o in f.options)
    )
    tables = any(v.kind == "table" for v in views)
    return _BrowserTest(
        sourced=tuple(v for v in views if v.source != QUERY),
        changeable=changeable,
        money_columns=(amount,) if tables else (),
    )


# --- stages, filters and views ----------------------------------------------------------------


class _Stage(NamedTuple):
    id: str
    source: str
    title: str
    callback: str
    # Python source: the stores that signal this stage and its source, and its source's name.
    signal_ref: str
    source_ref: str
    source_name: str
    signal_id: str
    views: tuple[str, ...]


def _stage_context(stage: StageSpec, views: list[_View]) -> _Stage:
    return _Stage(
        id=stage.id,
        source=stage.source,
        title=stage.title,
        callback=derive_callback(stage.id),
        signal_ref=_signal_ref(stage.id),
        source_ref=_signal_ref(stage.source),
        source_name="QUERY" if stage.source == QUERY else python_literal(stage.source),
        signal_id=signal_id(stage.id),
        views=tuple(v.id for v in views if v.source == stage.id),
    )


class _Filter(NamedTuple):
    id: str
    kind: str
    label: str
    is_choice: bool
    options: tuple[Any, ...]
    min: Any
    max: Any
    step: Any
    integral: bool
    default: Any
    # signaling/filters.py: the keyword arguments of its Filter(...), in order, as Python source
    # (literals; the options of a filter whose options come from the database, a call).
    arguments: tuple[tuple[str, str], ...]
    # The demo's data.py: its kind's templates for the query's condition and the demo column.
    demo_condition: str
    demo_column: str


def _filter_context(item: FilterSpec, table: str) -> _Filter:
    low, high, default = _plain(item.min), _plain(item.max), _plain(item.default)
    bounds: tuple[tuple[str, str], ...]
    if item.options_from == OPTIONS_FROM_COLUMN:
        # Read when the app starts; Filters.canonical enforces them like any options.
        distinct = f"DATABASE.distinct({python_literal(item.column_name)}, {python_literal(table)})"
        bounds = (("options", distinct),)
    elif item.options_from is not None:
        bounds = (("options", f"DATABASE.options({python_literal(item.options_from)})"),)
    elif item.is_choice:
        bounds = (("options", python_literal(item.options)),)
    else:
        steps = (("step", python_literal(item.step)),) if item.step is not None else ()
        bounds = (("min", python_literal(low)), ("max", python_literal(high)), *steps)
    return _Filter(
        id=item.id,
        kind=item.kind,
        label=item.label,
        is_choice=item.is_choice,
        options=item.options,
        min=low,
        max=high,
        step=item.step,
        integral=all(type(v) is int for v in (item.min, item.max, item.step)),
        default=default,
        arguments=(
            ("id", python_literal(item.id)),
            ("kind", python_literal(item.kind)),
            ("label", python_literal(item.label)),
            *bounds,
            ("default", python_literal(default)),
            *((("column", python_literal(item.column)),) if item.column is not None else ()),
        ),
        demo_condition=FILTER_KINDS[item.kind].demo_condition,
        demo_column=FILTER_KINDS[item.kind].demo_column,
    )


class _DemoColumn(NamedTuple):
    """One column of the demo table: a dashsignal.demo class and its arguments."""

    kind: str
    arguments: tuple[Any, ...]


def _demo_table(demo: dict[str, Any]) -> tuple[_DemoColumn, ...]:
    return tuple(
        _DemoColumn(kind, tuple(tuple(a) if isinstance(a, list) else a for a in arguments))
        for kind, *arguments in demo.get("columns", ())
    )


# Words SQL reserves (in SQL:2016, SQLite, PostgreSQL or DuckDB) that a column id may be: the
# demo's SELECT quotes them. Conditions are quoted by the dialect whatever the name.
_SQL_RESERVED = frozenset(
    """all analyse analyze and any array as asc asymmetric between both by case cast check
    collate column constraint create cross current_date current_role current_time
    current_timestamp current_user default deferrable desc distinct do else end except exists
    false fetch for foreign from full grant group having in initially inner intersect into is
    join lateral leading left like limit localtime localtimestamp natural not null offset on
    only or order outer over placing primary references returning right select session_user
    some symmetric table then to trailing true union unique user using variadic values when
    where window with""".split()
)


def _sql_name(name: str) -> str:
    """A column name as the demo's SQL writes it: quoted when SQL reserves the word or it is
    not all lower case (unquoted names are folded to lower case by PostgreSQL)."""
    return f'"{name}"' if name.lower() in _SQL_RESERVED or name != name.lower() else name


def _year_filter(spec: Spec) -> str | None:
    """The filter whose values are years, which the demo derives from its day column."""
    for f in spec.filters:
        values = list(f.options) if f.is_choice else [f.min, f.max]
        whole = all(type(v) is int and 1900 <= v <= 2200 for v in values)
        if "year" in f.id and whole and (f.is_choice or f.step == 1):
            return f.id
    return None


# What each indicator of the demo shows, in the order of the indicators in the spec; the ones
# past the end show a placeholder that says where to write their measure.
_INDICATOR_MEASURES = ("total", "average", "largest", "count")


class _Demo(NamedTuple):
    """What the demo module of a view draws: its chart or measure, from which columns."""

    chart: str
    x: str
    y: str
    x_title: str
    y_title: str
    measure: str | None
    # The axis title of each column its chart draws.
    labels: dict[str, str]


class _View(NamedTuple):
    id: str
    kind: str
    title: str
    source: str
    is_own: bool
    is_live: bool
    reads_cache: bool
    signal_id: str | None
    # Milliseconds, as dcc.Interval takes them.
    interval_ms: int | None
    interval_id: str | None
    # A live view's period, in seconds, as its docstring says it.
    every: str | None
    # README: where its data comes from.
    data: str
    demo: _Demo
    # Whose its data is: its own (own, live) or its source's.
    scope: _Scope


def _view_context(
    view: ViewSpec,
    graphs: list[ViewSpec],
    indicators: list[ViewSpec],
    demo: dict[str, str],
    *,
    time_column: str,
    categories: list[str],
    titles: dict[str, str],
    scope: _Scope,
) -> _View:
    # The demo gives each chart something different to show: the first a timeline, the next
    # ones a bar chart per category filter, and a histogram when there is nothing left. Own and
    # live views compute a time series of their own.
    chart, x = "timeline", time_column
    if view.is_live:
        chart = "live"
    elif view.kind == "graph" and view.reads_cache:
        position = graphs.index(view)
        if position > 0 and categories:
            chart, x = "bar", categories[(position - 1) % len(categories)]
        elif position > 0:
            chart = "histogram"
    measure = None
    if view.kind == "indicator":
        position = indicators.index(view)
        measure = _INDICATOR_MEASURES[position] if position < len(_INDICATOR_MEASURES) else None
    y = demo["amount"]
    x_title = {"timeline": "Month", "live": "Time"}.get(chart) or titles.get(x) or humanize(x)
    y_title = titles.get(y) or humanize(y)
    labels = {y: y_title} if chart == "histogram" else {x: x_title, y: y_title}
    interval_ms = round(view.interval * 1000) if view.interval is not None else None
    every = f"{interval_ms / 1000:g}" if interval_ms is not None else None
    if every is not None:
        data = f"live, every {every} s"
    elif view.is_own:
        data = "its own, cached"
    elif view.source == QUERY:
        data = "the query"
    else:
        data = f"stage `{view.source}`"
    return _View(
        id=view.id,
        kind=view.kind,
        title=view.title,
        source=view.source,
        is_own=view.is_own,
        is_live=view.is_live,
        reads_cache=view.reads_cache,
        signal_id=signal_id(view.source) if view.reads_cache else None,
        interval_ms=interval_ms,
        interval_id=interval_id(view.id) if view.is_live else None,
        every=every,
        data=data,
        demo=_Demo(
            chart=chart,
            x=x,
            y=y,
            x_title=x_title,
            y_title=y_title,
            measure=measure,
            labels=labels,
        ),
        scope=scope,
    )


def _free_name(name: str, taken: set[str]) -> str:
    while name in taken:
        name = f"{name}_value"
    return name


def _plain(value: Any) -> Any:
    """Dates become ISO strings, the form they have in JSON and in the browser."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value.isoformat() if hasattr(value, "isoformat") else value
