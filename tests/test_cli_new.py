"""`dashsignal new` as a user runs it: a real subprocess, stdin not a terminal, no colour.

Organised by behaviour: what each flag produces, what happens when a prompt would be needed,
how bad input is refused (one clean error, nothing written), how hostile free text is carried
into generated code, and that a failing write leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
import errno
import pathlib
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import dashsignal_cli
from dashsignal_cli.answers import (
    DEFAULT_FILTERS,
    DEFAULT_VIEWS,
    build_spec_data,
    parse_filter_arg,
    parse_view_arg,
)
from dashsignal_cli.errors import WriteError
from dashsignal_cli.spec import MAX_TIMEOUT, spec_from_data
from dashsignal_cli.sync import new_project_files
from dashsignal_cli.writer import create_project

from cli_helpers import (
    assert_clean_error,
    cache_settings,
    compile_python_files,
    generated_filters,
    load_toml,
    module_constant,
    render_return_annotation,
    run_cli,
    top_level_functions,
    tree_snapshot,
)

NAME = "proj"
CACHE_CLASSES = {
    "filesystem": "FileSystemCache",
    "redis": "RedisCache",
    "simple": "SimpleCache",
    "null": "NullCache",
}
PROMPTED_FLAGS = ("--view", "--filter", "--cache", "--timeout", "--title")
# Every prompted flag given: `new` must run without --yes and without a terminal.
ALL_PROMPTED = (
    "--view",
    "chart:graph",
    "--view",
    "rows:table",
    "--filter",
    "region:radio=North,South",
    "--cache",
    "null",
    "--timeout",
    "0",
    "--title",
    "Given title",
)


def new(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `dashsignal new` in tmp_path."""
    return run_cli("new", *args, cwd=tmp_path)


def new_ok(tmp_path: Path, *args: str, name: str = NAME) -> Path:
    """Run `dashsignal new NAME ARGS`, expect success, return the project folder."""
    result = new(tmp_path, name, *args)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    project = tmp_path / name
    assert (project / "dashsignal.toml").is_file()
    return project


Generated = Callable[..., Path]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    """`dashsignal new NAME ARGS`, run once per distinct ARGS for tests that only read it."""
    made: dict[tuple[str, ...], Path] = {}

    def make(*args: str) -> Path:
        if args not in made:
            made[args] = new_ok(tmp_path_factory.mktemp("new"), *args)
        return made[args]

    return make


# --- --yes alone: the full demo -------------------------------------------------------------


@pytest.mark.parametrize("yes", ["--yes", "-y"])
def test_yes_alone_generates_the_demo_spec(tmp_path: Path, yes: str) -> None:
    spec = load_toml(new_ok(tmp_path, yes))

    kinds = [view["kind"] for view in spec["views"]]
    assert len(spec["filters"]) >= 2
    assert kinds.count("graph") >= 2
    assert "table" in kinds
    assert spec["cache"] == {
        "backend": "filesystem",
        "timeout": 300,
        "lock_timeout": 20,
        "new_per_minute": 240,
    }
    assert spec["app"] == {"name": NAME, "title": "Proj", "pattern": "signal", "background": False}


def test_yes_alone_writes_a_compilable_project_and_reports_it(tmp_path: Path) -> None:
    result = new(tmp_path, NAME, "--yes")
    project = tmp_path / NAME

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.startswith(f"created {NAME}/")
    assert len(compile_python_files(project)) > 10
    assert (project / ".dashsignal" / "manifest.json").is_file()
    for view in load_toml(project)["views"]:
        assert (project / "views" / f"{view['id']}.py").is_file()
    # Only the project folder: no staging folder left beside it.
    assert [p.name for p in tmp_path.iterdir()] == [NAME]


# --- --view ---------------------------------------------------------------------------------

