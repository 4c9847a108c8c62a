"""The validated model of a project: what every other module works from.

`spec_from_data` takes the plain data of a `dashsignal.toml` and either returns a `Spec` or
raises `SpecError` naming the key and what is allowed; `view_from_data`, `filter_from_data` and
`stage_from_data` do the same for one entry (the flags and prompts build theirs with them).
This module is the only one that checks the rules across entries (ids unique, sources known,
no cycle, background only with the signal pattern): `build_spec`, `Spec.with_entry` and
`Spec.without` apply them to entries from the file, from `dashsignal new`'s flags and prompts,
and from the add and remove commands, each error naming the entry the way its origin does.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import keyword
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

from dashsignal.columns import check_column
from dashsignal_cli import kinds
from dashsignal_cli.errors import SpecError
from dashsignal_cli.kinds import DEFAULT_FILTER_KIND, DEFAULT_VIEW_KIND, FilterKind

__all__ = [
    "CACHE_BACKENDS",
    "CHOICE_KINDS",
    "ENTRY_TABLES",
    "FILTER_KINDS",
    "FILTER_VALUE_FORMS",
    "VIEW_KINDS",
    "AUTH_MODES",
    "AppSpec",
    "AuthSpec",
    "CacheSpec",
    "DATA_SOURCES",
    "DataSpec",
    "Entry",
    "FilterSpec",
    "OptionValue",
    "Origin",
    "PATTERNS",
    "QUERY",
    "SCOPES",
    "SCOPE_ARGUMENTS",
    "SECRET_ENV",
    "Spec",
    "StageSpec",
    "USERS_ENV",
    "ViewSpec",
    "build_spec",
    "check_background",
    "check_entries",
    "check_entry_id",
    "check_identifier",
    "check_project_name",
    "app_from_data",
    "auth_from_data",
    "check_scopes",
    "cache_from_data",
    "data_from_data",
    "filter_from_data",
    "humanize",
    "spec_from_data",
    "stage_from_data",
    "view_from_data",
]

# The kinds' names, from their descriptions in kinds.py.
VIEW_KINDS = kinds.VIEW_KINDS_OFFERED
FILTER_KINDS = tuple(kinds.FILTER_KINDS)
CHOICE_KINDS = tuple(name for name, kind in kinds.FILTER_KINDS.items() if kind.is_choice)
MULTI_KINDS = tuple(name for name, kind in kinds.FILTER_KINDS.items() if kind.is_multi)
# What `expensive_query(filters)` finds under a filter's id, per kind (signaling/filters.py).
FILTER_VALUE_FORMS = {name: kind.value_form for name, kind in kinds.FILTER_KINDS.items()}
CACHE_BACKENDS = ("filesystem", "redis", "simple", "null")
# Where expensive_query's rows come from (data.py): SQL through SQLAlchemy, DuckDB, or the
# project's own Python returning a DataFrame.
DATA_SOURCES = ("duckdb", "sql", "pandas")
# What `dashsignal new` writes (measured: benchmarks/bench_sources.py, README "Data sources").
NEW_DATA_SOURCE = "duckdb"
# The environment variable that names another database, and the embedded file used without it.
_DATA_DEFAULTS = {
    "duckdb": ("DUCKDB_DATABASE", "data/sales.duckdb"),
    "sql": ("DATABASE_URL", "data/sales.sqlite"),
}
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,63}\Z")
_DATA_FILE = re.compile(
    r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}(/[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}){0,4}\Z"
)
PATTERNS = ("signal", "memoize")
# Who may see the dashboard ([app] auth): anyone; the users of a users file (HTTP basic); the
# user a trusted reverse proxy names in a header; or whoever the project's auth.current_user says.
AUTH_MODES = ("none", "basic", "proxy", "custom")
# Whose a computation's results are ([app] scope, an own or live view's scope): every visitor's
# alike; each signed-in user's; each browser session's.
SCOPES = ("shared", "user", "session")
SHARED = "shared"
# What a computation of each scope receives after the filters (dashsignal.auth): the name and
# the type of its second parameter. A shared one receives the filters only.
SCOPE_ARGUMENTS = {"user": ("user", "User"), "session": ("session", "Session")}
# What the runtime (dashsignal.auth.SECRET_ENV) signs sessions and keys scopes with.
SECRET_ENV = "DASHSIGNAL_SECRET_KEY"
# The runtime reads a users file named here instead of [auth] users (dashsignal.auth).
USERS_ENV = "DASHSIGNAL_USERS"
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}\Z")
# A view's `source`: the main query (the default), a stage's id, or one of these two.
QUERY = "query"
OWN = "own"  # an independent view: its own cached computation, in its own module
LIVE = "live"  # a real-time view: refreshed on an interval, not cached
RESERVED_SOURCES = (QUERY, OWN, LIVE)
DEFAULT_INTERVAL = 5
MIN_INTERVAL = 0.5
MAX_INTERVAL = 24 * 3600

MAX_TEXT = 200
MAX_OPTIONS = 500
MAX_TIMEOUT = 31 * 24 * 3600
MAX_LOCK_TIMEOUT = 3600
# gunicorn kills a worker whose request runs longer than its timeout: the generated
# gunicorn.conf.py gives workers the lock wait plus this margin, so a waiter is never killed.
WORKER_TIMEOUT_MARGIN = 10
MAX_NEW_PER_MINUTE = 1_000_000
MAX_VERSION_CHECK = 86_400
# Ids and the project name become file names (views/ID.py, and the writer's temporary
# `.ID.py.<8 hex>.dashsignal-new` beside it), function names and component ids; most file
# systems cap a name at 255 bytes.
MAX_ID = 64
# A client can send any value a control allows, and each distinct filter state is its own
# cache entry: a range slider has at most this many steps between min and max (1,001
# positions, about 500,000 (from, to) pairs).
MAX_RANGE_STEPS = 1000
# A dates picker allows every (from, to) pair of days in its span: at most 3,653 days (ten
# years), that is 3,654 dates and 6,677,685 pairs.
MAX_DATE_SPAN_DAYS = 3653
MAX_DATE_PAIRS = (MAX_DATE_SPAN_DAYS + 1) * (MAX_DATE_SPAN_DAYS + 2) // 2

# Names an id may not take, because a view's or stage's module (views/ID.py, stages/ID.py)
# and the project's own modules share Python's module namespace: the packages and modules
# a generated project has, and the top-level modules its generated code imports (tests
# check both lists against a render). Dunder names (__init__, __main__) are refused too.
PROJECT_MODULES = frozenset(
    {"app", "assets", "auth", "conftest", "data", "signaling", "stages", "tests", "views"}
)
IMPORTED_MODULES = frozenset(
    {
        # third-party: what requirements*.txt install and the generated code imports
        "celery",
        "dash",
        "dash_ag_grid",
        "dashsignal",
        "diskcache",
        "flask",
        "flask_caching",
        "gunicorn",
        "multiprocess",
        "numpy",
        "pandas",
        "plotly",
        "pyarrow",
        "pytest",
        "redis",
        "selenium",
        "werkzeug",
        # the standard library modules the generated code imports
        "collections",
        "concurrent",
        "contextlib",
        "dataclasses",
        "datetime",
        "enum",
        "fcntl",
        "functools",
        "hashlib",
        "importlib",
        "io",
        "json",
        "logging",
        "math",
        "os",
        "pathlib",
        "pickle",
        "platform",
        "re",
        "secrets",
        "shutil",
        "signal",
        "socket",
        "struct",
        "subprocess",
        "sys",
        "threading",
        "time",
        "types",
        "typing",
    }
)
RESERVED_IDS = PROJECT_MODULES | IMPORTED_MODULES

# Option values travel through JSON to the browser and back; str and int survive the trip
# unchanged, while a float such as 1.0 comes back as 1 and a bool would equal 1.
OptionValue = str | int
Number = int | float

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
OPTIONS_FROM_COLUMN = "column"
MAX_OPTIONS_QUERY = 2000


@dataclass(frozen=True)
class AppSpec:
    name: str
    title: str
    # "signal": one compute callback and signal stores; "memoize": each view calls the cache.
    pattern: str = "signal"
    # Run the compute step as a Dash background callback (for queries longer than a request).
    background: bool = False
    # Who may see the dashboard (AUTH_MODES), and whose the query's results are (SCOPES).
    auth: str = "none"
    scope: str = SHARED

    @property
    def has_auth(self) -> bool:
        """True when every request needs a signed-in user."""
        return self.auth != "none"


@dataclass(frozen=True)
class AuthSpec:
    """How users sign in (`[auth]`): each key is read by one mode, the others ignore it."""

    # basic: the users file (TOML, `python -m dashsignal.users`), relative to the project.
    users: str = "users.toml"
    # proxy: the header the reverse proxy names the signed-in user in, and the addresses (or
    # networks) of the proxies trusted to set it.
    header: str = "X-Forwarded-User"
    proxies: tuple[str, ...] = ("127.0.0.1", "::1")


@dataclass(frozen=True)
class CacheSpec:
    backend: str = "filesystem"
    timeout: int = 300
    # Longest a request waits for another worker's computation of the same data; below the
    # worker timeout (see worker_timeout), so that a waiting worker is never killed.
    lock_timeout: int = 20
    # At most this many new computations a minute (per host, or deployment-wide on Redis):
    # bounds what clients choosing ever new filter states can cost the database. 0: no cap.
    new_per_minute: int = 240
    # Seconds between two runs of data.py's data_version() probe in each process: a change of
    # the data reaches every view within this time.
    version_check: int = 30

    @property
    def worker_timeout(self) -> int:
        """gunicorn's worker timeout for this spec (gunicorn.conf.py): above every lock wait."""
        return self.lock_timeout + WORKER_TIMEOUT_MARGIN


