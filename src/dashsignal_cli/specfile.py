"""Reading and writing `dashsignal.toml`, the single source of truth of a project.

Reading uses the standard library's tomllib (fast, exact line and column on a syntax error);
writing uses tomlkit so that later edits by our commands keep the user's comments and layout.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dashsignal_cli.errors import SpecError, SpecSyntaxError
from dashsignal_cli.spec import (
    QUERY,
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
ENTRY_COMMENTS = frozenset({f"# {_STAGE_SOURCE_COMMENT}", f"# {_INTERVAL_COMMENT}"})

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
    """The TOML text of a spec, with comments that explain each table."""
    import tomlkit

    document = tomlkit.document()
    for line in _HEADER.splitlines():
        document.add(tomlkit.comment(line))
    document.add(tomlkit.nl())

    app = tomlkit.table()
    app.add("name", spec.app.name)
    app.add("title", spec.app.title)
    pattern = tomlkit.item(spec.app.pattern)
    pattern.comment("signal: compute once, signal the views | memoize: views read the cache")
    app.add("pattern", pattern)
    background = tomlkit.item(spec.app.background)
    background.comment("true: compute in a Dash background callback")
    app.add("background", background)
    document.add("app", app)

    cache = tomlkit.table()
    cache.add("backend", spec.cache.backend)
    cache["backend"].comment("filesystem | redis | simple | null")
    cache.add("timeout", spec.cache.timeout)
    cache["timeout"].comment("seconds an entry is kept")
    cache.add("lock_timeout", spec.cache.lock_timeout)
    cache["lock_timeout"].comment("longest wait for another worker's computation (s)")
    cache.add("new_per_minute", spec.cache.new_per_minute)
    cache["new_per_minute"].comment("cap on new computations a minute; 0: none")
    document.add("cache", cache)

    filters = tomlkit.aot()
    for item in spec.filters:
        filters.append(_filter_table(item))
    if spec.filters:
        document.add("filters", filters)

    if spec.stages:
        stages = tomlkit.aot()
        for stage in spec.stages:
            stages.append(_stage_table(stage))
        document.add("stages", stages)

    views = tomlkit.aot()
    for view in spec.views:
        views.append(_view_table(view))
    document.add("views", views)
    return tomlkit.dumps(document)


def _stage_table(stage: Any) -> Any:
    import tomlkit

    table = tomlkit.table()
    table.add("id", stage.id)
    table.add("source", stage.source)
    table["source"].comment(_STAGE_SOURCE_COMMENT)
    table.add("title", stage.title)
    return table


def _view_table(view: Any) -> Any:
    import tomlkit

    table = tomlkit.table()
    table.add("id", view.id)
    table.add("kind", view.kind)
    table.add("title", view.title)
    if view.source != "query":
        table.add("source", view.source)
    if view.interval is not None:
        table.add("interval", view.interval)
        table["interval"].comment(_INTERVAL_COMMENT)
    return table


def _filter_table(item: Any) -> Any:
    import tomlkit

    table = tomlkit.table()
    table.add("id", item.id)
    table.add("kind", item.kind)
    table.add("label", item.label)
    if item.is_choice:
        table.add("options", list(item.options))
    else:
        table.add("min", item.min)
        table.add("max", item.max)
        if item.step is not None:
            table.add("step", item.step)
    if item.default is not None:
        table.add("default", item.default)
    return table


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
        return view
    return _filter_keys(entry)


def _filter_keys(item: FilterSpec) -> dict[str, Any]:
    table: dict[str, Any] = {"id": item.id, "kind": item.kind, "label": item.label}
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