RENDER_RETURNS = {"graph": "Figure", "table": "pd.DataFrame", "indicator": "str"}


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["a"], [("a", "graph", "A")]),
        (["a:graph"], [("a", "graph", "A")]),
        (["rows_2024:table"], [("rows_2024", "table", "Rows 2024")]),
        (["kpi:indicator"], [("kpi", "indicator", "Kpi")]),
        (
            ["first", "second:table", "third:indicator", "fourth:graph"],
            [
                ("first", "graph", "First"),
                ("second", "table", "Second"),
                ("third", "indicator", "Third"),
                ("fourth", "graph", "Fourth"),
            ],
        ),
        (
            ["sales", "rows:table"],
            [("sales", "graph", "Sales by month"), ("rows", "table", "Matching rows")],
        ),
    ],
    ids=["default-kind", "graph", "table", "indicator", "repeated-in-order", "demo-titles"],
)
def test_view_flags_create_exactly_those_views(
    tmp_path: Path, flags: list[str], expected: list[tuple[str, str, str]]
) -> None:
    args = [part for flag in flags for part in ("--view", flag)]
    project = new_ok(tmp_path, *args, "--yes")

    assert [(v["id"], v["kind"], v["title"]) for v in load_toml(project)["views"]] == expected
    view_files = {p.name for p in (project / "views").glob("*.py")}
    assert view_files == {"__init__.py"} | {f"{view_id}.py" for view_id, _, _ in expected}
    for view_id, kind, _ in expected:
        view_file = project / "views" / f"{view_id}.py"
        assert render_return_annotation(view_file) == RENDER_RETURNS[kind]
    compile_python_files(project)


# --- --view ...@SOURCE, --stage, --pattern --------------------------------------------------

# --view FLAG (with the stage `daily` declared) -> the [[views]] table it must produce.
SOURCE_CASES: dict[str, dict[str, Any]] = {
    "plain@query": {"id": "plain", "kind": "graph", "title": "Plain"},
    "trend:graph@daily": {"id": "trend", "kind": "graph", "title": "Trend", "source": "daily"},
    "by_day:table@daily": {"id": "by_day", "kind": "table", "title": "By day", "source": "daily"},
    "forecast@own": {"id": "forecast", "kind": "graph", "title": "Forecast", "source": "own"},
    "ticker:indicator@live": {
        "id": "ticker",
        "kind": "indicator",
        "title": "Ticker",
        "source": "live",
        "interval": 5,
    },
    "ticker:indicator@live/10": {
        "id": "ticker",
        "kind": "indicator",
        "title": "Ticker",
        "source": "live",
        "interval": 10,
    },
    "pulse@live/0.5": {
        "id": "pulse",
        "kind": "graph",
        "title": "Pulse",
        "source": "live",
        "interval": 0.5,
    },
}


@pytest.mark.parametrize(("flag", "expected"), SOURCE_CASES.items(), ids=list(SOURCE_CASES))
def test_view_source_syntax_reaches_the_spec(
    generated: Generated, flag: str, expected: dict[str, Any]
) -> None:
    project = generated("--stage", "daily", "--view", flag, "--yes")

    [written] = load_toml(project)["views"]
    assert written == expected
    functions = top_level_functions(project / "views" / f"{expected['id']}.py")
    assert "render" in functions
    assert ("compute" in functions) == (expected.get("source") in ("own", "live"))
    compile_python_files(project)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["daily"], [("daily", "query", "Daily")]),
        (["daily:query"], [("daily", "query", "Daily")]),
        (
            ["weekly:daily", "daily", "monthly:weekly"],
            [
                ("weekly", "daily", "Weekly"),
                ("daily", "query", "Daily"),
                ("monthly", "weekly", "Monthly"),
            ],
        ),
    ],
    ids=["default-source", "explicit-query", "declared-child-first"],
)
def test_stage_flags_create_exactly_those_stages(
    tmp_path: Path, flags: list[str], expected: list[tuple[str, str, str]]
) -> None:
    args = [part for flag in flags for part in ("--stage", flag)]
    project = new_ok(tmp_path, *args, "--view", f"v@{expected[-1][0]}", "--yes")

    stages = load_toml(project)["stages"]
    assert [(s["id"], s["source"], s["title"]) for s in stages] == expected
    assert {p.name for p in (project / "stages").glob("*.py")} == {"__init__.py"} | {
        f"{stage_id}.py" for stage_id, _, _ in expected
    }
    for stage_id, _, _ in expected:
        assert "derive" in top_level_functions(project / "stages" / f"{stage_id}.py")
    compile_python_files(project)


def test_no_stage_flag_writes_no_stages(generated: Generated) -> None:
    project = generated("--yes")

    assert "stages" not in load_toml(project)
    assert not (project / "stages").exists()


@pytest.mark.parametrize("pattern", ["signal", "memoize"])
def test_pattern_flag_reaches_the_spec(generated: Generated, pattern: str) -> None:
    project = generated("--pattern", pattern, "--yes")

    assert load_toml(project)["app"]["pattern"] == pattern
    compile_python_files(project)


