"""Interactive `dashsignal new`, driven through a real pseudo-terminal."""

from __future__ import annotations

import io
import signal
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
    child.expect_exact("'sales' is given twice")
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
