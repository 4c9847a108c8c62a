"""Interactive `dashsignal new`, driven through a real pseudo-terminal."""

from __future__ import annotations

import datetime as dt
import io
import shlex
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pexpect
import pytest

TIMEOUT = 30


def spawn(tmp_path: Path, *args: str) -> pexpect.spawn:
    child = pexpect.spawn(
        sys.executable,
        ["-m", "dashsignal_cli", "new", *args],
        cwd=str(tmp_path),
        env={"NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "120", "PATH": "/usr/bin:/bin"},
        encoding="utf-8",
        timeout=TIMEOUT,
        dimensions=(40, 120),
        preexec_fn=_ctrl_c_interrupts,
    )
    return child


def _ctrl_c_interrupts() -> None:
    # As in a user's terminal. A test run started in the background by a non-interactive shell
    # ignores SIGINT, the child would inherit that, and Python then installs no KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def answer(child: pexpect.spawn, prompt: str, reply: str) -> None:
    child.expect_exact(prompt)
    child.sendline(reply)


def test_accepting_every_default_builds_the_demo(tmp_path: Path) -> None:
    child = spawn(tmp_path, "board")
    for prompt in (
        "Dashboard title",
        "Choose",  # the pattern
        "Views",
        "Filters",
        "Options of region",
        "Options of product",
        "Range of year",
        "Choose",
        "Cache timeout",
        "Create the project?",
    ):
        answer(child, prompt, "")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    spec = tomllib.loads((tmp_path / "board" / "dashsignal.toml").read_text())
    assert [v["id"] for v in spec["views"]] == ["sales", "share", "rows", "total"]
    assert [f["id"] for f in spec["filters"]] == ["region", "product", "year"]
    assert spec["cache"] == {
        "backend": "filesystem",
        "timeout": 300,
        "lock_timeout": 20,
        "new_per_minute": 240,
    }
    assert spec["app"]["pattern"] == "signal"
    assert "stages" not in spec


def test_bad_answers_are_explained_and_asked_again(tmp_path: Path) -> None:
    child = spawn(tmp_path, "board")
    answer(child, "Dashboard title", "Sales — 数据")
    child.expect_exact("Pattern:")
    child.expect_exact("1. signal")
    child.expect_exact("(default)")
    answer(child, "Choose", "3")
    child.expect_exact("choose a number from 1 to 2, or a name")
    answer(child, "Choose", "2")
    child.expect_exact("2. table")
    answer(child, "Views", "sales:pie")
    child.expect_exact("unknown view kind 'pie'")
    answer(child, "Views", "sales:graph sales:table")
    child.expect_exact("duplicate id 'sales'")
    answer(child, "Views", "sales:1 rows:2@daily")
    child.expect_exact("view 'rows': unknown source 'daily'")
    answer(child, "Views", "sales:1 rows:2 kpi:3@live/0.1")
    child.expect_exact("out of range")
    answer(child, "Views", "sales:1 rows:2")
    answer(child, "Filters", "region:slider")
    child.expect_exact("unknown filter kind 'slider'")
    answer(child, "Filters", "region when:dates")
    answer(child, "Options of region", "North,,South")
    child.expect_exact("empty option")
    answer(child, "Options of region", "North,South")
    answer(child, "Dates of when", "2025-12-01..2025-01-01")
    child.expect_exact("Dates of when")  # asked again: from is after to
    child.sendline("2025-01-01..2025-03-31")
    child.expect_exact("1. filesystem")
    child.expect_exact("(default)")
    answer(child, "Choose", "memcached")
    child.expect_exact("choose a number from 1 to 4, or a name")
    answer(child, "Choose", "2")
    answer(child, "Cache timeout", "-5")
    answer(child, "Cache timeout", "60")
    answer(child, "Create the project?", "y")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    spec = tomllib.loads((tmp_path / "board" / "dashsignal.toml").read_text())
    assert spec["app"]["title"] == "Sales — 数据"
    assert spec["app"]["pattern"] == "memoize"
    assert [(v["id"], v["kind"]) for v in spec["views"]] == [("sales", "graph"), ("rows", "table")]
    assert spec["filters"][0]["options"] == ["North", "South"]
    assert spec["cache"] == {
        "backend": "redis",
        "timeout": 60,
        "lock_timeout": 20,
        "new_per_minute": 240,
    }


@pytest.mark.parametrize("how", ["decline", "ctrl-c"])
def test_declining_or_interrupting_writes_nothing(tmp_path: Path, how: str) -> None:
    child = spawn(tmp_path, "board", "--yes" if how == "never" else "--title=T")
    child.expect_exact("Pattern:")
    answer(child, "Choose", "")
    answer(child, "Views", "")
    answer(child, "Filters", "")
    answer(child, "Options of region", "")
    if how == "ctrl-c":
        child.expect_exact("Options of product")
        child.sendintr()
    else:
        for prompt in ("Options of product", "Range of year", "Choose", "Cache timeout"):
            answer(child, prompt, "")
        answer(child, "Create the project?", "n")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus != 0 or child.signalstatus is not None
    assert list(tmp_path.iterdir()) == []


def test_views_may_read_the_stages_given_by_flag(tmp_path: Path) -> None:
    child = spawn(tmp_path, "board", "--stage", "daily", "--stage", "weekly:daily", "--title=T")
    answer(child, "Choose", "memoize")
    child.expect_exact("@daily, @weekly")
    answer(child, "Views", "trend:1@weekly  forecast@own  ticker:indicator@live/2.5")
    answer(child, "Filters", "region")
    answer(child, "Options of region", "")
    answer(child, "Choose", "")
    child.expect_exact("Cache timeout")
    child.sendline("")
    child.expect_exact("pattern: memoize")
    child.expect_exact("stages:  daily (from query), weekly (from daily)")
    child.expect_exact("ticker (indicator, live every 2.5 s)")
    answer(child, "Create the project?", "y")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    spec = tomllib.loads((tmp_path / "board" / "dashsignal.toml").read_text())
    assert spec["app"]["pattern"] == "memoize"
    assert [(s["id"], s["source"]) for s in spec["stages"]] == [
        ("daily", "query"),
        ("weekly", "daily"),
    ]
    assert [(v["id"], v["kind"], v.get("source")) for v in spec["views"]] == [
        ("trend", "graph", "weekly"),
        ("forecast", "graph", "own"),
        ("ticker", "indicator", "live"),
    ]
    assert spec["views"][2]["interval"] == 2.5


def test_a_background_compute_step_asks_no_pattern(tmp_path: Path) -> None:
    child = spawn(tmp_path, "board", "--background", "--title=T", "--view", "a", "--filter", "f")
    child.logfile_read = io.StringIO()
    child.expect_exact("Cache backend:")
    answer(child, "Choose", "")
    answer(child, "Cache timeout", "")
    child.expect_exact("pattern: signal")
    answer(child, "Create the project?", "y")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "Pattern:" not in child.logfile_read.getvalue()
    app = tomllib.loads((tmp_path / "board" / "dashsignal.toml").read_text())["app"]
    assert (app["pattern"], app["background"]) == ("signal", True)


# --- filters typed as the help teaches them: ID[:KIND][=VALUES] -----------------------------

# (answer to "Filters", the [[filters]] tables expected, less their labels)
INLINE_FILTERS = {
    "dropdown": ("store:dropdown=Paris,Lyon", {"kind": "dropdown", "options": ["Paris", "Lyon"]}),
    "multi": ("store:multi=Paris, Lyon,3", {"kind": "multi", "options": ["Paris", "Lyon", 3]}),
    "checklist": ("store:3=Paris,Lyon", {"kind": "checklist", "options": ["Paris", "Lyon"]}),
    "radio": ("store:radio = Paris,Lyon", {"kind": "radio", "options": ["Paris", "Lyon"]}),
    "range": ("price:range=10..100", {"kind": "range", "min": 10, "max": 100}),
    "dates": (
        "when:dates=2025-01-01..2025-03-31",
        {"kind": "dates", "min": dt.date(2025, 1, 1), "max": dt.date(2025, 3, 31)},
    ),
}
SUMMARIES = {
    "dropdown": "store (dropdown: Paris, Lyon)",
    "multi": "store (multi: Paris, Lyon, 3)",
    "checklist": "store (checklist: Paris, Lyon)",
    "radio": "store (radio: Paris, Lyon)",
    "range": "price (range: 10..100)",
    "dates": "when (dates: 2025-01-01..2025-03-31)",
}


def _up_to_filters(child: pexpect.spawn) -> None:
    for prompt in ("Dashboard title", "Choose", "Views"):
        answer(child, prompt, "")


def _after_filters(child: pexpect.spawn) -> None:
    answer(child, "Choose", "")  # the cache backend
    answer(child, "Cache timeout", "")


@pytest.mark.parametrize(("typed", "expected"), INLINE_FILTERS.values(), ids=list(INLINE_FILTERS))
def test_a_filter_with_its_values_is_taken_as_typed_and_shown_before_confirmation(
    tmp_path: Path, typed: str, expected: dict[str, object]
) -> None:
    child = spawn(tmp_path, "board")
    child.logfile_read = io.StringIO()
    _up_to_filters(child)
    answer(child, "Filters", f"region {typed} year:range")
    answer(child, "Options of region", "")
    answer(child, "Range of year", "")  # the values of store/price/when are not asked again
    _after_filters(child)
    kind = expected["kind"]
    child.expect_exact(f"filters: region (dropdown: North, South, East, West), {SUMMARIES[kind]}")
    child.expect_exact("year (range: 2019..2025)")
    answer(child, "Create the project?", "y")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.logfile_read.getvalue()
    transcript = child.logfile_read.getvalue()
    assert "Options of store" not in transcript and "Range of price" not in transcript
    with (tmp_path / "board" / "dashsignal.toml").open("rb") as handle:
        filters = tomllib.load(handle)["filters"]
    assert [f["id"] for f in filters] == ["region", typed.partition(":")[0], "year"]
    assert {k: v for k, v in filters[1].items() if k in expected} == expected


@pytest.mark.parametrize(
    ("head", "question", "reply", "expected"),
    [
        ("store", "Options of store", "=Paris,Lyon", ["Paris", "Lyon"]),
        ("store:radio", "Options of store", "store:radio=Paris,Lyon", ["Paris", "Lyon"]),
        ("store:multi", "Options of store", "store=Paris,Lyon", ["Paris", "Lyon"]),
        ("price:range", "Range of price", "=10..100", [10, 100]),
        ("price:range", "Range of price", "price:range=10..100", [10, 100]),
        ("when:dates", "Dates of when", "=2025-01-01..2025-03-31", ["2025-01-01", "2025-03-31"]),
    ],
)
def test_the_values_question_accepts_the_equals_form_and_never_loops_on_it(
    tmp_path: Path, head: str, question: str, reply: str, expected: list[object]
) -> None:
    child = spawn(tmp_path, "board")
    child.logfile_read = io.StringIO()
    _up_to_filters(child)
    answer(child, "Filters", head)
    answer(child, question, reply)
    _after_filters(child)
    answer(child, "Create the project?", "y")
    child.expect(pexpect.EOF)
    child.close()
    transcript = child.logfile_read.getvalue()
    assert child.exitstatus == 0, transcript
    assert transcript.count(question) == 1, transcript  # asked once: the answer was taken
    with (tmp_path / "board" / "dashsignal.toml").open("rb") as handle:
        [table] = tomllib.load(handle)["filters"]
    values = table["options"] if "options" in table else [table["min"], table["max"]]
    assert [v.isoformat() if isinstance(v, dt.date) else v for v in values] == expected


# --- the name, and what a "no" at the confirmation leaves -----------------------------------


def test_new_without_a_name_asks_for_it_and_checks_it(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    child = spawn(tmp_path, "--yes")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 2  # --yes asks nothing: the name is missing
    child = spawn(tmp_path, "--title", "T", "--view", "a", "--filter", "f=x,y")
    answer(child, "Project name", "2fast")
    child.expect_exact("starts with a digit")
    answer(child, "Project name", "taken")
    child.expect_exact("taken")
    answer(child, "Project name", "board")
    answer(child, "Choose", "")  # the pattern
    answer(child, "Choose", "")  # the cache
    answer(child, "Cache timeout", "")
    child.expect_exact("filters: f (dropdown: x, y)")
    answer(child, "Create the project?", "y")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert tomllib.loads((tmp_path / "board" / "dashsignal.toml").read_text())["app"]["name"] == (
        "board"
    )


def test_declining_prints_the_command_that_makes_the_same_project(tmp_path: Path) -> None:
    child = spawn(tmp_path, "board", "--stage", "daily")
    child.logfile_read = io.StringIO()
    answer(child, "Dashboard title", "Sales & more")
    answer(child, "Choose", "memoize")
    answer(child, "Views", "trend@daily rows:table ticker:indicator@live/10")
    answer(child, "Filters", "store:multi=Paris,Lyon price:range=10..100 when:dates")
    answer(child, "Dates of when", "2025-01-01..2025-03-31")
    answer(child, "Choose", "redis")
    answer(child, "Cache timeout", "60")
    answer(child, "Create the project?", "n")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
    assert list(tmp_path.iterdir()) == []
    lines = child.logfile_read.getvalue().splitlines()
    [command] = [line.strip() for line in lines if line.strip().startswith("dashsignal new ")]
    assert "Nothing was written" in "\n".join(lines)

    replayed = subprocess.run(
        [sys.executable, "-m", "dashsignal_cli", *shlex.split(command)[1:]],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )

    assert replayed.returncode == 0, replayed.stderr  # no terminal, no --yes: every answer given
    spec = tomllib.loads((tmp_path / "board" / "dashsignal.toml").read_text())
    assert spec["app"]["title"] == "Sales & more" and spec["app"]["pattern"] == "memoize"
    assert [(s["id"], s["source"]) for s in spec["stages"]] == [("daily", "query")]
    assert [(v["id"], v["kind"], v.get("source"), v.get("interval")) for v in spec["views"]] == [
        ("trend", "graph", "daily", None),
        ("rows", "table", None, None),
        ("ticker", "indicator", "live", 10),
    ]
    assert [(f["id"], f["kind"]) for f in spec["filters"]] == [
        ("store", "multi"),
        ("price", "range"),
        ("when", "dates"),
    ]
    assert spec["filters"][0]["options"] == ["Paris", "Lyon"]
    assert (spec["filters"][1]["min"], spec["filters"][1]["max"]) == (10, 100)
    assert spec["filters"][2]["min"] == dt.date(2025, 1, 1)
    assert (spec["cache"]["backend"], spec["cache"]["timeout"]) == ("redis", 60)