def test_background_with_the_signal_pattern_is_accepted(generated: Generated) -> None:
    project = generated("--pattern", "signal", "--background", "--yes")

    assert load_toml(project)["app"] == {
        "name": NAME,
        "title": "Proj",
        "pattern": "signal",
        "background": True,
    }


# --- --filter -------------------------------------------------------------------------------

D = dt.date
ALPHA = ["Alpha", "Beta", "Gamma", "Delta"]
# --filter FLAG -> the [[filters]] table it must produce, besides its id and label.
FILTER_CASES: dict[str, dict[str, Any]] = {
    "region:dropdown=North,South": {"kind": "dropdown", "options": ["North", "South"]},
    "region": {"kind": "dropdown", "options": ["North", "South", "East", "West"]},
    "city=Paris,Rome": {"kind": "dropdown", "options": ["Paris", "Rome"]},
    "region:dropdown": {"kind": "dropdown", "options": ["North", "South", "East", "West"]},
    "mixed:dropdown= 1, two ,-3": {"kind": "dropdown", "options": [1, "two", -3]},
    "product:multi=Basic,Pro": {"kind": "multi", "options": ["Basic", "Pro"], "default": []},
    "product:multi": {"kind": "multi", "options": ["Basic", "Plus", "Pro"], "default": []},
    "segment:checklist=a,b": {"kind": "checklist", "options": ["a", "b"], "default": ["a", "b"]},
    "flags:checklist": {"kind": "checklist", "options": ALPHA, "default": ALPHA},
    "y:radio=2023,2024": {"kind": "radio", "options": [2023, 2024], "default": 2023},
    "mode:radio": {"kind": "radio", "options": ALPHA, "default": "Alpha"},
    "year:range=2019..2025": {
        "kind": "range",
        "min": 2019,
        "max": 2025,
        "step": 1,
        "default": [2019, 2025],
    },
    "year:range": {"kind": "range", "min": 2019, "max": 2025, "step": 1, "default": [2019, 2025]},
    "score:range": {"kind": "range", "min": 0, "max": 100, "step": 1, "default": [0, 100]},
    "temp:range=-10..10": {"kind": "range", "min": -10, "max": 10, "step": 1, "default": [-10, 10]},
    "ratio:range=0.5..2.5": {
        "kind": "range",
        "min": 0.5,
        "max": 2.5,
        "step": pytest.approx(0.02),
        "default": [0.5, 2.5],
    },
    "period:dates=2025-01-01..2025-06-30": {
        "kind": "dates",
        "min": D(2025, 1, 1),
        "max": D(2025, 6, 30),
        "default": [D(2025, 1, 1), D(2025, 6, 30)],
    },
    "period:dates": {
        "kind": "dates",
        "min": D(2025, 1, 1),
        "max": D(2025, 12, 31),
        "default": [D(2025, 1, 1), D(2025, 12, 31)],
    },
}


@pytest.mark.parametrize(("flag", "expected"), FILTER_CASES.items(), ids=list(FILTER_CASES))
def test_filter_flag_kind_and_values_reach_the_spec(
    generated: Generated, flag: str, expected: dict[str, Any]
) -> None:
    filter_id = flag.partition("=")[0].partition(":")[0]
    project = generated("--filter", flag, "--yes")

    [written] = load_toml(project)["filters"]
    label = filter_id[:1].upper() + filter_id[1:]
    assert written == {"id": filter_id, "label": label, **expected}


@pytest.mark.parametrize("flag", list(FILTER_CASES))
def test_filter_flag_reaches_the_generated_filters_module(generated: Generated, flag: str) -> None:
    project = generated("--filter", flag, "--yes")
    [spec] = load_toml(project)["filters"]

    code = generated_filters(project)[spec["id"]]
    assert code["kind"] == spec["kind"]
    if "options" in spec:
        assert code["options"] == tuple(spec["options"])
    else:
        # Dates are written into Python as ISO strings, the form they have in the browser.
        plain = [v.isoformat() if isinstance(v, dt.date) else v for v in (spec["min"], spec["max"])]
        assert [code["min"], code["max"]] == plain
    compile_python_files(project)


