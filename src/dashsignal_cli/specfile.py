"""Reading and writing `dashsignal.toml`, the single source of truth of a project.

Reading uses the standard library's tomllib (fast, exact line and column on a syntax error).
A new spec is written as plain text, the text tomlkit would write; spec_edit.py edits one with
tomlkit, so that our commands keep the user's comments and layout.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dashsignal_cli.errors import SpecError, SpecSyntaxError
from dashsignal_cli.spec import (
    QUERY,
    AppSpec,
    AuthSpec,
    CacheSpec,
    DataSpec,
    Entry,
    FilterSpec,
    Spec,
    StageSpec,
    ViewSpec,
    filter_from_data,
    spec_from_data,
)

__all__ = [
    "ENTRY_COMMENTS",
    "SPEC_FILENAME",
    "SpecFile",
    "auth_comments",
    "data_comments",
    "dump_spec",
    "entry_table",
    "load_spec",
    "parse_spec_data",
    "parse_spec_text",
    "read_spec_file",
]

SPEC_FILENAME = "dashsignal.toml"

_HEADER = """\
dashsignal project spec: the single source of truth for this dashboard.
Edit it by hand or with `dashsignal add-view`, `add-filter`, ...; then run
`dashsignal regenerate` to bring the generated code in line. Every key is
explained in dashsignal's README, section "The spec file"."""

# The comments `dump_spec` writes inside a [[stages]] or [[views]] entry: ours, not the user's.
_STAGE_SOURCE_COMMENT = '"query" or the id of the stage it derives from'
_INTERVAL_COMMENT = "seconds between refreshes"
_OPTIONS_FROM_COMMENT = "its options, read from the database at start-up"
_VIEW_SCOPE_COMMENT = "shared | user | session: whose its computed data is"
ENTRY_COMMENTS = frozenset(
    {
        f"# {_STAGE_SOURCE_COMMENT}",
        f"# {_INTERVAL_COMMENT}",
        f"# {_OPTIONS_FROM_COMMENT}",
        f"# {_VIEW_SCOPE_COMMENT}",
    }
)
# The [app] keys written only when they differ from their default (a spec from before them
# reads, and is written, as it was), with their comments.
_APP_AUTH_COMMENTS = {
    "auth": "none | basic | proxy | custom: who may see the dashboard",
    "scope": "shared | user | session: whose the query's results are",
}

_LOCATION = re.compile(r"\s*\(at line (?P<line>\d+), column (?P<col>\d+)\)\s*$")


@dataclass(frozen=True)
class SpecFile:
    """Spec text with what it holds: its plain data and its validated model.

    Read once (`read_spec_file`); an edit of spec_edit.py returns the next one, its text
    edited and its model derived from the typed entry, without reading the text again.
    """

    text: str
    data: dict[str, Any]
    spec: Spec


def read_spec_file(text: str, source: str = SPEC_FILENAME) -> SpecFile:
    """Parse and validate spec text, once; syntax errors are located as `source:LINE:COL`."""
    data = parse_spec_data(text, source)
    return SpecFile(text, data, spec_from_data(data))


def parse_spec_text(text: str, source: str = SPEC_FILENAME) -> Spec:
    """Parse and validate spec text; syntax errors are located as `source:LINE:COL`."""
    return read_spec_file(text, source).spec


def parse_spec_data(text: str, source: str = SPEC_FILENAME) -> dict[str, Any]:
    """The plain data of spec text, not yet validated; syntax errors as `source:LINE:COL`."""
    import tomllib  # not imported by `dashsignal new`, which reads no spec

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        where = _LOCATION.search(message)
        if where is None:
            raise SpecSyntaxError(source, 1, 1, message) from None
        raise SpecSyntaxError(
            source, int(where["line"]), int(where["col"]), message[: where.start()]
        ) from None


