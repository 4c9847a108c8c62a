"""Pure rendering: a spec in, every generated file's text and owner out. No disk, no clock."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from dashsignal.compat import series_of
from dashsignal_cli import __version__
from dashsignal_cli.kinds import VIEW_KINDS
from dashsignal_cli.names import (
    COMPUTE_CALLBACK,
    RUNNING_ID,
    SIGNAL_ID,
    derive_callback,
    interval_id,
    signal_id,
    update_callback,
)
from dashsignal_cli.spec import QUERY, FilterSpec, Spec, StageSpec, ViewSpec, humanize
from dashsignal_cli.specfile import SPEC_FILENAME, dump_spec

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
    taken = {f.id for f in spec.filters}
    names = {name: _free_name(name, taken) for name in ("day", "units", "amount")}
    return {
        **names,
        "dates": [f.id for f in spec.filters if f.kind == "dates"],
        "categories": [f.id for f in spec.filters if f.is_choice],
    }


def render(spec: Spec, demo: dict[str, Any] | None = None) -> dict[str, GeneratedFile]:
    """Every file of the project except the spec file, keyed by POSIX path, sorted.

    `demo` is the record of `demo_columns` made when the project was created (default: now).
    """
    from dashsignal_cli.templating import environment

    env = environment()
    context = _context(spec, demo_columns(spec) if demo is None else demo)
    files = {
        path: GeneratedFile(env.get_template(template).render(context), owner)
        for template, path, owner in _PROJECT_FILES
    }
    for path in _optional_files(spec):
        files[path] = GeneratedFile(
            env.get_template(f"{path}.jinja").render(context), Owner.MANAGED
        )
    for view in context["views"]:
        text = env.get_template(VIEW_KINDS[view["kind"]].template).render(context, view=view)
        files[f"views/{view['id']}.py"] = GeneratedFile(text, Owner.USER)
    for stage in context["stages"]:
        text = env.get_template("stages/stage.py.jinja").render(context, stage=stage)
        files[f"stages/{stage['id']}.py"] = GeneratedFile(text, Owner.USER)
    return dict(sorted(files.items()))


def _optional_files(spec: Spec) -> list[str]:
    """Managed files only some specs have."""
    paths = ["stages/__init__.py"] if spec.stages else []
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
    meaning = {
        "app": spec.app.name,
        "filters": [
            [f.id, f.kind, list(f.options), _plain(f.min), _plain(f.max), f.step]
            for f in spec.filters
        ],
        # Where each stage's result comes from is part of what it means.
        "stages": sorted([s.id, s.source] for s in spec.stages),
    }
    canonical = json.dumps(meaning, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


def _context(spec: Spec, demo: dict[str, Any]) -> dict[str, Any]:
    dates, categories = demo["dates"], demo["categories"]
    time_column = dates[0] if dates else demo["day"]
    graphs = [v for v in spec.views if v.kind == "graph" and v.reads_cache]
    indicators = [v for v in spec.views if v.kind == "indicator"]
    # Axis titles: a filter's label for its column, else the column's name made readable.
    titles = {f.id: f.label for f in spec.filters}
    view_kinds = {v.kind for v in spec.views}
    helper_of_kind = {"indicator": "EMPTY_TEXT", "graph": "empty_figure", "table": "table_payload"}
    views = [
        _view_context(
            v,
            graphs,
            indicators,
            demo,
            time_column=time_column,
            categories=categories,
            titles=titles,
        )
        for v in spec.views
    ]
    stages = [_stage_context(s, views) for s in spec.ordered_stages()]
    signalled = spec.app.pattern == "signal"
    consumers = [_consumer_context(v, signalled) for v in spec.views]
    used = [VIEW_KINDS[kind] for kind in VIEW_KINDS if kind in view_kinds]
    live = any(v.is_live for v in spec.views)
    ids_in_callbacks = {
        "INTERVALS": live,
        "RUNNING_ID": spec.app.background,
        "SIGNAL_ID": signalled,
        "SIGNALS": any(c["reads"] == "signal" and c["source"] != QUERY for c in consumers)
        or (signalled and bool(spec.stages)),
    }
    return {
        "runtime_series": RUNTIME_SERIES,
        "next_series": _NEXT_SERIES,
        "view_kind_of": VIEW_KINDS,
        "view_groups": [
            (kind, VIEW_KINDS[kind].group) for kind in VIEW_KINDS if kind in view_kinds
        ],
        "card_builders": sorted([k.card for k in used] + ["page"]),
        "consumers": consumers,
        "dash_names": ["Dash", "Input", "Output"]
        if live or any(c["reads"] == "signal" for c in consumers) or (signalled and spec.stages)
        else ["Dash", "Output"],
        "output_names": (["TablePayload"] if "table" in view_kinds else [])
        + sorted({name for k in used for name in (k.shows, k.failed)}),
        "uses_query_name": any(c["computation"] == "QUERY" for c in consumers) or signalled,
        "callback_id_names": [name for name, wanted in ids_in_callbacks.items() if wanted],
        "id_names": [
            name
            for name, wanted in (
                ("INTERVALS", live),
                ("RUNNING_ID", spec.app.background),
                ("SIGNALS", signalled),
            )
            if wanted
        ],
        "view_kinds": sorted(view_kinds),
        # What signaling/outputs.py provides that these views use, in import order: the layout
        # shows every view empty at first; callbacks only those that can wait for a signal.
        "output_helpers": [h for k, h in helper_of_kind.items() if k in view_kinds],
        "callback_helpers": _callback_helpers(spec),
        "app": spec.app,
        "signal_pattern": spec.app.pattern == "signal",
        "cache": spec.cache,
        "signal_id": SIGNAL_ID,
        "running_id": RUNNING_ID,
        "compute_callback": COMPUTE_CALLBACK,
        "spec_version": spec_version(spec),
        "filters": [_filter_context(f) for f in spec.filters],
        "views": views,
        "cached_views": [v for v in views if v["reads_cache"]],
        "own_views": [v for v in views if v["is_own"]],
        "live_views": [v for v in views if v["is_live"]],
        "stages": stages,
        # The grouping keys of the demo stages: every view template still finds its columns.
        "demo_keys": [time_column, *categories],
        "demo": demo,
        "demo_year": _year_filter(spec),
    }


def _callback_helpers(spec: Spec) -> list[str]:
    """What signaling/callbacks.py imports from signaling/outputs.py, sorted as isort does."""
    signalled = {v.kind for v in spec.views if v.reads_cache and spec.app.pattern == "signal"}
    tables = any(v.kind == "table" for v in spec.views)
    kinds = {v.kind for v in spec.views}
    wanted = {
        "EMPTY_TEXT": "indicator" in signalled,
        "TablePayload": tables,
        "empty_figure": "graph" in signalled,
        "failed_figure": "graph" in kinds,
        "failed_table": tables,
        "failed_text": "indicator" in kinds,
        "failure_message": True,
        "table_payload": tables,
    }
    return [name for name, used in wanted.items() if used]


def _signal_ref(source: str) -> str:
    """How the wiring names the store that signals `source`: see signaling/ids.py."""
    return "SIGNAL_ID" if source == QUERY else f"SIGNALS[{json.dumps(source)}]"


def _consumer_context(view: ViewSpec, signalled: bool) -> dict[str, Any]:
    """What a view's consumer callback reads: a signal, the filters, or (live) fresh data."""
    if view.is_live:
        reads = "live"
    elif view.reads_cache and signalled:
        reads = "signal"
    else:
        reads = "filters"
    name = view.source if view.reads_cache else view.id
    return {
        "id": view.id,
        "kind": view.kind,
        "callback": update_callback(view.id),
        "reads": reads,
        "source": view.source,
        "computation": "QUERY" if name == QUERY else json.dumps(name, ensure_ascii=False),
        "signal_ref": _signal_ref(view.source) if reads == "signal" else None,
    }


