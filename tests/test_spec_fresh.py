"""Fresh data in the generator: `[cache] version_check`, data.py's data_version() probe of the SQL
sources, signaling/__main__.py (python -m signaling invalidate | warm) and signaling.invalidate."""

from __future__ import annotations

import ast
import copy
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from dashsignal_cli.answers import NewProject
from dashsignal_cli.errors import SpecError
from dashsignal_cli.render import Owner, render
from dashsignal_cli.spec import CacheSpec, Spec, spec_from_data
from dashsignal_cli.specfile import dump_spec, parse_spec_text

from project_helpers import generate

BASE: dict[str, Any] = {
    "app": {"name": "shop", "title": "Shop"},
    "cache": {"backend": "filesystem"},
    "filters": [{"id": "region", "kind": "dropdown", "options": ["North", "South"]}],
    "views": [{"id": "sales", "kind": "graph"}],
}
MESSAGE = "cache.version_check: must be a whole number of seconds from 1 to 86400, got "


def with_version_check(value: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data["cache"]["version_check"] = value
    return data


def new_spec(data: str, **flags: Any) -> Spec:
    return NewProject.from_flags("shop", data=data, **flags).spec()


def function(text: str, name: str) -> ast.FunctionDef | None:
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    return None


# --- [cache] version_check ------------------------------------------------------------------


def test_version_check_defaults_to_30_seconds() -> None:
    assert spec_from_data(BASE).cache.version_check == 30 == CacheSpec().version_check


@pytest.mark.parametrize("seconds", [1, 5, 30, 3600, 86400])
def test_a_whole_number_of_seconds_from_1_to_a_day_is_a_version_check(seconds: int) -> None:
    assert spec_from_data(with_version_check(seconds)).cache.version_check == seconds


@pytest.mark.parametrize("value", [0, -1, 86401, 1.5, 30.0, True, False, "30", [30]])
def test_anything_else_is_refused_in_one_line(value: Any) -> None:
    with pytest.raises(SpecError) as raised:
        spec_from_data(with_version_check(value))
    assert str(raised.value) == f"{MESSAGE}{value!r}"
    assert "\n" not in str(raised.value)


def test_the_spec_file_leaves_out_the_default_version_check() -> None:
    # A spec from before version_check is written as it was: no new line in anyone's file.
    spec = spec_from_data(BASE)
    text = dump_spec(spec)
    assert "version_check" not in text
    assert parse_spec_text(text) == spec


@pytest.mark.parametrize("seconds", [1, 45, 86400])
def test_a_version_check_of_its_own_round_trips_through_the_spec_file(seconds: int) -> None:
    spec = spec_from_data(with_version_check(seconds))
    text = dump_spec(spec)
    line = next(line for line in text.splitlines() if line.startswith("version_check"))
    assert line.startswith(f"version_check = {seconds} # ")
    # In [cache], after the keys every spec has.
    cache = text.split("[cache]\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert cache[-1] == line
    assert parse_spec_text(text) == spec


@pytest.mark.parametrize("seconds", [30, 45])
def test_settings_always_pass_version_check_to_the_runtime(seconds: int) -> None:
    spec = replace(new_spec("duckdb"), cache=CacheSpec(version_check=seconds))
    settings = render(spec)["signaling/settings.py"].text
    assert f"    version_check={seconds},\n" in settings


# --- data.py's probe ------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["duckdb", "sql"])
def test_the_sql_sources_data_py_has_a_version_probe(source: str) -> None:
    text = render(new_spec(source))["data.py"].text
    probe = function(text, "data_version")
    assert probe is not None
    assert probe.args.args == [] and probe.args.vararg is None and probe.args.kwarg is None
    docstring = ast.get_docstring(probe) or ""
    assert "version_check" in docstring and "updated_at" in docstring
    assert "DATABASE.read(VERSION_QUERY)" in ast.unparse(probe)
    assert "count(*)" in text and "FROM sales\n" in text.split("VERSION_QUERY =", 1)[1]


def test_the_probe_reads_the_spec_s_table() -> None:
    spec = new_spec("sql")
    spec = replace(spec, data=replace(spec.data, table="orders"))
    version_query = render(spec)["data.py"].text.split("VERSION_QUERY =", 1)[1]
    assert "FROM orders\n" in version_query


def test_the_probe_sums_the_demo_s_amounts_whatever_their_name() -> None:
    # A filter on a column named amount takes the name: the demo's amounts become amount_value.
    spec = new_spec("sql", filters=["amount:dropdown=a,b"])
    version_query = render(spec)["data.py"].text.split("VERSION_QUERY =", 1)[1]
    assert "round(amount_value * 100)" in version_query


@pytest.mark.parametrize("source", ["pandas"])
def test_a_source_made_in_memory_has_no_probe(source: str) -> None:
    text = render(new_spec(source))["data.py"].text
    assert function(text, "data_version") is None and "VERSION_QUERY" not in text


def test_the_demo_probe_returns_plain_numbers_that_see_the_amounts(tmp_path: Path) -> None:
    # SQLite turns a text column's values into 0 in a sum: a probe of the wrong column would
    # still run, so the numbers themselves are checked.
    project = generate(tmp_path / "shop", new_spec("sql", filters=["amount:dropdown=a,b"]))
    done = subprocess.run(
        [sys.executable, "-c", "import data; v = data.data_version(); print(repr(v))"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    version = ast.literal_eval(done.stdout.strip())
    assert type(version) is tuple and all(type(n) is int for n in version)
    rows, cents = version
    assert rows > 0 and cents > rows


# --- the commands and invalidate() ----------------------------------------------------------


@pytest.mark.parametrize("source", ["duckdb", "pandas"])
def test_signaling_main_is_a_managed_thin_call_of_the_runtime(source: str) -> None:
    generated = render(new_spec(source))["signaling/__main__.py"]
    assert generated.owner is Owner.MANAGED
    module = ast.parse(generated.text)
    docstring = ast.get_docstring(module) or ""
    for command in ("python -m signaling invalidate", "warm", "warm --all", "--limit"):
        assert command in docstring
    code = [ast.unparse(node) for node in module.body[1:]]
    assert code == [
        "from dashsignal.manage import main",
        "from signaling import create_app",
        "if __name__ == '__main__':\n    raise SystemExit(main(create_app))",
    ]


def test_signaling_exports_invalidate_for_etl_jobs() -> None:
    text = render(new_spec("duckdb"))["signaling/__init__.py"].text
    module = ast.parse(text)
    exported = next(
        node.value
        for node in module.body
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "__all__"
    )
    assert "invalidate" in ast.literal_eval(exported)
    invalidate = function(text, "invalidate")
    assert invalidate is not None and invalidate.args.args == []
    assert invalidate.returns is not None and ast.unparse(invalidate.returns) == "None"
    assert ast.get_docstring(invalidate)
    assert ast.unparse(invalidate.body[-1]) == "SIGNALING.invalidate(create_app())"


@pytest.mark.parametrize("source", ["duckdb", "pandas"])
def test_the_project_readme_explains_fresh_data(source: str) -> None:
    readme = render(new_spec(source))["README.md"].text
    section = readme.split("## Fresh data\n", 1)[1].split("\n## ", 1)[0]
    for words in (
        "data_version()",
        "version_check",
        "python -m signaling invalidate",
        "from signaling import invalidate",
        "python -m signaling warm",
        "--all",
    ):
        assert words in section