@dataclass(frozen=True)
class DataSpec:
    """Where the rows come from (`[data]`). A spec without the table predates it: its data.py
    is the project's own Python (pandas)."""

    source: str = "pandas"
    # duckdb and sql: the environment variable that names the database (a DuckDB file, a
    # SQLAlchemy URL), and the embedded database file used when it is unset, relative to the
    # project (created with the demo rows when missing).
    env: str = ""
    default: str = ""
    # The table the demo creates and that options are read from.
    table: str = "sales"

    @property
    def is_sql(self) -> bool:
        """True for the sources that run SQL text (sql and duckdb)."""
        return self.source != "pandas"

    @classmethod
    def of(cls, source: str) -> DataSpec:
        """The spec of `source` with its defaults."""
        env, default = _DATA_DEFAULTS.get(source, ("", ""))
        return cls(source=source, env=env, default=default)


@dataclass(frozen=True)
class FilterSpec:
    id: str
    kind: str
    label: str
    options: tuple[OptionValue, ...] = ()
    min: Number | dt.date | None = None
    max: Number | dt.date | None = None
    step: Number | None = None
    default: Any = None
    # The column of the data it is a condition on; None: the column named like its id.
    column: str | None = None
    # Where its options come from when the app starts, instead of `options`: "column" (the
    # distinct values of its column in the database), or the project's own SQL (a SELECT whose
    # first column holds them). None: its options are written in the spec.
    options_from: str | None = None

    @property
    def column_name(self) -> str:
        """The column it is a condition on."""
        return self.id if self.column is None else self.column

    @property
    def described(self) -> FilterKind:
        """Its kind's description (kinds.py)."""
        return kinds.FILTER_KINDS[self.kind]

    @property
    def is_choice(self) -> bool:
        return self.described.is_choice

    @property
    def is_multi(self) -> bool:
        return self.described.is_multi

    @property
    def values_written(self) -> str:
        """Its values as a flag writes them: `North,South`, `2019..2025`."""
        return self.described.written(self.options, self.min, self.max)


@dataclass(frozen=True)
class ViewSpec:
    id: str
    kind: str
    title: str
    # QUERY, a stage id, OWN or LIVE.
    source: str = QUERY
    # Seconds between refreshes of a LIVE view; None for every other source.
    interval: int | float | None = None
    # An OWN or LIVE view's own scope (SCOPES); None: the app's.
    scope: str | None = None

    @property
    def is_own(self) -> bool:
        return self.source == OWN

    @property
    def is_live(self) -> bool:
        return self.source == LIVE

    @property
    def reads_cache(self) -> bool:
        """True when the view reads a shared result: the query's or a stage's."""
        return self.source not in (OWN, LIVE)


