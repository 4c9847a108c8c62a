"""`dashsignal graph`: the data flow as a tree, a Mermaid diagram and JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dashsignal_cli.flow import mermaid

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
