"""Each source of `dashsignal new --data` serves the demo from its real database (or frame), and
a filter added with `dashsignal add-filter` narrows the rows at once, without an edit of the
user's data.py: proved through the callback endpoint of the project served by gunicorn.

The expected numbers come from the demo database itself, read here with plain SQL beside the
app, so the test checks the generated conditions against an independent query.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from dashsignal.testing.loading import split_output
from dashsignal_cli.specfile import parse_spec_text

from cli_helpers import run_cli
from test_production import App, http_request, signal_of, start_app, stop_process

pytestmark = pytest.mark.e2e

SOURCES = ("duckdb", "sql", "pandas")
NORTH = {"region": "North", "product": [], "year": [2019, 2025]}
CHANNELS = ("Online", "Retail", "Partner")


@contextlib.contextmanager
def served(project: Path, tmp: Path) -> Iterator[App]:
    """The project under `gunicorn -w 2`, as it is on disk."""
    spec = parse_spec_text((project / "dashsignal.toml").read_text(encoding="utf-8"))
    app, process = start_app(tmp, spec, workers=2, existing=project)
    try:
        yield app
    finally:
        stop_process(process)


def shown(app: App, filters: dict[str, Any]) -> tuple[list[dict[str, Any]], float]:
    """The rows table's rows and the total indicator's number, for one filter change."""
    computed = app.compute(filters)
    assert computed.status == 200, computed.describe()
    replies = {
        split_output(callback["output"])[0][0]: reply
        for callback, reply in app.consume_all(signal_of(computed))
    }
    for view, reply in replies.items():
        assert reply.status == 200, f"{view}: {reply.describe()}"
    rows = replies["rows"].json()["response"]["rows"]["rowData"]
    total = replies["total"].json()["response"]["total"]["children"]
    return rows, float(total.replace(",", ""))


def component(tree: Any, component_id: str) -> dict[str, Any]:
    """The props of the component `component_id` in a /_dash-layout answer."""
    if isinstance(tree, dict):
        props = tree.get("props", {})
        if props.get("id") == component_id:
            return dict(props)
        children = props.get("children")
        found = [component(child, component_id) for child in _listed(children)]
        return next((props for props in found if props), {})
    return {}


def _listed(children: Any) -> list[Any]:
    return children if isinstance(children, list) else [children]


def database_total(project: Path, source: str, where: str, params: list[Any]) -> float | None:
    """sum(amount) of the demo rows matching `where`, read from the demo database directly."""
    sql = f"SELECT sum(amount) FROM sales WHERE {where}"
    if source == "duckdb":
        with duckdb.connect(str(project / "data" / "sales.duckdb"), read_only=True) as con:
            row = con.execute(sql, params).fetchone()
    elif source == "sql":
        with contextlib.closing(sqlite3.connect(project / "data" / "sales.sqlite")) as con:
            row = con.execute(sql, params).fetchone()
    else:
        return None
    assert row is not None
    return float(row[0])


@pytest.mark.parametrize("source", SOURCES)
def test_a_filter_added_later_narrows_the_rows_at_once(tmp_path: Path, source: str) -> None:
    assert run_cli("new", "shop", "--data", source, "--yes", cwd=tmp_path).returncode == 0
    project = tmp_path / "shop"
    with served(project, tmp_path / "before") as app:
        rows, total = shown(app, NORTH)
        app.assert_no_errors()
    assert {row["region"] for row in rows} == {"North"}
    assert {row["channel"] for row in rows} == set(CHANNELS)
    expected = database_total(project, source, "region = ?", ["North"])
    if expected is not None:
        assert total == pytest.approx(expected, abs=0.01)

    added = run_cli(
        "add-filter", "channel", "--kind", "checklist",
        *(part for channel in CHANNELS for part in ("--option", channel)),
        cwd=project,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "does nothing yet" not in added.stdout

    with served(project, tmp_path / "after") as app:
        online_rows, online = shown(app, {**NORTH, "channel": ["Online"]})
        every_rows, every = shown(app, {**NORTH, "channel": list(CHANNELS)})
        app.assert_no_errors()
    assert online_rows and {row["channel"] for row in online_rows} == {"Online"}
    assert {row["region"] for row in online_rows} == {"North"}
    assert 0 < online < every == pytest.approx(total, abs=0.01)
    expected = database_total(project, source, "region = ? AND channel = ?", ["North", "Online"])
    if expected is not None:
        assert online == pytest.approx(expected, abs=0.01)


# options_from, the call the wiring makes of it, and the options it gives the demo's channel.
OPTIONS_FROM = {
    "column": ('DATABASE.distinct("channel", "sales")', ["Online", "Partner", "Retail"]),
    "SELECT DISTINCT channel FROM sales WHERE channel <> 'Retail' ORDER BY channel DESC": (
        "DATABASE.options(\"SELECT DISTINCT channel FROM sales WHERE channel <> 'Retail' "
        'ORDER BY channel DESC")',
        ["Partner", "Online"],
    ),
}


@pytest.mark.parametrize("options_from", OPTIONS_FROM, ids=["column", "query"])
def test_options_from_the_database_are_read_at_start_up_and_enforced(
    tmp_path: Path, options_from: str
) -> None:
    assert run_cli("new", "shop", "--yes", cwd=tmp_path).returncode == 0
    project = tmp_path / "shop"
    added = run_cli(
        "add-filter", "channel", "--kind", "multi", "--options-from", options_from, cwd=project
    )
    assert added.returncode == 0, added.stderr
    call, options = OPTIONS_FROM[options_from]
    assert f"options={call}" in (project / "signaling" / "filters.py").read_text()

    with served(project, tmp_path / "served") as app:
        layout = http_request(app.port, "GET", "/_dash-layout")
        assert layout.status == 200
        assert component(layout.json(), "channel")["options"] == options
        rows, _ = shown(app, {**NORTH, "channel": ["Partner"]})
        assert rows and {row["channel"] for row in rows} == {"Partner"}
        # A value the database does not hold is refused before anything runs.
        refused = app.compute({**NORTH, "channel": ["Wholesale"]})
        assert refused.status == 204, refused.describe()
        app.assert_no_errors()
