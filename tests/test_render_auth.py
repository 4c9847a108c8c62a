"""What render writes for users and scopes: ruff-clean code that takes what its scope passes."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from dashsignal_cli.render import render
from dashsignal_cli.spec import spec_from_data

VIEWS = [
    {"id": "sales", "kind": "graph"},
    {"id": "rows", "kind": "table"},
    {"id": "plan", "kind": "graph", "source": "own"},
    {"id": "goal", "kind": "indicator", "source": "own"},
    {"id": "feed", "kind": "table", "source": "live"},
]
FILTERS = [
    {"id": "year", "kind": "range", "min": 2019, "max": 2025},
    {"id": "region", "kind": "dropdown", "options": ["North", "South"]},
]
# (name, [app] keys, [data] source): every mode, every scope, both kinds of data.py.
CASES = [
    ("basic_user", {"auth": "basic", "scope": "user"}, "duckdb"),
    ("proxy_session", {"auth": "proxy", "scope": "session"}, "sql"),
    ("custom_shared", {"auth": "custom"}, "pandas"),
    ("none_session", {"scope": "session"}, "pandas"),
    ("basic_user_pandas", {"auth": "basic", "scope": "user"}, "pandas"),
]


def files_of(app: dict[str, str], source: str, filters: list[dict[str, object]] = FILTERS):
    data = {
        "app": {"name": "shop", **app},
        "data": {"source": source},
        "filters": filters,
        "views": VIEWS,
    }
    return {path: item.text for path, item in render(spec_from_data(data)).items()}


def parameters(text: str, name: str) -> list[str]:
    [function] = [
        node
        for node in ast.parse(text).body
        if isinstance(node, ast.FunctionDef) and node.name == name
    ]
    return [f"{a.arg}: {ast.unparse(a.annotation)}" for a in function.args.args if a.annotation]


@pytest.mark.parametrize(("name", "app", "source"), CASES, ids=[c[0] for c in CASES])
def test_each_computation_takes_what_its_scope_passes(
    name: str, app: dict[str, str], source: str
) -> None:
    files = files_of(app, source)
    second = {"user": ["user: User"], "session": ["session: Session"]}.get(app.get("scope", ""), [])
    assert parameters(files["data.py"], "expensive_query") == ["filters: dict[str, Any]", *second]
    for view in ("plan", "goal", "feed"):
        assert parameters(files[f"views/{view}.py"], "compute") == [
            "filters: dict[str, Any]",
            *second,
        ]
    computations = files["signaling/computations.py"]
    assert computations.count(f'scope="{app.get("scope")}"') == (4 if "scope" in app else 0)
    assert ("auth=AUTH" in computations) == ("auth" in app)
    assert ("auth.py" in files) == ("auth" in app)


def test_the_demo_rule_restricts_rows_by_the_first_choice_filter_or_says_it_cannot() -> None:
    sql = files_of({"auth": "basic", "scope": "user"}, "duckdb")["data.py"]
    assert "AND region = :region" in sql
    assert 'mine = {"region": user.get("region")}' in sql
    pandas = files_of({"auth": "basic", "scope": "user"}, "pandas")["data.py"]
    assert 'frame[frame["region"] == user.get("region")]' in pandas
    unrestricted = files_of({"auth": "basic", "scope": "user"}, "duckdb", FILTERS[:1])["data.py"]
    assert ":region" not in unrestricted and "every user sees every row" in unrestricted


def test_the_generated_code_of_every_case_is_ruff_clean(tmp_path: Path) -> None:
    for name, app, source in CASES:
        for path, text in files_of(app, source).items():
            target = tmp_path / name / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    for command in (["check"], ["format", "--check"]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *command, "--no-cache", "."],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