@dataclass(frozen=True)
class StageSpec:
    """A computed stage: derives a result from the query's or an earlier stage's result."""

    id: str
    source: str
    title: str


Entry = FilterSpec | StageSpec | ViewSpec
T = TypeVar("T", FilterSpec, StageSpec, ViewSpec)
# The array of the spec file each kind of entry is written in.
ENTRY_TABLES: dict[type[Any], str] = {
    FilterSpec: "filters",
    StageSpec: "stages",
    ViewSpec: "views",
}
_WHAT = {"filters": "filter", "stages": "stage", "views": "view"}


class Origin(Enum):
    """Where entries come from: how an error names one, and what its hint suggests."""

    FILE = "file"  # dashsignal.toml: an entry is named by its place, views[1]
    FLAGS = "flags"  # dashsignal new's flags and prompts: by its id, the fix is another flag
    COMMAND = "command"  # add-stage, add-view: by its id, beside the file's entries


@dataclass(frozen=True)
class Spec:
    app: AppSpec
    cache: CacheSpec
    filters: tuple[FilterSpec, ...]
    views: tuple[ViewSpec, ...]
    stages: tuple[StageSpec, ...] = ()
    data: DataSpec = DataSpec()
    auth: AuthSpec = AuthSpec()

    @property
    def needs_secret(self) -> bool:
        """True when the app signs sessions or keys scopes: it needs SECRET_ENV to start."""
        return self.app.has_auth or any(s != SHARED for s in self.scopes().values())

    def scope_of(self, view: ViewSpec) -> str:
        """The scope of a view's data: its own (own, live) or its source's (the app's)."""
        return view.scope if view.scope is not None else self.app.scope

    def scopes(self) -> dict[str, str]:
        """The scope of each computation, by name: the query, each stage (its source's: the
        query's), each own and live view."""
        return {
            QUERY: self.app.scope,
            **{s.id: self.app.scope for s in self.stages},
            **{v.id: self.scope_of(v) for v in self.views if not v.reads_cache},
        }

    def ordered_stages(self) -> tuple[StageSpec, ...]:
        """The stages so that each comes after the one it derives from (validated acyclic)."""
        return _topological(self.stages)

    def stage(self, stage_id: str) -> StageSpec | None:
        return next((s for s in self.stages if s.id == stage_id), None)

    def entries(self, table_name: str) -> tuple[Entry, ...]:
        """The entries of one array of the file: "filters", "stages" or "views"."""
        entries: tuple[Entry, ...] = getattr(self, table_name)
        return entries

    def with_entry(self, entry: Entry) -> Spec:
        """This spec with `entry` appended to its array; its id must be new, its source known."""
        taken = {
            e.id.casefold(): (what, e.id)
            for table_name, what in _WHAT.items()
            for e in self.entries(table_name)
        }.get(entry.id.casefold())
        if taken is not None:
            what, existing = taken
            same = "" if existing == entry.id else f" (same as {entry.id!r} ignoring case)"
            raise SpecError(
                f"there is already a {what} with id {existing!r}{same}",
                hint="Ids name modules and components: every filter, stage and view needs its "
                "own. Pick another id, or remove the existing one first.",
            )
        filters, stages, views = self.filters, self.stages, self.views
        if isinstance(entry, FilterSpec):
            filters = (*filters, entry)
        elif isinstance(entry, StageSpec):
            stages = (*stages, entry)
        else:
            views = (*views, entry)
        return _assemble(
            self.app,
            self.cache,
            Origin.COMMAND,
            filters=filters,
            stages=stages,
            views=views,
            data=self.data,
            auth=self.auth,
        )

    def without(self, table_name: str, entry_id: str) -> Spec:
        """This spec without the entry `entry_id` of `table_name`; a stage still read stays."""
        entries = self.entries(table_name)
        if not any(e.id == entry_id for e in entries):
            known = ", ".join(e.id for e in entries) or "none"
            raise SpecError(
                f"no {_WHAT[table_name]} {entry_id!r} in dashsignal.toml (there are: {known})"
            )
        if table_name == "stages":
            readers = [
                f"{_WHAT[name]} {e.id!r}"
                for name in ("stages", "views")
                for e in self.entries(name)
                if isinstance(e, StageSpec | ViewSpec) and e.source == entry_id
            ]
            if readers:
                raise SpecError(
                    f"stage {entry_id!r} is still read by {', '.join(readers)}",
                    hint="Remove those first (remove-view, remove-stage), or point their source "
                    'at another stage or "query" in dashsignal.toml; then remove this stage.',
                )

        def kept(name: str, entries: tuple[T, ...]) -> tuple[T, ...]:
            return tuple(e for e in entries if name != table_name or e.id != entry_id)

        return _assemble(
            self.app,
            self.cache,
            Origin.FILE,
            filters=kept("filters", self.filters),
            stages=kept("stages", self.stages),
            views=kept("views", self.views),
            data=self.data,
            auth=self.auth,
        )


def humanize(identifier: str) -> str:
    """`sales_by_month` -> `Sales by month`: the default title or label of an id."""
    words = identifier.strip("_").replace("_", " ")
    return (words[:1].upper() + words[1:]) if words else identifier


def check_identifier(value: object, where: str, what: str = "id") -> str:
    """Return `value` if it is a usable Python identifier, else raise naming `where`."""
    if not isinstance(value, str) or not value:
        raise SpecError(f"{where}: {what} must be a non-empty string")
    if not _IDENTIFIER.match(value):
        raise SpecError(
            f"{where}: {what} {value!r} is not a valid identifier",
            hint="Use letters, digits and underscores, not starting with a digit: sales_2024.",
        )
    if len(value) > MAX_ID:
        raise SpecError(
            f"{where}: {what} {value[:20]}... is {len(value)} characters long; at most {MAX_ID}",
            hint="Pick a shorter name: it names files and Python functions.",
        )
    if keyword.iskeyword(value) or keyword.issoftkeyword(value):
        raise SpecError(f"{where}: {what} {value!r} is a Python keyword", hint="Pick another name.")
    return value