def test_repeated_filter_flags_keep_their_order(tmp_path: Path) -> None:
    flags = ["b:radio=1,2", "a:range=1..9", "c:dates", "d"]
    args = [part for flag in flags for part in ("--filter", flag)]
    project = new_ok(tmp_path, *args, "--yes")

    assert [f["id"] for f in load_toml(project)["filters"]] == ["b", "a", "c", "d"]
    assert list(generated_filters(project)) == ["b", "a", "c", "d"]


# --- --cache, --timeout, --title ------------------------------------------------------------


@pytest.mark.parametrize("backend", list(CACHE_CLASSES))
def test_cache_flag_selects_the_flask_caching_backend(tmp_path: Path, backend: str) -> None:
    from dashsignal import CacheSettings, Computations
    from dashsignal.cache import DataCache

    project = new_ok(tmp_path, "--cache", backend, "--yes")

    assert load_toml(project)["cache"]["backend"] == backend
    declared = cache_settings(project)
    assert declared["backend"] == backend
    # The runtime maps it to flask-caching's class itself, or (filesystem, redis) a subclass that
    # reads entries strictly; class names, as flask-caching 2.5 requires.
    config = DataCache(CacheSettings("x", "1", backend=backend), Computations()).config()
    base = CACHE_CLASSES[backend]
    named = config["CACHE_TYPE"]
    assert named == base or issubclass(_class_named(named), _class_named(base))
    compile_python_files(project)


def _class_named(name: str) -> type:
    import importlib

    module, _, attribute = name.rpartition(".")
    found: type = getattr(importlib.import_module(module or "flask_caching.backends"), attribute)
    return found


@pytest.mark.parametrize("seconds", [0, 1, 60, 86_400, MAX_TIMEOUT])
def test_timeout_flag_sets_the_cache_timeout(tmp_path: Path, seconds: int) -> None:
    project = new_ok(tmp_path, "--timeout", str(seconds), "--yes")

    assert load_toml(project)["cache"]["timeout"] == seconds
    assert cache_settings(project)["timeout"] == seconds


@pytest.mark.parametrize(
    ("name", "title_args", "expected"),
    [
        ("proj", ["--title", "Sales overview"], "Sales overview"),
        ("sales_dashboard", [], "Sales dashboard"),
        ("_private_app", [], "Private app"),
    ],
    ids=["given", "from-name", "from-name-underscores"],
)
def test_title_comes_from_the_flag_or_the_name(
    tmp_path: Path, name: str, title_args: list[str], expected: str
) -> None:
    project = new_ok(tmp_path, *title_args, "--yes", name=name)

    assert load_toml(project)["app"] == {
        "name": name,
        "title": expected,
        "pattern": "signal",
        "background": False,
    }
    assert module_constant(project / "signaling" / "settings.py", "TITLE") == expected


# --- -C / --directory -----------------------------------------------------------------------


@pytest.mark.parametrize("option", ["-C", "--directory"])
@pytest.mark.parametrize("absolute", [False, True], ids=["relative", "absolute"])
def test_directory_flag_chooses_where_the_project_goes(
    tmp_path: Path, option: str, absolute: bool
) -> None:
    parent = tmp_path / "out" / "deeper"
    parent.mkdir(parents=True)
    where = str(parent) if absolute else "out/deeper"

    result = new(tmp_path, NAME, option, where, "--yes")

    assert result.returncode == 0, result.stderr
    assert load_toml(parent / NAME)["app"]["name"] == NAME
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert [p.name for p in parent.iterdir()] == [NAME]
    assert f"created {Path(where) / NAME}/" in result.stdout


# --- --version and --help -------------------------------------------------------------------


def test_version_prints_the_package_version(tmp_path: Path) -> None:
    result = run_cli("--version", cwd=tmp_path)

    assert result.returncode == 0
    assert result.stdout == f"dashsignal {dashsignal_cli.__version__}\n"
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("command", "option"),
    [(["--help"], option) for option in ("--version", "--help", "new")]
    + [
        (["new", "--help"], option)
        for option in (
            "--view",
            "--stage",
            "--pattern",
            "--filter",
            "--cache",
            "--timeout",
            "--title",
            "--yes",
            "-y",
            "--directory",
            "-C",
            "--help",
        )
    ],
    ids=lambda value: value if isinstance(value, str) else " ".join(value),
)
def test_help_exits_0_and_mentions_every_option(
    tmp_path: Path, command: list[str], option: str
) -> None:
    result = run_cli(*command, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert option in result.stdout.split()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("option", "default"),
    [("--timeout", "Default: 300."), ("--title", "Default: from NAME.")],
)
def test_new_help_shows_the_documented_defaults(tmp_path: Path, option: str, default: str) -> None:
    result = run_cli("new", "--help", cwd=tmp_path)

    [line] = [line for line in result.stdout.splitlines() if f" {option} " in line]
    assert default in line


