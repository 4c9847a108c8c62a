"""check reports SQL text built from filter values (`sql-from-filters`), and only that.

Each case is written into a real generated project (data.py, or the module of an own view) and
run through `dashsignal check` in process. An unsafe case marks each line it must be reported at
with `<-` (in a comment, or in the SQL text itself); a safe one must pass check.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from dashsignal_cli.sql_scan import scan_sql

from lifecycle_helpers import check_findings, cli
from project_helpers import generate, make_spec

CODE = "sql-from-filters"
GOLDEN = Path(__file__).resolve().parent / "golden"
OWN_VIEW = "views/target.py"

# The imports and names every case may use; FILTERS names the one filter, so no case is
# reported as leaving it unread.
HEADER = '''\
"""A query of the user's own."""

from __future__ import annotations

import sqlite3
from typing import Any

import duckdb
import pandas as pd
import sqlalchemy as sa
from psycopg import sql
from sqlalchemy import text

DATA_VERSION = "1"
FILTERS = ("region",)
CON = sqlite3.connect(":memory:")
ENGINE = sa.create_engine("sqlite://")
SALES = sa.table("sales", sa.column("region"), sa.column("amount"))
'''

UNSAFE = {
    "f-string in execute": """
        def expensive_query(filters: dict[str, Any]) -> pd.DataFrame:
            rows = CON.execute(f"SELECT * FROM sales WHERE region = '{filters['region']}'")  # <-
            return pd.DataFrame(rows.fetchall())
        """,
    "f-string through a name": """
        def expensive_query(filters: dict[str, Any]) -> pd.DataFrame:
            region = filters.get("region")
            query = f"SELECT * FROM sales WHERE region = '{region}'"  # <-
            return pd.read_sql(query, CON)
        """,
    "percent": """
        def expensive_query(filters: dict[str, Any]) -> pd.DataFrame:
            query = "SELECT * FROM sales WHERE region = '%s'" % filters["region"]  # <-
            return pd.read_sql(query, CON)
        """,
    "plus": """
        def expensive_query(filters: dict[str, Any]) -> pd.DataFrame:
            query = "SELECT * FROM sales WHERE region = '" + filters["region"] + "'"  # <-
            return pd.read_sql_query(query, CON)
        """,
    "format": """
        def expensive_query(filters: dict[str, Any]) -> pd.DataFrame:
            query = "SELECT * FROM sales WHERE region = '{}'".format(filters["region"])  # <-
            return pd.read_sql(query, CON)
        """,
    "module template, format": """
        QUERY = "SELECT * FROM sales WHERE region = '{region}'"


        def expensive_query(filters: dict[str, Any]) -> pd.DataFrame:
            return pd.read_sql(QUERY.format(region=filters["region"]), CON)  # <-
        """,
    "quoted values joined into IN": """
        def expensive_query(filters: dict[str, Any]) -> pd.DataFrame:
            values = filters.get("region") or []
            listed = ", ".join(f"'{v}'" for v in values)
            query = f"SELECT * FROM sales WHERE region IN ({listed})"  # <-
            return pd.read_sql(query, CON)
        """,
    "clauses appended, then joined": """
        def expensive_query(filters: dict[str, Any]) -> pd.DataFrame:
            clauses = ["1 = 1"]
            if (value := filters.get("region")) is not None:
                clauses.append(f"region = '{value}'")
            query = "SELECT * FROM sales WHERE " + " AND ".join(clauses)  # <-
            return pd.read_sql(query, CON)
        """,
    "augmented assignment": """
        def expensive_query(filters: dict[str, Any]) -> pd.DataFrame:
            query = "SELECT * FROM sales"
            if value := filters.get("region"):
                query += f" WHERE region = '{value}'"  # <-
            return pd.read_sql(query, CON)
        """,
    "SQLAlchemy text of an f-string": """
        def expensive_query(filters: dict[str, Any]) -> pd.DataFrame:
            with ENGINE.connect() as conn:
                rows = conn.execute(
                    text(f"SELECT * FROM sales WHERE region = '{filters['region']}'")  # <-
                )
                return pd.DataFrame(rows.fetchall())
        """,
    "a condition for text() in a Core where": """
        def expensive_query(filters: dict[str, Any]) -> pd.DataFrame:
            condition = f"region = '{filters['region']}'"  # <-
            stmt = sa.select(SALES).where(sa.text(condition))
            return pd.read_sql(stmt, ENGINE)
        """,
    "duckdb.query with str() and plus": """
        def expensive_query(filters: dict[str, Any]) -> pd.DataFrame:
            region = str(filters["region"])
            return duckdb.query("SELECT * FROM sales WHERE region = '" + region + "'").df()  # <-
        """,
    "a loop over a multi filter": """
        def expensive_query(filters: dict[str, Any]) -> pd.DataFrame:
            parts = []
            for value in filters.get("region") or []:
                parts.append("'" + value + "'")
            query = "SELECT * FROM sales WHERE region IN (" + ",".join(parts) + ")"  # <-
            return pd.read_sql(query, CON)
        """,
    "the filter value as the SQL": """
        def expensive_query(filters: dict[str, Any]) -> pd.DataFrame:
            return pd.read_sql_query(filters["region"], CON)  # <-
        """,
    "executemany of an INSERT": """
        def expensive_query(filters: dict[str, Any]) -> pd.DataFrame:
            rows = [(1,), (2,)]
            CON.executemany(f"INSERT INTO seen VALUES ('{filters['region']}', ?)", rows)  # <-
            return pd.DataFrame(rows)
        """,
    "triple-quoted f-string": '''
        def expensive_query(filters: dict[str, Any]) -> pd.DataFrame:
            query = f"""SELECT *  -- <-
                FROM sales
                WHERE region = '{filters["region"]}'
            """
            return pd.read_sql(query, CON)
        ''',
    "implicit concatenation, exec_driver_sql": """
        def expensive_query(filters: dict[str, Any]) -> pd.DataFrame:
            with ENGINE.connect() as conn:
                result = conn.exec_driver_sql(
                    "SELECT * FROM sales "  # <-
                    f"WHERE region = '{filters.get('region')}'"
                )
                return pd.DataFrame(result.fetchall())
        """,
    "a helper that receives filters, two places": """
        def _where(filters: dict[str, Any]) -> str:
            return f"WHERE region = '{filters['region']}'"


        def expensive_query(filters: dict[str, Any]) -> pd.DataFrame:
            first = pd.read_sql("SELECT * FROM sales " + _where(filters), CON)  # <-
            region = filters["region"]
            second = duckdb.sql(f"SELECT * FROM returns WHERE region = '{region}'")  # <-
            return pd.concat([first, second.df()])
        """,
    "the parameter under another name": """
        def expensive_query(chosen: dict[str, Any]) -> pd.DataFrame:
            return pd.read_sql(f"SELECT * FROM sales WHERE region='{chosen['region']}'", CON)  # <-
        """,
}

SAFE = {
    "qmark parameter": """
        def expensive_query(filters: dict[str, Any]) -> pd.DataFrame:
            rows = CON.execute("SELECT * FROM sales WHERE region = ?", [filters["region"]])
            return pd.DataFrame(rows.fetchall())
        """,
    "read_sql with params": """
        def expensive_query(filters: dict[str, Any]) -> pd.DataFrame:
            region = filters.get("region")
            query = "SELECT * FROM sales WHERE region = ?"
            return pd.read_sql(query, CON, params=[region])
        """,
    "placeholders for an IN list": """
        def expensive_query(filters: dict[str, Any]) -> pd.DataFrame:
            values = filters.get("region") or []
            marks = ", ".join("?" for _ in values)
            query = f"SELECT * FROM sales WHERE region IN ({marks})"
            return pd.read_sql(query, CON, params=values)
        """,
    "placeholders by repetition": """
        def expensive_query(filters: dict[str, Any]) -> pd.DataFrame:
            values = filters["region"]
            query = "SELECT * FROM sales WHERE region IN (" + ",".join(["?"] * len(values)) + ")"
            return pd.read_sql(query, CON, params=values)
        """,
    "named placeholders by index": """
        def expensive_query(filters: dict[str, Any]) -> pd.DataFrame:
            values = filters.get("region") or []
            params = {f"p{i}": v for i, v in enumerate(values)}
            names = ", ".join(f":p{i}" for i in range(len(values)))
            with ENGINE.connect() as conn:
                rows = conn.execute(text(f"SELECT * FROM sales WHERE region IN ({names})"), params)
                return pd.DataFrame(rows.fetchall())
        """,
    "SQLAlchemy text with bindparams": """
        def expensive_query(filters: dict[str, Any]) -> pd.DataFrame:
            stmt = text("SELECT * FROM sales WHERE region = :region").bindparams(
                region=filters["region"]
            )
            with ENGINE.connect() as conn:
                return pd.DataFrame(conn.execute(stmt).fetchall())
        """,
    "SQLAlchemy Core": """
        def expensive_query(filters: dict[str, Any]) -> pd.DataFrame:
            value = filters.get("region")
            stmt = sa.select(SALES)
            if value is not None:
                stmt = stmt.where(SALES.c.region == value)
            return pd.read_sql(stmt, ENGINE)
        """,
    "columns from the filter ids, values as parameters": """
        def expensive_query(filters: dict[str, Any]) -> pd.DataFrame:
            clauses, params = ["1 = 1"], []
            for column, value in filters.items():
                if value is not None:
                    clauses.append(f"{column} = ?")
                    params.append(value)
            query = "SELECT * FROM sales WHERE " + " AND ".join(clauses)
            return pd.read_sql(query, CON, params=params)
        """,
    "a loop over the filter ids": """
        def expensive_query(filters: dict[str, Any]) -> pd.DataFrame:
            clauses, params = ["1 = 1"], []
            for column in filters:
                clauses.append(f"{column} = ?")
                params.append(filters[column])
            where = " AND ".join(clauses)
            return pd.read_sql(f"SELECT * FROM sales WHERE {where}", CON, params=params)
        """,
    "a LIKE pattern as a parameter": """
        def expensive_query(filters: dict[str, Any]) -> pd.DataFrame:
            pattern = "%" + filters["region"] + "%"
            both = SALES.c.region.like(f"%{filters['region']}%")
            rows = CON.execute("SELECT * FROM sales WHERE region LIKE ?", [pattern])
            return pd.DataFrame(rows.fetchall()).assign(both=str(both))
        """,
    "a number through int()": """
        def expensive_query(filters: dict[str, Any]) -> pd.DataFrame:
            limit = int(filters.get("limit") or 100)
            return pd.read_sql(f"SELECT * FROM sales WHERE region = ? LIMIT {limit}", CON,
                               params=[filters["region"]])
        """,
    "a fixed fragment chosen by a value": """
        def expensive_query(filters: dict[str, Any]) -> pd.DataFrame:
            order = "DESC" if filters.get("region") == "North" else "ASC"
            return pd.read_sql(f"SELECT * FROM sales ORDER BY amount {order}", CON)
        """,
    "psycopg sql composition": """
        def expensive_query(filters: dict[str, Any]) -> pd.DataFrame:
            column = next(iter(filters))
            query = sql.SQL("SELECT * FROM sales WHERE {} = %s").format(sql.Identifier(column))
            with CON.cursor() as cursor:
                cursor.execute(query, (filters["region"],))
                return pd.DataFrame(cursor.fetchall())
        """,
    "prose that mentions a value": """
        def expensive_query(filters: dict[str, Any]) -> pd.DataFrame:
            region = filters.get("region")
            title = "Select a region: " + str(region)
            note = f"With {region} only"
            return pd.DataFrame({"title": [title], "note": [note]})
        """,
    "SQL built from constants only": """
        WHERE = "WHERE region = ?"


        def expensive_query(filters: dict[str, Any]) -> pd.DataFrame:
            query = "SELECT * FROM sales " + WHERE
            return duckdb.execute(query, [filters["region"]]).df()
        """,
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One generated project (a query view and an own view, one filter) that each test
    rewrites a module of before it runs check."""
    spec = make_spec("shop", views=("sales:graph", "target:graph@own"), filters=("region",))
    return generate(tmp_path_factory.mktemp("sql") / "shop", spec)


def module_text(case: str) -> str:
    return HEADER + "\n\n" + textwrap.dedent(case).lstrip("\n")


def marked_lines(text: str) -> list[int]:
    return [n for n, line in enumerate(text.splitlines(), start=1) if "<-" in line]


def own_view_text(project: Path, case: str) -> str:
    """The own view's module with its compute replaced by the case's expensive_query."""
    generated = (project / OWN_VIEW).read_text(encoding="utf-8")
    before, _, rest = generated.partition("def compute(")
    _, _, render = rest.partition("\ndef render(")
    compute = textwrap.dedent(case).strip("\n").replace("def expensive_query(", "def compute(")
    return before + compute + "\n\n\ndef render(" + render


def sql_findings(project: Path) -> tuple[int, list[tuple[str, str, str]]]:
    result = cli(project, "check")
    return result.returncode, [f for f in check_findings(result.stdout) if f[0] == CODE]


@pytest.fixture
def restore(project: Path):  # type: ignore[no-untyped-def]
    """Put back the project's own modules after a test rewrote them."""
    saved = {p: (project / p).read_text(encoding="utf-8") for p in ("data.py", OWN_VIEW)}
    yield
    for path, text in saved.items():
        (project / path).write_text(text, encoding="utf-8")


def test_there_are_enough_cases() -> None:
    assert len(UNSAFE) >= 15
    assert len(SAFE) >= 12


@pytest.mark.usefixtures("restore")
@pytest.mark.parametrize("case", UNSAFE.values(), ids=UNSAFE.keys())
def test_check_reports_sql_built_from_filters_at_its_line(project: Path, case: str) -> None:
    text = module_text(case)
    (project / "data.py").write_text(text, encoding="utf-8")

    returncode, findings = sql_findings(project)

    assert returncode == 1
    lines = [int(message.split(":")[0].removeprefix("line ")) for _, _, message in findings]
    assert lines == marked_lines(text), text
    assert {path for _, path, _ in findings} == {"data.py"}
    assert all("pass the value as a parameter" in message for _, _, message in findings)


@pytest.mark.usefixtures("restore")
@pytest.mark.parametrize("case", SAFE.values(), ids=SAFE.keys())
def test_check_passes_parameterised_sql(project: Path, case: str) -> None:
    (project / "data.py").write_text(module_text(case), encoding="utf-8")

    result = cli(project, "check")

    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith("check passed")


@pytest.mark.usefixtures("restore")
def test_check_scans_the_module_of_an_own_view(project: Path) -> None:
    text = own_view_text(project, UNSAFE["f-string through a name"])
    (project / OWN_VIEW).write_text(text, encoding="utf-8")
    line = text.splitlines().index(next(x for x in text.splitlines() if "<-" in x)) + 1

    returncode, findings = sql_findings(project)

    assert returncode == 1
    assert [(path, message.split(":")[0]) for _, path, message in findings] == [
        (OWN_VIEW, f"line {line}")
    ]


@pytest.mark.usefixtures("restore")
def test_check_passes_an_own_view_with_parameterised_sql(project: Path) -> None:
    (project / OWN_VIEW).write_text(own_view_text(project, SAFE["qmark parameter"]))

    assert cli(project, "check").returncode == 0


@pytest.mark.usefixtures("restore")
def test_check_json_lists_each_place_as_a_problem(project: Path) -> None:
    text = module_text(UNSAFE["a helper that receives filters, two places"])
    (project / "data.py").write_text(text, encoding="utf-8")

    result = cli(project, "check", "--json")

    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert document["ok"] is False
    problems = [p for p in document["problems"] if p["code"] == CODE]
    assert [p["path"] for p in problems] == ["data.py", "data.py"]
    assert [p["message"].split(":")[0] for p in problems] == [
        f"line {n}" for n in marked_lines(text)
    ]
    assert not any(n["code"] == CODE for n in document["notes"])


def test_the_generated_demo_passes(project: Path, tmp_path: Path) -> None:
    demo = generate(tmp_path / "demo", make_spec())

    assert cli(project, "check").stdout.startswith("check passed")
    assert cli(demo, "check").stdout.startswith("check passed")


@pytest.mark.parametrize("name", sorted(p.name for p in GOLDEN.iterdir() if p.is_dir()))
def test_the_golden_projects_have_no_sql_from_filters(name: str) -> None:
    modules = sorted((GOLDEN / name).glob("*.py")) + sorted((GOLDEN / name).glob("views/*.py"))
    assert modules
    assert {m.name: scan_sql(m.read_text(encoding="utf-8")) for m in modules} == {
        m.name: [] for m in modules
    }


def test_a_module_that_does_not_parse_is_left_to_the_linters() -> None:
    assert scan_sql("def expensive_query(filters):\n    return f'SELECT {filters[\n") == []