def check_entry_id(value: object, where: str) -> str:
    """Return the id of a filter, stage or view if it is usable, else raise naming `where`.

    On top of `check_identifier`: an id names a module (views/ID.py, stages/ID.py) beside the
    project's own modules, so dunder names and the modules in RESERVED_IDS are refused.
    """
    identifier = check_identifier(value, where)
    if identifier.startswith("__") and identifier.endswith("__"):
        raise SpecError(
            f"{where}: id {identifier!r} is a dunder name, which Python reserves "
            "(__init__.py, __main__.py)",
            hint="Pick another id, e.g. sales.",
        )
    if identifier.casefold() in RESERVED_IDS:
        why = (
            "a package or module of the project"
            if identifier.casefold() in PROJECT_MODULES
            else "a module the generated code imports"
        )
        raise SpecError(
            f"{where}: id {identifier!r} is reserved: it is {why}",
            hint=f"Pick another id, e.g. {identifier}_view or my_{identifier}.",
        )
    return identifier


def check_project_name(name: str) -> str:
    """Return `name` if it can name both a folder here and the app; else say what is wrong."""
    hint = "Use a plain name like my_dashboard: letters, digits and underscores."
    if not name.strip():
        raise SpecError("the project name is empty", hint=hint)
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise SpecError(f"project name {name!r} is an absolute path", hint=hint)
    if "/" in name or "\\" in name:
        raise SpecError(f"project name {name!r} contains a path separator", hint=hint)
    if name in (".", "..") or name.startswith("."):
        raise SpecError(f"project name {name!r} starts with a dot", hint=hint)
    if name[0].isdigit():
        raise SpecError(f"project name {name!r} starts with a digit", hint=hint)
    return check_identifier(name, "project name", "name")


def spec_from_data(data: Mapping[str, Any]) -> Spec:
    """Validate the plain data of a spec file and build the model."""
    _only_keys(data, "", ("app", "auth", "cache", "data", "filters", "stages", "views"))
    app = app_from_data(_table(data, "app"))
    cache = cache_from_data(_table(data, "cache", required=False))
    source = data_from_data(data["data"]) if "data" in data else DataSpec()
    auth = auth_from_data(data["auth"]) if "auth" in data else AuthSpec()
    filters = tuple(
        filter_from_data(item, f"filters[{i}]") for i, item in enumerate(_array(data, "filters"))
    )
    stages = tuple(
        stage_from_data(item, f"stages[{i}]") for i, item in enumerate(_array(data, "stages"))
    )
    views = tuple(
        view_from_data(item, f"views[{i}]") for i, item in enumerate(_array(data, "views"))
    )
    return build_spec(
        app, cache, filters=filters, stages=stages, views=views, data=source, auth=auth
    )


def build_spec(
    app: AppSpec,
    cache: CacheSpec,
    *,
    filters: tuple[FilterSpec, ...],
    stages: tuple[StageSpec, ...],
    views: tuple[ViewSpec, ...],
    data: DataSpec = DataSpec(),
    origin: Origin = Origin.FILE,
    auth: AuthSpec = AuthSpec(),
) -> Spec:
    """The spec of these parts, once the rules across its entries hold."""
    return _assemble(
        app, cache, origin, filters=filters, stages=stages, views=views, data=data, auth=auth
    )


def _assemble(
    app: AppSpec,
    cache: CacheSpec,
    origin: Origin,
    *,
    filters: tuple[FilterSpec, ...],
    stages: tuple[StageSpec, ...],
    views: tuple[ViewSpec, ...],
    data: DataSpec = DataSpec(),
    auth: AuthSpec = AuthSpec(),
) -> Spec:
    if not filters:
        raise SpecError(
            "filters: a project needs at least one filter", hint="Add a [[filters]] entry."
        )
    if not views:
        raise SpecError("views: a project needs at least one view", hint="Add a [[views]] entry.")
    check_entries(filters, stages, views, origin)
    check_background(app.pattern, app.background, origin)
    check_scopes(app, views, origin)
    _check_columns(filters)
    _check_options_from(filters, data)
    return Spec(
        app=app, cache=cache, filters=filters, views=views, stages=stages, data=data, auth=auth
    )


def _check_options_from(filters: Sequence[FilterSpec], data: DataSpec) -> None:
    for item in filters:
        if item.options_from is not None and not data.is_sql:
            raise SpecError(
                f"filter {item.id!r}: options_from reads the database, and [data] source is "
                f"{data.source!r}",
                hint='Use source = "duckdb" or "sql", or list the filter\'s options.',
            )


def _check_columns(filters: Sequence[FilterSpec]) -> None:
    """Two filters on one column would put two conditions on it: one of them is a mistake."""
    seen: dict[str, str] = {}
    for item in filters:
        other = seen.setdefault(item.column_name.casefold(), item.id)
        if other != item.id:
            raise SpecError(
                f"filters {other!r} and {item.id!r} are both conditions on column "
                f"{item.column_name!r}",
                hint='Give one of them its own column (column = "..." in its [[filters]] entry).',
            )


def check_entries(
    filters: Sequence[FilterSpec],
    stages: Sequence[StageSpec],
    views: Sequence[ViewSpec],
    origin: Origin = Origin.FILE,
) -> None:
    """Every id unique; every stage and view reads a source there is; no cycle of stages.

    A prompt checks the entries given so far with it (the filters may be still to come).
    """
    _check_unique([f.id for f in filters] + [s.id for s in stages] + [v.id for v in views])
    _check_sources(tuple(stages), tuple(views), origin)


def check_background(pattern: str, background: bool, origin: Origin = Origin.FILE) -> None:
    """A background compute step needs the signal pattern (memoize has no compute step)."""
    if not background or pattern == "signal":
        return
    if origin is Origin.FILE:
        raise SpecError(
            'app.background: a background compute step needs pattern = "signal"',
            hint="The memoize pattern has no compute step; set background = false.",
        )
    raise SpecError(
        f"--background needs --pattern signal, not {pattern}",
        hint="The memoize pattern has no compute step to run in the background: "
        "leave out --background or --pattern.",
    )