# --- stdin is not a terminal ----------------------------------------------------------------


@pytest.mark.parametrize(
    "given",
    [
        [],
        ["--view", "a"],
        ["--title", "T", "--cache", "simple"],
        ["--view", "a", "--filter", "f", "--cache", "redis", "--timeout", "5"],
        ["--filter", "f", "--cache", "redis", "--timeout", "5", "--title", "T"],
    ],
    ids=["nothing", "view", "title+cache", "all-but-title", "all-but-view"],
)
def test_prompt_needed_without_terminal_fails_naming_the_flags(
    tmp_path: Path, given: list[str]
) -> None:
    result = new(tmp_path, NAME, *given)

    error = assert_clean_error(result)
    missing = [flag for flag in PROMPTED_FLAGS if flag not in given]
    for flag in missing:
        assert flag in error
    for flag in set(PROMPTED_FLAGS) - set(missing):
        assert flag not in error
    assert "--yes" in result.stderr
    assert "--pattern" not in result.stderr
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "given", [[], ["--yes"], ALL_PROMPTED], ids=["nothing", "yes", "every-prompted-flag"]
)
def test_a_missing_name_without_terminal_is_one_line_naming_it(
    tmp_path: Path, given: list[str]
) -> None:
    result = new(tmp_path, *given)

    assert result.returncode == 2
    error = assert_clean_error(result)
    assert error.startswith("error: missing argument NAME")
    assert "dashsignal new NAME" in result.stderr
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_every_prompted_flag_given_needs_no_terminal_and_no_yes(tmp_path: Path) -> None:
    result = new(tmp_path, NAME, *ALL_PROMPTED)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "New dashsignal project" not in result.stdout
    spec = load_toml(tmp_path / NAME)
    assert spec["app"]["title"] == "Given title"
    assert spec["app"]["pattern"] == "signal"  # has a default; asked only in a prompted session
    assert spec["cache"] == {
        "backend": "null",
        "timeout": 0,
        "lock_timeout": 20,
        "new_per_minute": 240,
    }
    assert [(v["id"], v["kind"]) for v in spec["views"]] == [("chart", "graph"), ("rows", "table")]
    assert [(f["id"], f["kind"], f["options"]) for f in spec["filters"]] == [
        ("region", "radio", ["North", "South"])
    ]


# --- bad input: one clean error, nothing written --------------------------------------------

BAD_NAMES = [
    ("", "empty"),
    ("   ", "empty"),
    ("a/b", "path separator"),
    ("a\\b", "path separator"),
    ("..", "dot"),
    (".", "dot"),
    (".hidden", "dot"),
    ("/abs/path", "absolute path"),
    ("C:proj", "absolute path"),
    ("class", "keyword"),
    ("match", "keyword"),
    ("1app", "digit"),
    ("my-app", "not a valid identifier"),
    ("my app", "not a valid identifier"),
]

