"""The demo's view modules, run as rendered: each view of the cached data summarises the frame it
reads once (small, never None) and renders that summary, for a filter state with rows and for
one with none.

The modules are rendered in memory and executed beside the demo's own data.py and stage modules;
no project is written and no app is started.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest
from plotly.graph_objects import Figure

from dashsignal_cli.render import render
from dashsignal_cli.spec import QUERY, Spec
from dashsignal_cli.specfile import SPEC_FILENAME, load_spec

from project_helpers import make_spec

GOLDEN = Path(__file__).resolve().parent / "golden"
# The demo (`new --yes`), the histogram of a project without a category filter, every demo
# indicator and the placeholder after them, and views of a stage.
SPECS = {
    "demo": make_spec(
        views=("sales:graph", "share:graph", "rows:table", "total:indicator"),
        filters=("region:dropdown", "product:multi", "year:range"),
    ),
    "histogram": make_spec(views=("sales:graph", "spread:graph"), filters=("year:range",)),
    "indicators": make_spec(
        views=tuple(f"{name}:indicator" for name in ("total", "mean", "top", "count", "other")),
        filters=("region:dropdown",),
    ),
    # Stages chained from the query, an own and a live view beside them.
    "stages": load_spec(GOLDEN / "signal-stages-own-live" / SPEC_FILENAME),
}
# What each demo indicator shows for a filter state without rows, as before issue 15.
NO_ROWS = {
    "total": "0.00",
    "mean": "No rows",
    "top": "No rows",
    "count": "0 rows",
    "other": "Edit views/other.py",
}
RETURNS = {"graph": Figure, "table": pd.DataFrame, "indicator": str}


def _module(name: str, text: str) -> ModuleType:
    module = ModuleType(name)
    exec(compile(text, f"{name.replace('.', '/')}.py", "exec"), module.__dict__)  # noqa: S102
    return module


def _project(spec: Spec) -> tuple[dict[str, pd.DataFrame], dict[str, ModuleType]]:
    """The frames each source holds for the default filters, and each view's module."""
    files = render(spec)
    # data.py reads the declared filters and the demo's rows from the wiring: rendered too, and
    # importable while it runs (the pandas source's wiring needs nothing else).
    wiring = {"signaling": ModuleType("signaling")}
    for name in ("filters", "source"):
        wiring[f"signaling.{name}"] = _module(
            f"signaling.{name}", files[f"signaling/{name}.py"].text
        )
    saved = {name: sys.modules.get(name) for name in wiring}
    sys.modules.update(wiring)
    try:
        query = _module("data", files["data.py"].text)
    finally:
        for name, module in saved.items():
            if module is None:
                del sys.modules[name]
            else:
                sys.modules[name] = module
    query.DEMO_DELAY_SECONDS = 0
    defaults = wiring["signaling.filters"].FILTERS.defaults()
    frames = {QUERY: query.expensive_query(defaults)}
    for stage in spec.ordered_stages():
        derive = _module(f"stages.{stage.id}", files[f"stages/{stage.id}.py"].text).derive
        frames[stage.id] = derive(frames[stage.source])
    views = {v.id: _module(f"views.{v.id}", files[f"views/{v.id}.py"].text) for v in spec.views}
    return frames, views


PROJECTS = {name: _project(spec) for name, spec in SPECS.items()}
CASES = [(name, view) for name, spec in SPECS.items() for view in spec.views if view.reads_cache]


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("rows", ["default-filters", "no-rows"])
@pytest.mark.parametrize(("name", "view"), CASES, ids=[f"{n}-{v.id}" for n, v in CASES])
def test_each_view_renders_its_summary_of_the_frame_it_reads(
    name: str, view: Any, rows: str
) -> None:
    frames, modules = PROJECTS[name]
    frame = frames[view.source]
    assert len(frame) > 0
    data = frame if rows == "default-filters" else frame.iloc[:0]

    summary = modules[view.id].summarise(data)
    drawn = modules[view.id].render(summary)

    assert summary is not None
    assert isinstance(drawn, RETURNS[view.kind])
    if view.kind == "table":
        assert len(drawn) == min(len(data), 500)
        assert list(drawn.columns) == list(frame.columns)
    if view.kind == "indicator" and rows == "no-rows":
        assert drawn == NO_ROWS.get(view.id, "0.00")


def test_the_histogram_bins_every_amount_into_touching_bars() -> None:
    frames, modules = PROJECTS["histogram"]
    amounts = frames[QUERY]["amount"]

    bins = modules["spread"].summarise(frames[QUERY])
    [bar] = modules["spread"].render(bins).data

    assert len(bins) == 40 and bins["rows"].sum() == len(amounts)
    assert bins["start"].iloc[0] == amounts.min() and bins["end"].iloc[-1] == amounts.max()
    assert np.allclose(bins["start"].iloc[1:], bins["end"].iloc[:-1])
    assert bar.type == "bar" and bar.offset == 0
    assert np.allclose(np.asarray(bar.x) + np.asarray(bar.width), bins["end"])
    assert "customdata[0]" in bar.hovertemplate and "customdata[1]" in bar.hovertemplate


def test_the_demo_caches_far_less_than_its_frame_per_filter_state() -> None:
    frames, modules = PROJECTS["demo"]
    frame = frames[QUERY]

    sizes = {view_id: len(pickle.dumps(m.summarise(frame))) for view_id, m in modules.items()}

    # The target: at most 1 MB for the whole demo, whatever the number of rows.
    assert sum(sizes.values()) < min(1_000_000, len(pickle.dumps(frame)) // 10), sizes