def _stage_context(stage: StageSpec, views: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "callback": derive_callback(stage.id),
        "signal_ref": _signal_ref(stage.id),
        "source_ref": _signal_ref(stage.source),
        "id": stage.id,
        "source": stage.source,
        "title": stage.title,
        "signal_id": signal_id(stage.id),
        "source_signal_id": signal_id(stage.source),
        "views": [v["id"] for v in views if v["source"] == stage.id],
    }


def _filter_context(item: FilterSpec) -> dict[str, Any]:
    return {
        "id": item.id,
        "kind": item.kind,
        "label": item.label,
        "is_choice": item.is_choice,
        "options": item.options,
        "min": _plain(item.min),
        "max": _plain(item.max),
        "step": item.step,
        "integral": all(type(v) is int for v in (item.min, item.max, item.step)),
        "default": _plain(item.default),
    }


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


def _view_context(
    view: ViewSpec,
    graphs: list[ViewSpec],
    indicators: list[ViewSpec],
    demo: dict[str, str],
    *,
    time_column: str,
    categories: list[str],
    titles: dict[str, str],
) -> dict[str, Any]:
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
    return {
        "id": view.id,
        "kind": view.kind,
        "title": view.title,
        "source": view.source,
        "is_own": view.is_own,
        "is_live": view.is_live,
        "reads_cache": view.reads_cache,
        "signal_id": signal_id(view.source) if view.reads_cache else None,
        # Milliseconds, as dcc.Interval takes them.
        "interval_ms": round(view.interval * 1000) if view.interval is not None else None,
        "interval_id": interval_id(view.id) if view.is_live else None,
        "demo": {
            "chart": chart,
            "x": x,
            "y": y,
            "x_title": x_title,
            "y_title": titles.get(y) or humanize(y),
            "measure": measure,
        },
    }


def _free_name(name: str, taken: set[str]) -> str:
    while name in taken:
        name = f"{name}_value"
    return name


def _plain(value: Any) -> Any:
    """Dates become ISO strings, the form they have in JSON and in the browser."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value.isoformat() if hasattr(value, "isoformat") else value