BAD_FLAGS = [
    (["--view", "a", "--view", "a"], "duplicate id 'a'"),
    (["--view", "region", "--filter", "region"], "duplicate id 'region'"),
    (["--view", "Sales", "--view", "sales"], "duplicate id 'sales'"),
    (["--view", "Region", "--filter", "region"], "duplicate id"),
    (["--filter", "f", "--filter", "F"], "duplicate id 'F'"),
    (["--view", "2x"], "not a valid identifier"),
    (["--view", "a-b"], "not a valid identifier"),
    (["--view", ""], "non-empty"),
    (["--view", "class"], "keyword"),
    (["--filter", "x y"], "not a valid identifier"),
    (["--filter", "2x:range"], "not a valid identifier"),
    (["--view", "a:chart"], "unknown view kind 'chart'"),
    (["--view", "a:Graph"], "unknown view kind 'Graph'"),
    (["--filter", "f:slider"], "unknown filter kind 'slider'"),
    (["--cache", "memcached"], "unknown cache backend 'memcached'"),
    (["--cache", "Redis"], "unknown cache backend 'Redis'"),
    (["--filter", "year:range=5..1"], "less than max"),
    (["--filter", "year:range=3..3"], "less than max"),
    (["--filter", "year:range=abc"], "MIN..MAX"),
    (["--filter", "year:range=1..2..3"], "MIN..MAX"),
    (["--filter", "year:range=1.."], "MIN..MAX"),
    (["--filter", "d:dates=2025-13-01..2025-12-31"], "FROM..TO"),
    (["--filter", "d:dates=2025-02-30..2025-12-31"], "FROM..TO"),
    (["--filter", "d:dates=2025-12-31..2025-01-01"], "before max"),
    (["--filter", "d:dates=yesterday..today"], "FROM..TO"),
    (["--filter", "r:dropdown=a,,b"], "empty option"),
    (["--filter", "r:dropdown="], "empty option"),
    (["--filter", "r:dropdown=a,a"], "duplicate option 'a'"),
    (["--filter", "r:radio=1,01"], "duplicate option 1"),
    (["--timeout", "-1"], "cache.timeout"),
    (["--timeout", str(MAX_TIMEOUT + 1)], "cache.timeout"),
    (["--title", "   "], "must not be empty"),
    (["-C", "missing"], "is not a directory"),
    # sources, stages and the pattern
    (["--view", "a@daily"], "view 'a': unknown source 'daily'; allowed: query, own, live"),
    (
        ["--stage", "daily", "--view", "a@Daily"],
        "unknown source 'Daily'; allowed: query, own, live, daily",
    ),
    (["--view", "a@"], "no source after '@'"),
    (["--view", "a:table@own/5"], "only a live view refreshes on an interval"),
    (["--view", "a@query/5"], "only a live view refreshes on an interval"),
    (["--view", "a@live/"], "interval '' is not a number of seconds"),
    (["--view", "a@live/ten"], "interval 'ten' is not a number of seconds"),
    (["--view", "a@live/-1"], "interval '-1' is not a number of seconds"),
    (["--view", "a@live/0.4"], "an interval of 0.4 s is out of range: from 0.5 to 86400"),
    (["--view", "a@live/86401"], "out of range"),
    (["--view", "a@live/nan"], "not a number of seconds"),
    (["--view", "a:pie@own"], "unknown view kind 'pie'"),
    (["--view", "a:2@own"], "unknown view kind '2'"),
    (["--stage", "daily:weekly"], "stage 'daily': unknown source 'weekly'; allowed: query"),
    (["--stage", "daily:daily"], "stages: cycle daily -> daily"),
    (["--stage", "a:b", "--stage", "b:a"], "stages: cycle a -> b -> a"),
    (["--stage", "a:c", "--stage", "b:a", "--stage", "c:b"], "stages: cycle a -> c -> b -> a"),
    (["--stage", "a:"], "stage 'a:': no source after ':'"),
    (["--stage", "query"], "the id 'query' is reserved"),
    (["--stage", "own"], "the id 'own' is reserved"),
    (["--stage", "live:query"], "the id 'live' is reserved"),
    (["--stage", "2x"], "not a valid identifier"),
    (["--stage", "daily", "--stage", "Daily"], "duplicate id 'Daily'"),
    (["--stage", "sales", "--view", "sales"], "duplicate id 'sales'"),
    (["--stage", "region", "--filter", "region"], "duplicate id 'region'"),
    (["--pattern", "memo"], "unknown pattern 'memo'; allowed: signal, memoize"),
    (["--pattern", "Signal"], "unknown pattern 'Signal'"),
    (["--pattern", "memoize", "--background"], "--background needs --pattern signal"),
]


def _bad_id(value: object) -> str:
    if isinstance(value, list):
        shown = (part if len(part) < 24 else part[:20] + "..." for part in value)
        return " ".join(shown) or "no-flags"
    return repr(value) if isinstance(value, str) and len(value) < 24 else ""


def _assert_refused(tmp_path: Path, args: list[str], fragment: str) -> None:
    before = tree_snapshot(tmp_path)
    result = new(tmp_path, *args)

    error = assert_clean_error(result)
    assert fragment in error
    assert tree_snapshot(tmp_path) == before


@pytest.mark.parametrize(("name", "fragment"), BAD_NAMES, ids=_bad_id)
def test_bad_project_name_is_refused_cleanly(tmp_path: Path, name: str, fragment: str) -> None:
    _assert_refused(tmp_path, [name, "--yes"], fragment)