def check_scopes(
    app: AppSpec, views: Sequence[ViewSpec] = (), origin: Origin = Origin.FILE
) -> None:
    """A user scope needs a signed-in user; a background job has no request to take the user
    or the session from, so it computes shared results only."""
    flags = origin is not Origin.FILE
    scoped = [("--scope" if flags else "app.scope", app.scope)] + [
        (f"view {v.id!r}" if flags else f"views[{i}].scope", v.scope)
        for i, v in enumerate(views)
        if v.scope is not None
    ]
    for where, scope in scoped:
        if scope == "user" and not app.has_auth:
            raise SpecError(
                f'{where}: scope "user" needs a signed-in user, and auth is "none"',
                hint="Pick how users sign in: --auth basic, proxy or custom."
                if flags
                else 'Set [app] auth = "basic", "proxy" or "custom", or scope = "session".',
            )
        if scope != SHARED and app.background:
            raise SpecError(
                f"{where}: scope {scope!r} with a background compute step: a background job "
                "has no request to take the user or the session from",
                hint="Leave out --background, or keep the scope shared."
                if flags
                else 'Set background = false, or scope = "shared".',
            )


def app_from_data(table: Mapping[str, Any]) -> AppSpec:
    """Validate the `[app]` table."""
    _only_keys(table, "app", ("name", "title", "pattern", "background", "auth", "scope"))
    name = check_identifier(table.get("name"), "app.name", "name")
    title = _text(table, "app", "title", default=humanize(name))
    pattern = table.get("pattern", AppSpec.pattern)
    if pattern not in PATTERNS:
        raise SpecError(f"app.pattern: unknown pattern {pattern!r}; allowed: {', '.join(PATTERNS)}")
    background = table.get("background", False)
    if not isinstance(background, bool):
        raise SpecError(f"app.background: must be true or false, got {background!r}")
    auth = table.get("auth", AppSpec.auth)
    if auth not in AUTH_MODES:
        raise SpecError(f"app.auth: unknown mode {auth!r}; allowed: {', '.join(AUTH_MODES)}")
    scope = _scope(table, "app", AppSpec.scope)
    return AppSpec(
        name=name, title=title, pattern=pattern, background=background, auth=auth, scope=scope
    )


def _scope(table: Mapping[str, Any], where: str, default: str | None) -> Any:
    scope = table.get("scope", default)
    if scope is not None and scope not in SCOPES:
        raise SpecError(f"{where}.scope: unknown scope {scope!r}; allowed: {', '.join(SCOPES)}")
    return scope


def auth_from_data(item: object) -> AuthSpec:
    """Validate the `[auth]` table."""
    table = _as_table(item, "auth")
    _only_keys(table, "auth", ("users", "header", "proxies"))
    users = table.get("users", AuthSpec.users)
    if not isinstance(users, str) or not _DATA_FILE.match(users) or ".." in users.split("/"):
        raise SpecError(
            f"auth.users: {users!r} is not a file path inside the project "
            "(relative, letters, digits, '_', '-' and '.', e.g. users.toml)"
        )
    header = table.get("header", AuthSpec.header)
    if not isinstance(header, str) or not _HEADER_NAME.match(header):
        raise SpecError(
            f"auth.header: {header!r} is not an HTTP header name (e.g. X-Forwarded-User)"
        )
    proxies = table.get("proxies", list(AuthSpec.proxies))
    if not isinstance(proxies, list) or not proxies:
        raise SpecError(
            "auth.proxies: a non-empty list of the addresses or networks of the trusted "
            'proxies, e.g. ["127.0.0.1", "10.0.0.0/8"]'
        )
    for i, proxy in enumerate(proxies):
        _check_network(proxy, f"auth.proxies[{i}]")
    return AuthSpec(users=users, header=header, proxies=tuple(proxies))


def _check_network(value: object, where: str) -> None:
    import ipaddress

    try:
        if not isinstance(value, str):
            raise ValueError
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise SpecError(
            f"{where}: {value!r} is not an IP address or network (e.g. 10.0.0.1, 10.0.0.0/8)"
        ) from None


def cache_from_data(table: Mapping[str, Any]) -> CacheSpec:
    """Validate the `[cache]` table."""
    _only_keys(
        table, "cache", ("backend", "timeout", "lock_timeout", "new_per_minute", "version_check")
    )
    backend = table.get("backend", CacheSpec.backend)
    if backend not in CACHE_BACKENDS:
        raise SpecError(
            f"cache.backend: unknown cache backend {backend!r}; "
            f"allowed: {', '.join(CACHE_BACKENDS)}"
        )
    timeout = table.get("timeout", CacheSpec.timeout)
    if type(timeout) is not int or not 0 <= timeout <= MAX_TIMEOUT:
        raise SpecError(
            f"cache.timeout: must be a whole number of seconds from 0 to {MAX_TIMEOUT} "
            f"(0 keeps entries until they are evicted), got {timeout!r}"
        )
    lock_timeout = table.get("lock_timeout", CacheSpec.lock_timeout)
    if type(lock_timeout) is not int or not 1 <= lock_timeout <= MAX_LOCK_TIMEOUT:
        raise SpecError(
            f"cache.lock_timeout: must be a whole number of seconds from 1 to {MAX_LOCK_TIMEOUT}, "
            f"got {lock_timeout!r}"
        )
    new_per_minute = table.get("new_per_minute", CacheSpec.new_per_minute)
    if type(new_per_minute) is not int or not 0 <= new_per_minute <= MAX_NEW_PER_MINUTE:
        raise SpecError(
            f"cache.new_per_minute: must be a whole number from 0 to {MAX_NEW_PER_MINUTE} "
            f"(0: no cap), got {new_per_minute!r}"
        )
    version_check = table.get("version_check", CacheSpec.version_check)
    if type(version_check) is not int or not 1 <= version_check <= MAX_VERSION_CHECK:
        raise SpecError(
            f"cache.version_check: must be a whole number of seconds from 1 to "
            f"{MAX_VERSION_CHECK}, got {version_check!r}"
        )
    return CacheSpec(
        backend=backend,
        timeout=timeout,
        lock_timeout=lock_timeout,
        new_per_minute=new_per_minute,
        version_check=version_check,
    )


