"""What add-view, remove-view, add-filter and remove-filter change in the spec and the code.

Run in process as a user runs them (tests/cli_helpers.run_cli), on projects generated into
tmp_path.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from cli_helpers import (
    generated_filters,
    load_toml,
    render_return_annotation,
)
from lifecycle_helpers import (
    CALLBACKS,
    DEMO_FILTER_IDS,
    DEMO_VIEW_IDS,
    LAYOUT,
    RENDER_RETURNS,
    app_wiring,
    cli_ok,
    demo_project,
    filter_ids,
    functions_of,
    read,
    report,
    string_constants,
    view_ids,
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return demo_project(tmp_path)


# --- add-view / remove-view / add-filter / remove-filter: what they change -------------------


def test_add_view_alone_adds_a_graph_titled_from_its_id(project: Path) -> None:
    result = cli_ok(project, "add-view", "chart3")

    assert view_ids(project) == [*DEMO_VIEW_IDS, "chart3"]
    assert load_toml(project)["views"][-1] == {"id": "chart3", "kind": "graph", "title": "Chart3"}
    assert render_return_annotation(project / "views" / "chart3.py") == "Figure"
    assert "update_chart3" in functions_of(project, CALLBACKS)
    assert "Chart3" in string_constants(project, LAYOUT)
    assert report(result.stdout)["views/chart3.py"] == ("create", "yours from now on")


HOSTILE_TITLES = [
    ("table", "He said \"hi\", 'bye' and \"\"\" then '''"),
    ("indicator", "{{ 7*7 }} {% if x %}jinja{% endif %} ${HOME} \\n not a newline"),
    ("graph", "first line\nsecond line: Ventes été — ☃ 日本語"),
]


@pytest.mark.parametrize(("kind", "title"), HOSTILE_TITLES, ids=["quotes", "template", "newline"])
def test_add_view_kind_and_hostile_title_end_up_as_literals(
    project: Path, kind: str, title: str
) -> None:
    cli_ok(project, "add-view", "chart3", "--kind", kind, "--title", title)

    assert load_toml(project)["views"][-1] == {"id": "chart3", "kind": kind, "title": title}
    compile(read(project, LAYOUT), LAYOUT, "exec")
    assert title in string_constants(project, LAYOUT)
    assert render_return_annotation(project / "views" / "chart3.py") == RENDER_RETURNS[kind]
    assert "update_chart3" in functions_of(project, CALLBACKS)
    assert 'Output("chart3", ' in read(project, CALLBACKS)


def test_remove_view_unwires_it_but_keeps_its_module(project: Path) -> None:
    module = read(project, "views/share.py")

    result = cli_ok(project, "remove-view", "share")

    assert view_ids(project) == ["sales", "rows", "total"]
    assert "update_share" not in functions_of(project, CALLBACKS)
    assert 'id="share"' not in read(project, LAYOUT)
    assert read(project, "views/share.py") == module
    assert report(result.stdout)["views/share.py"] == ("keep", "belongs to no view any more")


D = dt.date
FILTER_CASES: dict[str, tuple[list[str], dict[str, Any]]] = {
    "dropdown": (
        ["--option", "Online", "--option", "Retail", "--label", "Sales \"channel\" 'x'"],
        {"label": "Sales \"channel\" 'x'", "options": ["Online", "Retail"]},
    ),
    "multi": ([], {"label": "Channel", "options": ["Online", "Retail", "Partner"]}),
    "checklist": (
        ["--option", "1", "--option", "two"],
        {"label": "Channel", "options": [1, "two"]},
    ),
    "radio": (["--option", "A", "--option", "B"], {"label": "Channel", "options": ["A", "B"]}),
    "range": (["--min", "0", "--max", "500"], {"label": "Channel", "min": 0, "max": 500}),
    "dates": (
        ["--min", "2024-01-01", "--max", "2024-12-31", "--label", "Période"],
        {"label": "Période", "min": D(2024, 1, 1), "max": D(2024, 12, 31)},
    ),
}


@pytest.mark.parametrize(("kind", "case"), FILTER_CASES.items(), ids=list(FILTER_CASES))
def test_add_filter_of_each_kind_reaches_spec_and_generated_code(
    project: Path, kind: str, case: tuple[list[str], dict[str, Any]]
) -> None:
    args, expected = case

    cli_ok(project, "add-filter", "channel", "--kind", kind, *args)

    assert filter_ids(project) == [*DEMO_FILTER_IDS, "channel"]
    assert load_toml(project)["filters"][-1] == {"id": "channel", "kind": kind, **expected}
    declared = generated_filters(project)["channel"]
    assert (declared["kind"], declared["label"]) == (kind, expected["label"])
    assert 'id="channel"' in read(project, "signaling/filters.py")  # its control: FILTERS
    # That the compute step takes it as an input: test_project_grown_with_every_kind_...


def test_remove_filter_takes_it_out_of_spec_and_generated_code(project: Path) -> None:
    cli_ok(project, "remove-filter", "product")

    assert filter_ids(project) == ["region", "year"]
    assert "product" not in generated_filters(project)
    assert 'id="product"' not in read(project, "signaling/filters.py")


def test_project_grown_with_every_kind_imports_and_wires_them(
    project: Path, tmp_path: Path
) -> None:
    cli_ok(project, "add-view", "grid", "--kind", "table", "--title", HOSTILE_TITLES[0][1])
    cli_ok(project, "add-view", "kpi", "--kind", "indicator", "--title", HOSTILE_TITLES[2][1])
    cli_ok(project, "add-view", "chart3")
    for kind, (args, _) in FILTER_CASES.items():
        cli_ok(project, "add-filter", f"f_{kind}", "--kind", kind, *args)

    wiring = app_wiring(project, tmp_path)

    assert {"kpi.children", "chart3.figure"} <= set(wiring)
    assert any(".grid.rowData" in output for output in wiring)
    new_filters = [f"f_{kind}" for kind in FILTER_CASES]
    assert wiring["dashsignal-signal.data"] == sorted([*DEMO_FILTER_IDS, *new_filters])


def test_project_after_removals_imports_without_them(project: Path, tmp_path: Path) -> None:
    cli_ok(project, "remove-view", "share")
    cli_ok(project, "remove-filter", "product")

    wiring = app_wiring(project, tmp_path)

    assert "share.figure" not in wiring
    assert {"sales.figure", "total.children"} <= set(wiring)
    assert wiring["dashsignal-signal.data"] == ["region", "year"]