@pytest.mark.parametrize(("args", "fragment"), BAD_FLAGS, ids=_bad_id)
def test_bad_flag_value_is_refused_cleanly(tmp_path: Path, args: list[str], fragment: str) -> None:
    _assert_refused(tmp_path, [NAME, *args, "--yes"], fragment)


# Errors that quote long user input, or are long themselves: each must stay one line (plus the
# hint) whatever the width of the terminal, since stderr is read by scripts and CI logs.
LONG_ERRORS = [
    ([], "cannot ask for --view, --filter, --cache, --timeout, --title"),
    (["--yes", "--filter", "r:multi=" + ",".join(map(str, range(501)))], "at most 500 options"),
    (["--yes", "--filter", "r:dropdown=" + "x" * 201], "at most 200 characters"),
    (["--yes", "--title", "x" * 201], "at most 200 characters"),
    (["--yes", "--view", "bad-" * 30], "not a valid identifier"),
]


@pytest.mark.parametrize("columns", ["40", "80", "200"])
@pytest.mark.parametrize(("args", "fragment"), LONG_ERRORS, ids=_bad_id)
def test_long_error_stays_on_one_line_at_any_width(
    tmp_path: Path, args: list[str], fragment: str, columns: str
) -> None:
    result = run_cli("new", NAME, *args, cwd=tmp_path, columns=columns)

    error = assert_clean_error(result)
    assert fragment in error
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "contents",
    [
        {"keep.txt": b"mine\n"},
        {".git/HEAD": b"ref: refs/heads/main\n"},
        {"app.py": b"print('mine')\n", "sub/dashsignal.toml": b"x = 1\n"},
    ],
    ids=["a-file", "only-hidden", "nested"],
)
def test_non_empty_target_is_refused_and_left_byte_identical(
    tmp_path: Path, contents: dict[str, bytes]
) -> None:
    for relative, data in contents.items():
        path = tmp_path / NAME / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    _assert_refused(tmp_path, [NAME, "--yes"], "is not empty")
    assert {
        p.relative_to(tmp_path / NAME).as_posix(): p.read_bytes()
        for p in (tmp_path / NAME).rglob("*")
        if p.is_file()
    } == contents


def test_target_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / NAME).write_bytes(b"not a folder\n")

    _assert_refused(tmp_path, [NAME, "--yes"], "is not a directory")
    assert (tmp_path / NAME).read_bytes() == b"not a folder\n"


@pytest.mark.parametrize(
    "args",
    [
        [NAME, "--timeout", "abc", "--yes"],
        [NAME, "--timeout", "1.5", "--yes"],
        [NAME, "--bogus", "--yes"],
        [NAME, "--yes", "--view"],
        ["--yes"],
        [NAME, "-C", "a_file", "--yes"],
    ],
    ids=_bad_id,
)
def test_argument_parsing_errors_exit_2_without_traceback_or_files(
    tmp_path: Path, args: list[str]
) -> None:
    (tmp_path / "a_file").write_text("x", encoding="utf-8")
    before = tree_snapshot(tmp_path)

    result = new(tmp_path, *args)

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip()
    assert tree_snapshot(tmp_path) == before


# --- hostile free text ----------------------------------------------------------------------

HOSTILE_TITLES = [
    'It\'s "quoted"',
    "Triple \"\"\" and ''' quotes",
    '"""',
    "'''",
    r"back\slash \n \\ \x41 \N{BULLET} not escapes",
    "ends with a backslash \\",
    "{{ 7*7 }}",
    "{% raw %}",
    "{% raw %}{{ 7*7 }}{% endraw %} {# not a comment #}",
    "{{ app.name }} ${HOME} %(x)s {0} f'{x}'",
    "é 数据 🚀",
    "first line\nsecond line",
    '"""\nimport os; os.system(\'echo pwned\')\n"""',
    "tab\there, carriage\rreturn",
    'Mix: "it\'s" \\ {{ 7*7 }} {% raw %} é 数据 🚀\n""" end',
]


@pytest.mark.parametrize("title", HOSTILE_TITLES, ids=ascii)
def test_hostile_title_is_carried_as_data(generated: Generated, title: str) -> None:
    project = generated("--title", title, "--yes")
    settings = project / "signaling" / "settings.py"

    compile_python_files(project)
    assert module_constant(settings, "TITLE") == title
    assert load_toml(project)["app"]["title"] == title
    readme_first_line = (project / "README.md").read_text(encoding="utf-8").splitlines()[0]
    assert readme_first_line == "# " + " ".join(title.split())