def data_from_data(item: object) -> DataSpec:
    """Validate the `[data]` table."""
    table = _as_table(item, "data")
    source = table.get("source")
    if source not in DATA_SOURCES:
        raise SpecError(
            f"data.source: unknown data source {source!r}; allowed: {', '.join(DATA_SOURCES)}"
        )
    if source == "pandas":
        _only_keys(table, "data", ("source",))
        return DataSpec(source=source)
    _only_keys(table, "data", ("source", "env", "default", "table"))
    defaults = DataSpec.of(source)
    env = table.get("env", defaults.env)
    if not isinstance(env, str) or not _ENV_NAME.match(env):
        raise SpecError(
            f"data.env: {env!r} is not an environment variable name "
            "(capital letters, digits and underscores, e.g. DATABASE_URL)"
        )
    default = table.get("default", defaults.default)
    if not isinstance(default, str) or not _DATA_FILE.match(default) or ".." in default.split("/"):
        raise SpecError(
            f"data.default: {default!r} is not a file path inside the project "
            "(relative, letters, digits, '_', '-' and '.', e.g. data/sales.duckdb)"
        )
    name = table.get("table", defaults.table)
    check_column_name(name, "data.table")
    return DataSpec(source=source, env=env, default=default, table=name)


def check_column_name(value: object, where: str) -> str:
    """A column (or table) name as the runtime takes it (dashsignal.columns.check_column, the
    one rule): letters, digits and underscores, optionally after one `table.`."""
    try:
        return check_column(value)
    except ValueError:
        raise SpecError(
            f"{where}: {value!r} is not a column name (letters, digits and underscores, not "
            "starting with a digit, at most 63 characters, optionally after one 'table.')"
        ) from None


def view_from_data(item: object, where: str) -> ViewSpec:
    """Validate one `[[views]]` table; errors are prefixed with `where`."""
    table = _as_table(item, where)
    _only_keys(table, where, ("id", "kind", "title", "source", "interval", "scope"))
    view_id = check_entry_id(table.get("id"), f"{where}.id")
    kind = table.get("kind", DEFAULT_VIEW_KIND)
    if kind not in VIEW_KINDS:
        raise SpecError(
            f"{where}.kind: unknown view kind {kind!r}; allowed: {', '.join(VIEW_KINDS)}"
        )
    source = table.get("source", QUERY)
    if not isinstance(source, str) or not source:
        raise SpecError(f"{where}.source: must be a non-empty string, got {source!r}")
    interval: int | float | None = None
    if source == LIVE:
        interval = table.get("interval", DEFAULT_INTERVAL)
        if (
            type(interval) not in (int, float)
            or not math.isfinite(interval)
            or not MIN_INTERVAL <= interval <= MAX_INTERVAL
        ):
            raise SpecError(
                f"{where}.interval: seconds between refreshes, from {MIN_INTERVAL} to "
                f"{MAX_INTERVAL}, got {interval!r}"
            )
    elif "interval" in table:
        raise SpecError(
            f"{where}.interval: only a live view refreshes on an interval",
            hint=f'Add source = "{LIVE}" to this view, or remove interval.',
        )
    scope = _scope(table, where, None)
    if scope is not None and source not in (OWN, LIVE):
        raise SpecError(
            f"{where}.scope: only an own or live view has a scope of its own; this one reads "
            "its source's, the app's",
            hint=f'Add source = "{OWN}" to this view, or remove scope.',
        )
    title = _text(table, where, "title", humanize(view_id))
    return ViewSpec(
        id=view_id, kind=kind, title=title, source=source, interval=interval, scope=scope
    )


def stage_from_data(item: object, where: str) -> StageSpec:
    """Validate one `[[stages]]` table; errors are prefixed with `where`."""
    table = _as_table(item, where)
    _only_keys(table, where, ("id", "source", "title"))
    stage_id = check_entry_id(table.get("id"), f"{where}.id")
    if stage_id in RESERVED_SOURCES:
        raise SpecError(
            f"{where}.id: {stage_id!r} is reserved for a view's source; pick another stage id"
        )
    source = table.get("source", QUERY)
    if not isinstance(source, str) or not source:
        raise SpecError(f"{where}.source: must be a non-empty string, got {source!r}")
    return StageSpec(
        id=stage_id, source=source, title=_text(table, where, "title", humanize(stage_id))
    )


_SOURCES_IN_WORDS = (
    "query (the shared query), the id of a stage, own (its own cached computation) "
    "or live[/SECONDS] (refreshed on an interval)"
)


def _check_sources(
    stages: tuple[StageSpec, ...], views: tuple[ViewSpec, ...], origin: Origin
) -> None:
    stage_ids = [s.id for s in stages]
    for i, stage in enumerate(stages):
        others = [s for s in stage_ids if s != stage.id]
        # The file and the flags name a stage reading itself a cycle; a stage being added can
        # only read the stages there are.
        known = others if origin is Origin.COMMAND else stage_ids
        if stage.source != QUERY and stage.source not in known:
            allowed = ", ".join([QUERY, *others])
            raise _unknown_source(origin, f"stages[{i}]", stage, allowed)
    _topological(stages)
    for i, view in enumerate(views):
        if view.source not in RESERVED_SOURCES and view.source not in stage_ids:
            allowed = ", ".join([*RESERVED_SOURCES, *stage_ids])
            raise _unknown_source(origin, f"views[{i}]", view, allowed)


def _unknown_source(
    origin: Origin, place: str, entry: StageSpec | ViewSpec, allowed: str
) -> SpecError:
    source = entry.source
    if origin is Origin.FILE:
        if isinstance(entry, StageSpec):
            return SpecError(
                f"{place}.source: unknown stage {source!r}; allowed: {allowed}",
                hint=f'"{QUERY}" is the main query; any other name must be a [[stages]] id.',
            )
        return SpecError(
            f"{place}.source: unknown source {source!r}; allowed: {allowed}",
            hint=f'"{QUERY}": the shared query; "{OWN}": its own cached computation; '
            f'"{LIVE}": refreshed on an interval; or the id of a stage.',
        )
    what = "stage" if isinstance(entry, StageSpec) else "view"
    if origin is Origin.COMMAND:
        hint = "Add that stage first (dashsignal add-stage), or pick one of these sources."
    elif isinstance(entry, StageSpec):
        hint = f"Declare that stage too with --stage {source}, or derive from {QUERY}."
    else:
        hint = f"Declare the stage with --stage {source}, or read {_SOURCES_IN_WORDS}."
    return SpecError(
        f"{what} {entry.id!r}: unknown source {source!r}; allowed: {allowed}", hint=hint
    )


def _topological(stages: tuple[StageSpec, ...]) -> tuple[StageSpec, ...]:
    """Stages ordered parents first; raises SpecError naming a cycle."""
    by_id = {s.id: s for s in stages}
    ordered: list[StageSpec] = []
    done: set[str] = set()
    for stage in stages:
        path: list[str] = []
        current: StageSpec | None = stage
        while current is not None and current.id not in done:
            if current.id in path:
                cycle = [*path[path.index(current.id) :], current.id]
                raise SpecError(
                    f"stages: cycle {' -> '.join(cycle)}",
                    hint=f'Each stage must derive from "{QUERY}" or from another stage, '
                    "never from itself through others.",
                )
            path.append(current.id)
            current = by_id.get(current.source)
        for stage_id in reversed(path):
            done.add(stage_id)
            ordered.append(by_id[stage_id])
    return tuple(ordered)


def filter_from_data(item: object, where: str) -> FilterSpec:
    """Validate one `[[filters]]` table; errors are prefixed with `where`."""
    table = dict(_as_table(item, where))
    column = table.pop("column", None)
    found = _filter_from_table(table, where)
    if column is None or column == found.id:
        return found
    return dataclasses.replace(found, column=check_column_name(column, f"{where}.column"))


def _filter_from_table(table: Mapping[str, Any], where: str) -> FilterSpec:
    filter_id = check_entry_id(table.get("id"), f"{where}.id")
    kind = table.get("kind", DEFAULT_FILTER_KIND)
    if kind not in FILTER_KINDS:
        raise SpecError(
            f"{where}.kind: unknown filter kind {kind!r}; allowed: {', '.join(FILTER_KINDS)}"
        )
    label = _text(table, where, "label", humanize(filter_id))
    if kind in CHOICE_KINDS and "options_from" in table:
        return _filter_with_options_from(table, where, filter_id, kind, label)
    if kind in CHOICE_KINDS:
        _only_keys(
            table, where, ("id", "kind", "label", "options", "options_from", "default", "column")
        )
        options = _options(table.get("options"), f"{where}.options", kind)
        default = _choice_default(table, where, kind, options)
        return FilterSpec(filter_id, kind, label, options=options, default=default)
    if kind == "range":
        _only_keys(table, where, ("id", "kind", "label", "min", "max", "step", "default", "column"))
        low, high = _number(table, where, "min"), _number(table, where, "max")
        if not low < high:
            raise SpecError(f"{where}: min ({low}) must be less than max ({high})")
        if not math.isfinite(high - low):
            raise SpecError(f"{where}: max - min ({high} - {low}) is too large for a number")
        step = _number(table, where, "step", default=_default_step(low, high))
        if step <= 0 or step > high - low:
            raise SpecError(f"{where}.step: must be greater than 0 and at most max - min")
        _check_steps(where, low, high, step)
        default = _pair_default(table, where, low, high, _number_in_range)
        return FilterSpec(filter_id, kind, label, min=low, max=high, step=step, default=default)
    _only_keys(table, where, ("id", "kind", "label", "min", "max", "default", "column"))
    first, last = _date(table, where, "min"), _date(table, where, "max")
    if not first < last:
        raise SpecError(f"{where}: min ({first}) must be before max ({last})")
    span = (last - first).days
    if span > MAX_DATE_SPAN_DAYS:
        raise SpecError(
            f"{where}: min ({first}) to max ({last}) spans {span} days; a dates filter spans at "
            f"most {MAX_DATE_SPAN_DAYS} days (ten years: {MAX_DATE_PAIRS:,} (from, to) pairs, "
            "each its own cache entry)",
            hint="Narrow min and max, or use a range filter of years or months.",
        )
    default = _pair_default(table, where, first, last, _date_in_range)
    return FilterSpec(filter_id, kind, label, min=first, max=last, default=default)


# The kinds whose default needs no options: a dropdown starts at "no selection", a multi at none.
OPTIONS_FROM_KINDS = ("dropdown", "multi")


def _filter_with_options_from(
    table: Mapping[str, Any], where: str, filter_id: str, kind: str, label: str
) -> FilterSpec:
    """A choice filter whose options are the distinct values of its column in the database,
    read when the app starts: none are written in the spec."""
    _only_keys(table, where, ("id", "kind", "label", "options_from", "column"))
    source = table["options_from"]
    if source != OPTIONS_FROM_COLUMN and not _is_options_query(source):
        shown = source if not isinstance(source, str) or len(source) <= 60 else source[:60] + "..."
        raise SpecError(
            f'{where}.options_from: {shown!r}; either "{OPTIONS_FROM_COLUMN}" (the distinct '
            "values of its column) or one SELECT whose first column holds the options (no ';', "
            f"at most {MAX_OPTIONS_QUERY} characters), read when the app starts"
        )
    if kind not in OPTIONS_FROM_KINDS:
        raise SpecError(
            f"{where}.options_from: a {kind} filter needs its options in the spec (its default "
            f"is one of them); options_from is for {' and '.join(OPTIONS_FROM_KINDS)} filters"
        )
    return FilterSpec(
        filter_id, kind, label, default=[] if kind == "multi" else None, options_from=source
    )


def _is_options_query(value: object) -> bool:
    """One SELECT (or WITH ... SELECT) statement of the project's own, not a script."""
    return (
        isinstance(value, str)
        and len(value) <= MAX_OPTIONS_QUERY
        and ";" not in value
        and re.match(r"\s*(SELECT|WITH)\s", value, re.IGNORECASE) is not None
    )


