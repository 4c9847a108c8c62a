"""`dashsignal graph`: the data flow as a tree, a Mermaid diagram and JSON, in both patterns."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from dashsignal_cli.flow import mermaid
from dashsignal_cli.spec import spec_from_data
from dashsignal_cli.specfile import dump_spec

from cli_helpers import assert_clean_error, run_cli
from project_helpers import generate, make_spec


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = make_spec("shop", views=("sales:graph", "rows:table"), filters=("region:dropdown",))
    return generate(tmp_path_factory.mktemp("graph") / "shop", spec)


def test_the_tree_shows_filters_compute_signal_and_views(project: Path) -> None:
    result = run_cli("graph", cwd=project)
    assert result.returncode == 0, result.stderr
    for text in ("filters", "region (dropdown)", "compute_signal", "dashsignal-signal", "sales"):
        assert text in result.stdout
    assert result.stdout.index("region") < result.stdout.index("compute_signal")
    assert result.stdout.index("compute_signal") < result.stdout.index("rows (table")


def test_json_lists_the_flow_for_scripts(project: Path) -> None:
    for args in (["graph", "--json"], ["graph", "--format", "json"]):
        flow = json.loads(run_cli(*args, cwd=project).stdout)
        assert [f["id"] for f in flow["filters"]] == ["region"]
        assert [v["id"] for v in flow["views"]] == ["sales", "rows"]
        assert flow["signal"] == "dashsignal-signal"
        assert flow["compute"]["runs"] == "data.expensive_query"


def test_mermaid_is_a_flowchart_with_an_edge_per_dependency(project: Path) -> None:
    text = run_cli("graph", "--format", "mermaid", cwd=project).stdout
    assert text.startswith("flowchart LR\n")
    assert "filter_region --> compute" in text
    assert "signal --> view_sales" in text and "signal --> view_rows" in text


def test_mermaid_labels_cannot_break_out_of_their_quotes() -> None:
    spec = make_spec(views=("a:graph",), title="x")
    hostile = make_spec(views=("a:graph",), filters=("who:dropdown",))
    del spec
    text = mermaid(
        hostile.__class__(
            hostile.app,
            hostile.cache,
            hostile.filters,
            (hostile.views[0].__class__("a", "graph", 'say "hi" <b>\nnow</b>'),),
        )
    )
    line = next(line for line in text.splitlines() if line.strip().startswith("view_a["))
    assert line.count('"') == 2 and "<b>" not in line and "\n" not in line


def test_an_unknown_format_is_a_clean_error(project: Path) -> None:
    assert "unknown format 'png'" in assert_clean_error(
        run_cli("graph", "--format", "png", cwd=project)
    )


# --- stages, own and live views, and the memoize pattern ------------------------------------

STAGED: dict[str, Any] = {
    "app": {"name": "shop", "title": "Shop"},
    "filters": [
        {"id": "region", "kind": "dropdown", "options": ["North", "South"]},
        {"id": "year", "kind": "range", "min": 2019, "max": 2025},
    ],
    # Declared child first: the flow lists stages parents first.
    "stages": [
        {"id": "weekly", "source": "daily", "title": "Weekly totals"},
        {"id": "daily", "source": "query"},
    ],
    "views": [
        {"id": "sales", "kind": "graph"},
        {"id": "trend", "kind": "graph", "source": "daily"},
        {"id": "by_week", "kind": "table", "source": "weekly"},
        {"id": "forecast", "kind": "graph", "source": "own"},
        {"id": "ticker", "kind": "indicator", "source": "live", "interval": 10},
    ],
}


def staged_project(tmp_path: Path, pattern: str = "signal") -> Path:
    """A folder holding only the spec file: all `graph` reads."""
    data = {**STAGED, "app": {**STAGED["app"], "pattern": pattern}}
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "dashsignal.toml").write_text(dump_spec(spec_from_data(data)), encoding="utf-8")
    return tmp_path


def flow_of(project: Path) -> dict[str, Any]:
    result = run_cli("graph", "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    flow: dict[str, Any] = json.loads(result.stdout)
    return flow


def test_json_has_the_same_top_level_keys_in_both_patterns(tmp_path: Path) -> None:
    keys = ["pattern", "auth", "filters", "compute", "signal", "stages", "views"]
    for pattern in ("signal", "memoize"):
        flow = flow_of(staged_project(tmp_path / pattern, pattern))
        assert list(flow) == keys and flow["pattern"] == pattern


def test_json_of_the_signal_pattern_chains_each_stage_to_its_sources_store(
    tmp_path: Path,
) -> None:
    flow = flow_of(staged_project(tmp_path))

    assert flow["compute"] == {
        "callback": "compute_signal",
        "runs": "data.expensive_query",
        "background": False,
        "cache": "filesystem",
        "signal": "dashsignal-signal",
        "data": "pandas",
        "scope": "shared",
    }
    assert flow["stages"] == [
        {
            "id": "daily",
            "title": "Daily",
            "source": "query",
            "callback": "derive_daily",
            "runs": "stages.daily.derive",
            "inputs": ["dashsignal-signal"],
            "signal": "dashsignal-signal-daily",
            "scope": "shared",
        },
        {
            "id": "weekly",
            "title": "Weekly totals",
            "source": "daily",
            "callback": "derive_weekly",
            "runs": "stages.weekly.derive",
            "inputs": ["dashsignal-signal-daily"],
            "signal": "dashsignal-signal-weekly",
            "scope": "shared",
        },
    ]
    views = {v["id"]: v for v in flow["views"]}
    assert [v["id"] for v in flow["views"]] == ["sales", "trend", "by_week", "forecast", "ticker"]
    assert views["trend"] == {
        "id": "trend",
        "kind": "graph",
        "title": "Trend",
        "callback": "update_trend",
        "source": "daily",
        "inputs": ["dashsignal-signal-daily"],
        "reads": "stages.daily.derive",
        "cached": True,
        "scope": "shared",
        "interval": None,
        "summarises": "views.trend.summarise",
        "renders": "views.trend.render",
    }
    assert (views["sales"]["inputs"], views["sales"]["reads"]) == (
        ["dashsignal-signal"],
        "data.expensive_query",
    )
    assert views["by_week"]["inputs"] == ["dashsignal-signal-weekly"]


def test_json_own_and_live_views_compute_from_the_filters(tmp_path: Path) -> None:
    for pattern in ("signal", "memoize"):
        views = {v["id"]: v for v in flow_of(staged_project(tmp_path / pattern, pattern))["views"]}
        forecast, ticker = views["forecast"], views["ticker"]
        assert (forecast["source"], forecast["inputs"]) == ("own", ["region", "year"])
        # Own and live views draw what compute returns: nothing to summarise.
        assert (forecast["summarises"], ticker["summarises"]) == (None, None)
        assert (forecast["reads"], forecast["cached"]) == ("views.forecast.compute", True)
        assert forecast["interval"] is None
        assert ticker["source"] == "live"
        assert ticker["inputs"] == ["region", "year", "ticker-interval"]
        assert (ticker["reads"], ticker["cached"]) == ("views.ticker.compute", False)
        assert ticker["interval"] == {"id": "ticker-interval", "seconds": 10}


def test_json_of_the_memoize_pattern_has_no_signal_store(tmp_path: Path) -> None:
    flow = flow_of(staged_project(tmp_path, "memoize"))

    assert flow["signal"] is None
    assert flow["compute"]["callback"] is None and flow["compute"]["signal"] is None
    assert flow["compute"]["runs"] == "data.expensive_query"
    for stage in flow["stages"]:
        assert (stage["callback"], stage["inputs"], stage["signal"]) == (None, [], None)
    views = {v["id"]: v for v in flow["views"]}
    for view_id, reads in [
        ("sales", "data.expensive_query"),
        ("trend", "stages.daily.derive"),
        ("by_week", "stages.weekly.derive"),
    ]:
        assert views[view_id]["inputs"] == ["region", "year"]
        assert views[view_id]["reads"] == reads
    assert "dashsignal-signal" not in json.dumps(flow)


def test_the_tree_nests_each_stage_and_its_views_under_its_source(tmp_path: Path) -> None:
    text = run_cli("graph", cwd=staged_project(tmp_path)).stdout
    order = [
        "compute_signal",
        "dcc.Store dashsignal-signal",
        "sales (graph",
        "stage daily",
        "dcc.Store dashsignal-signal-daily",
        "trend (graph",
        "stage weekly",
        "dcc.Store dashsignal-signal-weekly",
        "by_week (table",
        "own views",
        "forecast (graph",
        "live views",
        "ticker (indicator",
    ]
    positions = [text.index(item) for item in order]
    assert positions == sorted(positions)
    assert "every 10 s (ticker-interval)" in text
    # A stage's views are drawn deeper than the stage: under its own signal store.
    [trend_line] = [line for line in text.splitlines() if "trend (graph" in line]
    [stage_line] = [line for line in text.splitlines() if "stage daily" in line]
    assert trend_line.index("trend") > stage_line.index("stage daily")


def test_the_tree_of_the_memoize_pattern_shows_no_signal_store(tmp_path: Path) -> None:
    text = run_cli("graph", cwd=staged_project(tmp_path, "memoize")).stdout
    assert "memoize pattern" in text and "memoized" in text
    assert "dcc.Store" not in text and "compute_signal" not in text
    assert text.index("stage daily") < text.index("trend (graph") < text.index("stage weekly")


SIGNAL_EDGES = [
    "filter_region --> compute",
    "compute --> signal",
    "signal --> stage_daily",
    "stage_daily --> signal_daily",
    "signal_daily --> stage_weekly",
    "signal_weekly --> view_by_week",
    "signal_daily --> view_trend",
    "signal --> view_sales",
    "cache -.-> view_trend",
    "filter_year --> own_forecast",
    "own_forecast --> cache",
    "own_forecast --> view_forecast",
    "interval_ticker --> live_ticker",
    "filter_region --> live_ticker",
    "live_ticker --> view_ticker",
]
MEMOIZE_EDGES = [
    "query --> cache",
    "query -.-> stage_daily",
    "stage_daily -.-> stage_weekly",
    "filter_region --> view_sales",
    "filter_year --> view_by_week",
    "query -.-> view_sales",
    "stage_daily -.-> view_trend",
    "stage_weekly -.-> view_by_week",
    "own_forecast --> view_forecast",
    "interval_ticker --> live_ticker",
]


@pytest.mark.parametrize(
    ("pattern", "edges", "absent"),
    [
        ("signal", SIGNAL_EDGES, ["query", "live_ticker --> cache"]),
        ("memoize", MEMOIZE_EDGES, ["compute", "signal", "live_ticker --> cache"]),
    ],
)
def test_mermaid_draws_an_edge_per_dependency(
    tmp_path: Path, pattern: str, edges: list[str], absent: list[str]
) -> None:
    text = run_cli("graph", "--format", "mermaid", cwd=staged_project(tmp_path, pattern)).stdout
    lines = {line.strip() for line in text.splitlines()}
    for edge in edges:
        assert edge in lines, edge
    nodes = {line.split("[")[0].split("(")[0] for line in lines}
    for node_or_edge in absent:
        assert node_or_edge not in nodes and node_or_edge not in lines
    assert 'interval_ticker[/"dcc.Interval ticker-interval"/]' in lines
    assert 'live_ticker(["views.ticker.compute<br/>every 10 s, not cached"])' in lines


def test_a_stage_title_cannot_break_out_of_its_mermaid_label() -> None:
    data = copy.deepcopy(STAGED)
    data["stages"][1]["title"] = 'say "hi" <b>\nnow</b>'
    text = mermaid(spec_from_data(data))
    line = next(line for line in text.splitlines() if line.strip().startswith("stage_daily("))
    assert line.count('"') == 2 and "<b>" not in line