@pytest.mark.parametrize("title", [t for t in HOSTILE_TITLES if "{{ 7*7 }}" in t], ids=ascii)
def test_template_syntax_in_a_title_is_not_evaluated(generated: Generated, title: str) -> None:
    project = generated("--title", title, "--yes")

    value = module_constant(project / "signaling" / "settings.py", "TITLE")
    assert "{{ 7*7 }}" in value
    assert "49" not in value
    assert "{{ 7*7 }}" in (project / "signaling" / "settings.py").read_text(encoding="utf-8")


HOSTILE_OPTIONS = [
    "it's",
    'say "hi"',
    '"""',
    "'''",
    "back\\slash",
    "ends\\",
    "{{ 7*7 }}",
    "{% raw %}",
    "{# x #}",
    "a=b",
    "é 数据 🚀",
    "line\nbreak",
]


@pytest.mark.parametrize("kind", ["dropdown", "multi", "checklist", "radio"])
def test_hostile_filter_options_are_carried_as_data(tmp_path: Path, kind: str) -> None:
    flag = f"choice:{kind}=" + ",".join(HOSTILE_OPTIONS)
    project = new_ok(tmp_path, "--filter", flag, "--yes")

    compile_python_files(project)
    [spec] = load_toml(project)["filters"]
    assert spec["options"] == HOSTILE_OPTIONS
    code = generated_filters(project)["choice"]
    assert code["options"] == tuple(HOSTILE_OPTIONS)
    assert "49" not in code["options"]


# --- existing empty target ------------------------------------------------------------------


@pytest.mark.parametrize("via_directory", [False, True], ids=["cwd", "-C"])
def test_existing_empty_directory_is_accepted(tmp_path: Path, via_directory: bool) -> None:
    parent = tmp_path / "parent" if via_directory else tmp_path
    (parent / NAME).mkdir(parents=True)
    args = ["-C", "parent"] if via_directory else []

    result = new(tmp_path, NAME, *args, "--yes")

    assert result.returncode == 0, result.stderr
    assert load_toml(parent / NAME)["app"]["name"] == NAME
    assert [p.name for p in parent.iterdir()] == [NAME]


# --- atomicity: a write failing half-way leaves nothing -------------------------------------


def _demo_files() -> dict[str, Any]:
    spec = spec_from_data(
        build_spec_data(
            name=NAME,
            title=None,
            views=[parse_view_arg(v) for v in DEFAULT_VIEWS],
            filters=[parse_filter_arg(f) for f in DEFAULT_FILTERS],
            backend="filesystem",
            timeout=300,
        )
    )
    return new_project_files(spec)


def _fail_after(
    monkeypatch: pytest.MonkeyPatch, method: str, calls: int, error: BaseException
) -> list[int]:
    original = getattr(pathlib.Path, method)
    seen = [0]

    def failing(self: Path, *args: Any, **kwargs: Any) -> Any:
        seen[0] += 1
        if seen[0] > calls:
            raise error
        return original(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, method, failing)
    return seen


@pytest.mark.parametrize(
    ("method", "calls"),
    [("write_text", 0), ("write_text", 5), ("write_text", -1), ("rename", 0)],
    ids=["first-write", "sixth-write", "last-write", "final-rename"],
)
@pytest.mark.parametrize("target_exists", [False, True], ids=["absent", "empty-dir"])
def test_failing_write_raises_write_error_and_leaves_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    calls: int,
    target_exists: bool,
) -> None:
    files = _demo_files()
    target = tmp_path / NAME
    if target_exists:
        target.mkdir()
    calls = len(files) - 1 if calls < 0 else calls  # -1: let every write but the last succeed
    seen = _fail_after(monkeypatch, method, calls, OSError(errno.ENOSPC, "No space left"))

    with pytest.raises(WriteError, match="No space left"):
        create_project(target, files)

    monkeypatch.undo()
    assert seen[0] == calls + 1
    assert tree_snapshot(tmp_path) == ({NAME: None} if target_exists else {})


def test_interrupted_write_leaves_nothing_and_propagates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _demo_files()
    _fail_after(monkeypatch, "write_text", 5, KeyboardInterrupt())

    with pytest.raises(KeyboardInterrupt):
        create_project(tmp_path / NAME, files)

    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []
