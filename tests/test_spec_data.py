"""`[data]` and each filter's `column` in the spec, and the flags that write them.

The spec checks every name that reaches SQL (a column, a table) as an identifier before any code
is written; the runtime quotes it again by the dialect (tests/test_sql_injection.py).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from dashsignal_cli.errors import SpecError
from dashsignal_cli.render import render, spec_version
from dashsignal_cli.spec import DataSpec, spec_from_data
from dashsignal_cli.specfile import dump_spec, parse_spec_text

from cli_helpers import run_cli
from cli_helpers import tree_snapshot as snapshot

BASE: dict[str, Any] = {
    "app": {"name": "shop"},
    "data": {"source": "sql"},
    "filters": [{"id": "region", "kind": "dropdown", "options": ["North", "South"]}],
    "views": [{"id": "sales", "kind": "graph"}],
}


def spec_with(**changes: Any) -> Any:
    data = copy.deepcopy(BASE)
    for key, value in changes.items():
        table, _, name = key.partition("__")
        if name:
            target = data[table] if table == "data" else data[table][0]
            target[name] = value
        else:
            data[table] = value
    return spec_from_data(data)


def test_each_source_gets_its_defaults() -> None:
    assert spec_with(data={"source": "sql"}).data == DataSpec(
        "sql", "DATABASE_URL", "data/sales.sqlite", "sales"
    )
    assert spec_with(data={"source": "duckdb"}).data == DataSpec(
        "duckdb", "DUCKDB_DATABASE", "data/sales.duckdb", "sales"
    )
    assert spec_with(data={"source": "pandas"}).data == DataSpec("pandas")


def test_a_spec_without_data_is_a_pandas_project_made_before_it() -> None:
    data = copy.deepcopy(BASE)
    del data["data"]
    assert spec_from_data(data).data.source == "pandas"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("data__source", "mysql", "data.source: unknown data source 'mysql'"),
        ("data__env", "database-url", "data.env: 'database-url' is not an environment variable"),
        ("data__env", "", "data.env"),
        ("data__default", "/etc/passwd", "data.default: '/etc/passwd' is not a file path"),
        ("data__default", "../outside.db", "data.default"),
        ("data__default", "data/../../x.db", "data.default"),
        ("data__table", "sales; DROP TABLE x", "data.table: 'sales; DROP TABLE x' is not"),
        ("data__table", "a.b.c", "data.table"),
        ("data__url", "x", "data.url: unknown key"),
        ("filters__column", "region'--", 'filters[0].column: "region\'--" is not a column name'),
        ("filters__column", "1st", "filters[0].column"),
        ("filters__column", "x" * 64, "filters[0].column"),
        ("filters__column", "a.b.c", "filters[0].column"),
        ("filters__column", 3, "filters[0].column: 3 is not a column name"),
    ],
)
def test_a_bad_data_table_or_column_is_refused_naming_its_key(
    key: str, value: Any, message: str
) -> None:
    with pytest.raises(SpecError) as error:
        spec_with(**{key: value})
    assert message in str(error.value)


def test_pandas_takes_no_database_keys() -> None:
    with pytest.raises(SpecError, match="data.env: unknown key"):
        spec_with(data={"source": "pandas", "env": "DATABASE_URL"})


def test_two_filters_on_one_column_are_refused() -> None:
    filters = [
        {"id": "region", "kind": "dropdown", "options": ["North"]},
        {"id": "area", "kind": "multi", "options": ["North"], "column": "region"},
    ]
    with pytest.raises(SpecError, match="both conditions on column 'region'"):
        spec_with(filters=filters)


def test_a_column_round_trips_and_changes_the_cache_keys() -> None:
    plain = spec_with()
    mapped = spec_with(filters__column="sales.sales_region")
    assert mapped.filters[0].column == "sales.sales_region"
    assert parse_spec_text(dump_spec(mapped)) == mapped
    assert 'column = "sales.sales_region"' in dump_spec(mapped)
    # The column named like the id is no column of its own: the same spec, the same keys.
    assert spec_with(filters__column="region") == plain
    assert spec_version(mapped) != spec_version(plain)
    assert spec_version(spec_with(data={"source": "duckdb"})) != spec_version(plain)


def test_the_wiring_declares_the_column_and_the_demo_makes_it() -> None:
    files = render(spec_with(filters__column="sales_region"))
    assert 'column="sales_region"' in files["signaling/filters.py"].text
    assert 'Choice("sales_region", ("North", "South"))' in files["signaling/source.py"].text
    assert "SELECT sales_region, channel, day, units, amount" in files["data.py"].text


def test_new_with_data_writes_that_source(tmp_path: Path) -> None:
    for source in ("sql", "duckdb", "pandas"):
        result = run_cli("new", f"p_{source}", "--data", source, "--yes", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        spec = parse_spec_text((tmp_path / f"p_{source}" / "dashsignal.toml").read_text())
        assert spec.data.source == source
    default = run_cli("new", "p_default", "--yes", cwd=tmp_path)
    assert default.returncode == 0, default.stderr
    text = (tmp_path / "p_default" / "dashsignal.toml").read_text()
    assert parse_spec_text(text).data.source == "duckdb"


def test_new_with_an_unknown_source_says_so_in_one_line_and_writes_nothing(
    tmp_path: Path,
) -> None:
    before = snapshot(tmp_path)
    result = run_cli("new", "shop", "--data", "oracle", "--yes", cwd=tmp_path)
    assert result.returncode != 0
    assert "--data: unknown data source 'oracle'; allowed: duckdb, sql, pandas" in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2
    assert snapshot(tmp_path) == before


def test_add_filter_with_a_column_writes_it_and_refuses_a_hostile_one(tmp_path: Path) -> None:
    assert run_cli("new", "shop", "--yes", cwd=tmp_path).returncode == 0
    project = tmp_path / "shop"
    before = snapshot(project)
    bad = run_cli(
        "add-filter", "channel", "--kind", "checklist", "--column", "x; DROP TABLE sales",
        cwd=project,
    )  # fmt: skip
    assert bad.returncode != 0
    assert "is not a column name" in bad.stderr
    assert snapshot(project) == before

    good = run_cli(
        "add-filter", "sales_channel", "--kind", "checklist", "--column", "channel",
        "--option", "Online", "--option", "Retail", cwd=project,
    )  # fmt: skip
    assert good.returncode == 0, good.stderr
    # data.py hands every declared filter to filtered_text: nothing to tell the user to do.
    assert "does nothing yet" not in good.stdout
    spec = parse_spec_text((project / "dashsignal.toml").read_text())
    assert spec.filters[-1].column == "channel"
    assert 'column="channel"' in (project / "signaling" / "filters.py").read_text()


def test_check_names_a_filter_whose_column_the_query_does_not_select(tmp_path: Path) -> None:
    assert run_cli("new", "shop", "--data", "sql", "--yes", cwd=tmp_path).returncode == 0
    project = tmp_path / "shop"
    assert run_cli("check", cwd=project).returncode == 0
    data = project / "data.py"
    data.write_text(data.read_text().replace("SELECT region, ", "SELECT "))

    result = run_cli("check", cwd=project)

    assert result.returncode != 0
    assert (
        "filter 'region' is a condition on column 'region', which QUERY does not select"
        in result.stdout + result.stderr
    )
    # A SELECT list it cannot read without running the query is left alone.
    data.write_text(data.read_text().replace("SELECT product", "SELECT *, product"))
    assert run_cli("check", cwd=project).returncode == 0


@pytest.mark.parametrize(
    "options_from",
    [
        "column",
        "SELECT name FROM stores ORDER BY name",
        "  with s AS (SELECT 1 AS n) SELECT n FROM s",
    ],
)
def test_options_from_the_column_or_a_query_round_trips(options_from: str) -> None:
    spec = spec_with(filters=[{"id": "store", "kind": "multi", "options_from": options_from}])
    assert spec.filters[0].options_from == options_from
    assert spec.filters[0].default == []
    assert parse_spec_text(dump_spec(spec)) == spec
    call = "DATABASE.distinct(" if options_from == "column" else "DATABASE.options("
    assert f"options={call}" in render(spec)["signaling/filters.py"].text


@pytest.mark.parametrize(
    ("options_from", "message"),
    [
        ("rows", "filters[0].options_from: 'rows'; either \"column\""),
        ("SELECT 1; DROP TABLE sales", "filters[0].options_from"),
        ("DELETE FROM sales", "filters[0].options_from"),
        ("SELECT " + "x, " * 1000 + "y FROM t", "filters[0].options_from"),
        (["North"], "filters[0].options_from"),
    ],
)
def test_a_bad_options_from_is_refused(options_from: Any, message: str) -> None:
    with pytest.raises(SpecError) as error:
        spec_with(filters=[{"id": "store", "kind": "dropdown", "options_from": options_from}])
    assert message in str(error.value)


def test_options_from_is_for_dropdown_and_multi_on_a_sql_source() -> None:
    with pytest.raises(SpecError, match="options_from is for dropdown and multi"):
        spec_with(filters=[{"id": "tier", "kind": "radio", "options_from": "column"}])
    with pytest.raises(SpecError, match="options_from reads the database"):
        spec_with(
            data={"source": "pandas"},
            filters=[{"id": "store", "kind": "multi", "options_from": "column"}],
        )