def load_spec(path: Path) -> Spec:
    """Read and validate the spec file at `path`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SpecError(f"{path}: cannot read the spec file ({error.strerror})") from None
    except UnicodeDecodeError:
        raise SpecError(f"{path}: the spec file is not UTF-8 text") from None
    return parse_spec_text(text, path.name)


def dump_spec(spec: Spec) -> str:
    """The TOML text of a spec, with comments that explain each table.

    Written line by line, not with tomlkit (whose import is a good part of `dashsignal new`'s
    start-up): the text is the one tomlkit writes for the same document, value for value
    (tests/test_spec_text.py holds tomlkit's version and compares the two).
    """
    lines = [f"# {line}" for line in _HEADER.splitlines()]
    lines += [
        "",
        "[app]",
        _key("name", spec.app.name),
        _key("title", spec.app.title),
        _key(
            "pattern",
            spec.app.pattern,
            "signal: compute once, signal the views | memoize: views read the cache",
        ),
        _key("background", spec.app.background, "true: compute in a Dash background callback"),
        *(
            _key(key, getattr(spec.app, key), comment)
            for key, comment in _APP_AUTH_COMMENTS.items()
            if getattr(spec.app, key) != getattr(AppSpec, key)
        ),
        "",
        "[cache]",
        _key("backend", spec.cache.backend, "filesystem | redis | simple | null"),
        _key("timeout", spec.cache.timeout, "seconds an entry is kept"),
        _key(
            "lock_timeout",
            spec.cache.lock_timeout,
            "longest wait for another worker's computation (s)",
        ),
        _key(
            "new_per_minute", spec.cache.new_per_minute, "cap on new computations a minute; 0: none"
        ),
    ]
    if spec.cache.version_check != CacheSpec.version_check:
        lines.append(
            _key(
                "version_check",
                spec.cache.version_check,
                "seconds between two runs of data_version() per process",
            )
        )
    lines += ["", *_data_lines(spec.data)]
    comments = auth_comments(spec.app, spec.auth)
    if comments:
        lines += ["", "[auth]"]
        lines += [_key(key, getattr(spec.auth, key), c) for key, c in comments.items()]
    for item in spec.filters:
        lines += ["", "[[filters]]", *_filter_lines(item)]
    for stage in spec.stages:
        lines += [
            "",
            "[[stages]]",
            _key("id", stage.id),
            _key("source", stage.source, _STAGE_SOURCE_COMMENT),
            _key("title", stage.title),
        ]
    for view in spec.views:
        lines += ["", "[[views]]", *_view_lines(view)]
    return "\n".join(lines) + "\n"


def data_comments(data: DataSpec) -> dict[str, str]:
    """The comment `dump_spec` writes after each key of `[data]`, by key, in the file's order."""
    comments = {"source": "duckdb | sql | pandas: where expensive_query's rows come from"}
    if data.is_sql:
        what = "a DuckDB file" if data.source == "duckdb" else "a SQLAlchemy URL"
        comments.update(
            env=f"the environment variable naming {what}",
            default="the embedded database used without it",
            table="the demo's table, and where options are read from",
        )
    return comments


def auth_comments(app: AppSpec, auth: AuthSpec) -> dict[str, str]:
    """The keys of `[auth]` that `dump_spec` writes, with their comments, in the file's order:
    the ones the app's mode reads, and any other that differs from its default."""
    comments = {
        "users": "the users file (basic), managed with python -m dashsignal.users",
        "header": "the header the proxy names the signed-in user in (proxy)",
        "proxies": "the addresses or networks of the proxies trusted to set it (proxy)",
    }
    read = {"basic": ("users",), "proxy": ("header", "proxies")}.get(app.auth, ())
    return {
        key: comment
        for key, comment in comments.items()
        if key in read or getattr(auth, key) != getattr(AuthSpec, key)
    }


def _data_lines(data: DataSpec) -> list[str]:
    return ["[data]"] + [
        _key(key, getattr(data, key), comment) for key, comment in data_comments(data).items()
    ]


def _view_lines(view: ViewSpec) -> list[str]:
    lines = [_key("id", view.id), _key("kind", view.kind), _key("title", view.title)]
    if view.source != QUERY:
        lines.append(_key("source", view.source))
    if view.interval is not None:
        lines.append(_key("interval", view.interval, _INTERVAL_COMMENT))
    if view.scope is not None:
        lines.append(_key("scope", view.scope, _VIEW_SCOPE_COMMENT))
    return lines


def _filter_lines(item: FilterSpec) -> list[str]:
    lines = [_key("id", item.id), _key("kind", item.kind), _key("label", item.label)]
    if item.column is not None:
        lines.append(_key("column", item.column))
    if item.options_from is not None:
        lines.append(_key("options_from", item.options_from, _OPTIONS_FROM_COMMENT))
        return lines
    if item.is_choice:
        lines.append(_key("options", list(item.options)))
    else:
        lines += [_key("min", item.min), _key("max", item.max)]
        if item.step is not None:
            lines.append(_key("step", item.step))
    if item.default is not None:
        lines.append(_key("default", item.default))
    return lines


def _key(key: str, value: Any, comment: str | None = None) -> str:
    """`key = value`, and the comment after it, as tomlkit writes a bare key."""
    line = f"{key} = {toml_value(value)}"
    return line if comment is None else f"{line} # {comment}"


# What a TOML basic string escapes: the control characters, the quote and the backslash.
_ESCAPES = {
    **{chr(c): f"\\u{c:04x}" for c in [*range(0x20), 0x7F]},
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
    '"': '\\"',
    "\\": "\\\\",
}
_NEEDS_ESCAPE = re.compile("[" + re.escape("".join(_ESCAPES)) + "]")


def toml_value(value: Any) -> str:
    """The TOML text of a value of a spec, as tomlkit writes it.

    Only the values a spec holds are accepted; anything else is a bug in the caller.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return '"' + _NEEDS_ESCAPE.sub(lambda m: _ESCAPES[m[0]], value) + '"'
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    raise TypeError(f"no TOML value for a {type(value).__name__} in a spec")


def entry_table(entry: Entry) -> dict[str, Any]:
    """The `[[filters]]`, `[[stages]]` or `[[views]]` table of `entry`, as the add commands
    write it: only the keys that differ from what the spec derives, in the order of the file.
    """
    if isinstance(entry, StageSpec):
        return {"id": entry.id, "source": entry.source, "title": entry.title}
    if isinstance(entry, ViewSpec):
        view: dict[str, Any] = {"id": entry.id, "kind": entry.kind, "title": entry.title}
        if entry.source != QUERY:
            view["source"] = entry.source
        if entry.interval is not None:
            view["interval"] = entry.interval
        if entry.scope is not None:
            view["scope"] = entry.scope
        return view
    return _filter_keys(entry)


def _filter_keys(item: FilterSpec) -> dict[str, Any]:
    table: dict[str, Any] = {"id": item.id, "kind": item.kind, "label": item.label}
    if item.column is not None:
        table["column"] = item.column
    if item.options_from is not None:
        table["options_from"] = item.options_from
        return table
    if item.is_choice:
        table["options"] = list(item.options)
    else:
        table.update(min=item.min, max=item.max)
    # The step and default are the ones the spec derives, unless the filter has its own.
    if filter_from_data(table, item.id) != item:
        for key in ("step", "default"):
            if getattr(item, key) is not None:
                table[key] = getattr(item, key)
    return table