def _default_step(low: Number, high: Number) -> Number:
    """1 for whole numbers (the fewest whole steps within MAX_RANGE_STEPS), else 1/100 of it."""
    if _all_int(low, high):
        return max(1, -(-(high - low) // MAX_RANGE_STEPS))
    return (high - low) / 100


def _check_steps(where: str, low: Number, high: Number, step: Number) -> None:
    """Refuse a step that gives a range slider more than MAX_RANGE_STEPS steps."""
    steps = (high - low) / step
    # A step written to 15 digits (0.001 for 0..1) may divide to 1000.0000000000001.
    if steps > MAX_RANGE_STEPS * (1 + 1e-9):
        smallest = (high - low) / MAX_RANGE_STEPS
        raise SpecError(
            f"{where}.step: {step!r} gives {steps:.3g} steps from min ({low}) to max ({high}); "
            f"a range filter has at most {MAX_RANGE_STEPS} steps, so a step of at least "
            f"{smallest:.6g}",
            hint="Each position of the slider is its own filter state and cache entry: "
            "raise step, or narrow min and max.",
        )


def _options(value: object, where: str, kind: str) -> tuple[OptionValue, ...]:
    if not isinstance(value, Sequence) or isinstance(value, str) or not value:
        raise SpecError(f"{where}: a {kind} filter needs a non-empty list of options")
    if len(value) > MAX_OPTIONS:
        raise SpecError(f"{where}: at most {MAX_OPTIONS} options")
    options: list[OptionValue] = []
    for i, option in enumerate(value):
        if type(option) is str:
            _check_text(option, f"{where}[{i}]")
        elif type(option) is not int:
            raise SpecError(
                f"{where}[{i}]: options must be strings or whole numbers, got {option!r}",
                hint='Quote it, e.g. "1.5", if it is a label.',
            )
        if any(type(o) is type(option) and o == option for o in options):
            raise SpecError(f"{where}[{i}]: duplicate option {option!r}")
        options.append(option)
    return tuple(options)


def _choice_default(
    table: Mapping[str, Any], where: str, kind: str, options: tuple[OptionValue, ...]
) -> Any:
    def known(value: object) -> bool:
        return any(type(o) is type(value) and o == value for o in options)

    if kind == "dropdown":
        # No default means "no selection": the query sees None and applies no filter.
        value = table.get("default")
        if value is not None and not known(value):
            raise SpecError(f"{where}.default: {value!r} is not one of the options")
        return value
    if kind == "radio":
        value = table.get("default", options[0])
        if not known(value):
            raise SpecError(f"{where}.default: {value!r} is not one of the options")
        return value
    value = table.get("default", list(options) if kind == "checklist" else [])
    if not isinstance(value, list) or not all(known(v) for v in value):
        raise SpecError(f"{where}.default: must be a list of some of the options")
    return [o for o in options if o in value]


def _pair_default(
    table: Mapping[str, Any], where: str, low: Any, high: Any, check: Any
) -> list[Any]:
    value = table.get("default", [low, high])
    if not isinstance(value, list) or len(value) != 2:
        raise SpecError(f"{where}.default: must be a list of two values [from, to]")
    first, last = (check(v, low, high, f"{where}.default") for v in value)
    if first > last:
        raise SpecError(f"{where}.default: from must not be after to")
    return [first, last]


def _number_in_range(value: object, low: Number, high: Number, where: str) -> Number:
    if type(value) not in (int, float) or not low <= value <= high:  # type: ignore[operator]
        raise SpecError(f"{where}: {value!r} must be a number from {low} to {high}")
    return value  # type: ignore[return-value]


def _date_in_range(value: object, low: dt.date, high: dt.date, where: str) -> dt.date:
    parsed = _parse_date(value, where)
    if not low <= parsed <= high:
        raise SpecError(f"{where}: {parsed} must be from {low} to {high}")
    return parsed


def _number(
    table: Mapping[str, Any], where: str, key: str, default: Number | None = None
) -> Number:
    value = table.get(key, default)
    if type(value) not in (int, float) or not math.isfinite(value):
        raise SpecError(f"{where}.{key}: a range filter needs a number here, got {value!r}")
    return value  # type: ignore[no-any-return]


def _date(table: Mapping[str, Any], where: str, key: str) -> dt.date:
    if key not in table:
        raise SpecError(f"{where}.{key}: a dates filter needs a date here, e.g. 2025-01-31")
    return _parse_date(table[key], f"{where}.{key}")


def _parse_date(value: object, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise SpecError(f"{where}: {value!r} is not a date; write it as YYYY-MM-DD")


def _all_int(*values: Number) -> bool:
    return all(type(v) is int for v in values)


def _text(table: Mapping[str, Any], where: str, key: str, default: str) -> str:
    value = table.get(key, default)
    if not isinstance(value, str):
        raise SpecError(f"{where}.{key}: must be a string, got {value!r}")
    _check_text(value, f"{where}.{key}")
    return value


def _check_text(value: str, where: str) -> None:
    if not value.strip():
        raise SpecError(f"{where}: must not be empty")
    if len(value) > MAX_TEXT:
        raise SpecError(f"{where}: at most {MAX_TEXT} characters")


def _table(data: Mapping[str, Any], key: str, *, required: bool = True) -> Mapping[str, Any]:
    if key not in data:
        if required:
            raise SpecError(f"{key}: missing [{key}] table")
        return {}
    return _as_table(data[key], key)


def _as_table(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SpecError(f"{where}: must be a table")
    return value


def _array(data: Mapping[str, Any], key: str) -> Sequence[Any]:
    value = data.get(key, [])
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise SpecError(f"{key}: must be an array of tables ([[{key}]])")
    return value


def _only_keys(table: Mapping[str, Any], where: str, allowed: tuple[str, ...]) -> None:
    for key in table:
        if key not in allowed:
            prefix = f"{where}." if where else ""
            raise SpecError(f"{prefix}{key}: unknown key; allowed here: {', '.join(allowed)}")


def _check_unique(ids: list[str]) -> None:
    # Ids name modules (views/<id>.py) too, and some file systems ignore case.
    seen: dict[str, str] = {}
    for identifier in ids:
        folded = identifier.casefold()
        if folded in seen:
            first = seen[folded]
            same = "" if first == identifier else f" (same as {first!r} ignoring case)"
            raise SpecError(
                f"duplicate id {identifier!r}{same}: every filter, stage and view needs its own id"
            )
        seen[folded] = identifier
