"""Stages and view sources: add-stage, remove-stage, add-view --source, and what graph says of them.

Run in process as a user runs them (tests/cli_helpers.run_cli), on projects generated into
tmp_path.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_helpers import (
    assert_clean_error,
    load_toml,
)
from lifecycle_helpers import (
    DAILY_BLOCK,
    DEMO_FILTER_IDS,
    DRY_RUN_END,
    NOTHING_TO_DO,
    SALES_BLOCK,
    add_comments,
    app_wiring,
    append_to,
    assert_graph_matches_wiring,
    check_findings,
    cli,
    cli_ok,
    demo_project,
    disk_state,
    functions_of,
    pattern_project,
    read,
    replace_in,
    report,
    stage_ids,
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return demo_project(tmp_path)


# --- stages and view sources: add-stage, remove-stage, add-view --source --------------------


def test_add_stage_writes_its_entry_before_the_views_and_its_module(project: Path) -> None:
    text = read(project, "dashsignal.toml")

    result = cli_ok(project, "add-stage", "daily")

    assert read(project, "dashsignal.toml") == text.replace(
        "[[views]]", DAILY_BLOCK + "\n[[views]]", 1
    )
    lines = report(result.stdout)
    assert lines["dashsignal.toml"] == ("update", "")
    assert lines["stages/daily.py"] == ("create", "yours from now on")
    assert lines["stages/__init__.py"][0] == "create"
    assert "derive" in functions_of(project, "stages/daily.py")
    assert stage_ids(project) == ["daily"]


def test_add_stage_with_source_and_title(project: Path) -> None:
    cli_ok(project, "add-stage", "daily")

    cli_ok(project, "add-stage", "weekly", "--source", "daily", "--title", 'Weekly "totals"')

    assert load_toml(project)["stages"] == [
        {"id": "daily", "source": "query", "title": "Daily"},
        {"id": "weekly", "source": "daily", "title": 'Weekly "totals"'},
    ]
    text = read(project, "dashsignal.toml")
    assert text.index('id = "weekly"') < text.index("[[views]]")
    assert (project / "stages" / "weekly.py").is_file()


@pytest.mark.parametrize("pattern", ["signal", "memoize"])
def test_views_of_every_source_are_wired_as_graph_says(tmp_path: Path, pattern: str) -> None:
    project = pattern_project(tmp_path, pattern)
    cli_ok(project, "add-stage", "daily")
    cli_ok(project, "add-stage", "weekly", "-s", "daily")
    cli_ok(project, "add-view", "trend", "--source", "weekly")
    cli_ok(project, "add-view", "by_day", "--kind", "table", "--source", "daily")
    cli_ok(project, "add-view", "forecast", "--source", "own")
    cli_ok(project, "add-view", "ticker", "-k", "indicator", "-s", "live", "--interval", "2")

    wiring = assert_graph_matches_wiring(project, tmp_path)

    assert wiring["ticker.children"] == sorted([*DEMO_FILTER_IDS, "ticker-interval"])
    assert wiring["forecast.figure"] == sorted(DEMO_FILTER_IDS)
    if pattern == "signal":
        assert wiring["trend.figure"] == ["dashsignal-signal-weekly"]
        assert wiring["dashsignal-signal-weekly.data"] == ["dashsignal-signal-daily"]
    else:
        assert wiring["trend.figure"] == sorted(DEMO_FILTER_IDS)
    views = {view["id"]: view for view in load_toml(project)["views"]}
    assert views["ticker"] == {
        "id": "ticker",
        "kind": "indicator",
        "title": "Ticker",
        "source": "live",
        "interval": 2,
    }
    assert views["forecast"]["source"] == "own" and "interval" not in views["forecast"]
    for view_id in ("forecast", "ticker"):
        assert {"compute", "render"} <= set(functions_of(project, f"views/{view_id}.py"))
    assert "compute" not in functions_of(project, "views/trend.py")
    assert cli_ok(project, "regenerate").stdout.strip() == NOTHING_TO_DO
    assert cli_ok(project, "check").stdout.startswith("check passed")


def test_remove_stage_unwires_it_but_keeps_its_module(project: Path, tmp_path: Path) -> None:
    cli_ok(project, "add-stage", "daily")
    module = read(project, "stages/daily.py")

    result = cli_ok(project, "remove-stage", "daily")

    assert "stages" not in load_toml(project)
    assert "[[stages]]" not in read(project, "dashsignal.toml")
    assert read(project, "stages/daily.py") == module
    assert report(result.stdout)["stages/daily.py"][0] == "keep"
    assert "dashsignal-signal-daily.data" not in app_wiring(project, tmp_path)


def test_removed_stage_module_is_reported_as_an_orphan_by_check(project: Path) -> None:
    cli_ok(project, "add-stage", "daily")
    cli_ok(project, "remove-stage", "daily")

    checked = cli(project, "check")

    assert checked.returncode == 1
    assert [f[:2] for f in check_findings(checked.stdout)] == [("orphan", "stages/daily.py")]


def test_remove_stage_then_add_again_reuses_the_users_module(project: Path) -> None:
    cli_ok(project, "add-stage", "daily")
    append_to(project, "stages/daily.py", "\n# USER EDIT\n")
    cli_ok(project, "remove-stage", "daily")

    result = cli_ok(project, "add-stage", "daily")

    assert "stages/daily.py" not in report(result.stdout)
    assert read(project, "stages/daily.py").endswith("\n# USER EDIT\n")
    assert cli_ok(project, "check").stdout.startswith("check passed")


@pytest.mark.parametrize(
    ("set_up", "readers"),
    [
        (["add-view", "trend", "--source", "daily"], "view 'trend'"),
        (["add-stage", "weekly", "--source", "daily"], "stage 'weekly'"),
    ],
    ids=["read-by-a-view", "read-by-a-stage"],
)
def test_remove_stage_still_read_is_refused_naming_the_readers(
    project: Path, set_up: list[str], readers: str
) -> None:
    cli_ok(project, "add-stage", "daily")
    cli_ok(project, *set_up)
    before = disk_state(project)

    result = cli(project, "remove-stage", "daily")

    assert assert_clean_error(result) == f"error: stage 'daily' is still read by {readers}"
    assert "remove-view" in result.stderr and "source" in result.stderr
    assert disk_state(project) == before


STAGE_DRY_RUNS: dict[str, tuple[list[str], list[str]]] = {
    "add-stage": (
        ["add-stage", "daily"],
        ["would update     dashsignal.toml", "would create     stages/daily.py", "+[[stages]]"],
    ),
    "remove-stage": (
        ["remove-stage", "weekly"],
        ["would update     dashsignal.toml", "would keep       stages/weekly.py"],
    ),
    "add-view-source": (
        ["add-view", "trend", "--source", "weekly"],
        ["would create     views/trend.py", '+source = "weekly"'],
    ),
    "add-view-live": (
        ["add-view", "ticker", "--source", "live", "--interval", "0.5"],
        ["would create     views/ticker.py", "+interval = 0.5"],
    ),
}


@pytest.mark.parametrize(
    ("command", "announced"), STAGE_DRY_RUNS.values(), ids=list(STAGE_DRY_RUNS)
)
def test_stage_and_source_dry_runs_write_nothing_and_announce_the_real_run(
    project: Path, command: list[str], announced: list[str]
) -> None:
    if command[0] != "add-stage":
        cli_ok(project, "add-stage", "weekly")
    before = disk_state(project)

    result = cli_ok(project, *command, "--dry-run")

    for text in announced:
        assert text in result.stdout
    assert result.stdout.rstrip().splitlines()[-1] == DRY_RUN_END
    assert disk_state(project) == before
    dry = report(result.stdout)
    real = report(cli_ok(project, *command).stdout)
    assert dry == {path: (f"would {verb}", note) for path, (verb, note) in real.items()}


def test_add_stage_keeps_the_users_comments_and_layout(project: Path) -> None:
    before = add_comments(project)

    cli_ok(project, "add-stage", "daily")

    assert read(project, "dashsignal.toml") == before.replace(
        "[[views]]", DAILY_BLOCK + "\n[[views]]", 1
    )


def test_a_stage_goes_above_the_comment_that_documents_the_first_view(project: Path) -> None:
    doc = "# sales: reviewed by finance\n"
    replace_in(project, "dashsignal.toml", SALES_BLOCK, doc + SALES_BLOCK)
    cli_ok(project, "add-stage", "daily")
    before = read(project, "dashsignal.toml")

    cli_ok(project, "add-stage", "weekly", "--source", "daily")

    assert doc + SALES_BLOCK in read(project, "dashsignal.toml")
    weekly = '[[stages]]\nid = "weekly"\nsource = "daily"\ntitle = "Weekly"\n'
    assert read(project, "dashsignal.toml") == before.replace(
        DAILY_BLOCK, DAILY_BLOCK + "\n" + weekly
    )


BAD_STAGE_COMMANDS: dict[str, tuple[list[str], str]] = {
    "stage-id-of-a-view": (["add-stage", "sales"], "already a view with id 'sales'"),
    "stage-id-of-a-filter": (["add-stage", "Region"], "already a filter with id 'region'"),
    "stage-id-reserved": (["add-stage", "query"], "the id 'query' is reserved"),
    "stage-id-live": (["add-stage", "live"], "the id 'live' is reserved"),
    "stage-id-invalid": (["add-stage", "2x"], "'2x' is not a valid identifier"),
    "stage-unknown-source": (
        ["add-stage", "daily", "--source", "weekly"],
        "stage 'daily': unknown source 'weekly'; allowed: query",
    ),
    "stage-from-itself": (
        ["add-stage", "daily", "--source", "daily"],
        "stage 'daily': unknown source 'daily'",
    ),
    "stage-from-own": (["add-stage", "daily", "--source", "own"], "unknown source 'own'"),
    "stage-empty-title": (["add-stage", "daily", "--title", " "], "title: must not be empty"),
    "remove-unknown-stage": (
        ["remove-stage", "daily"],
        "no stage 'daily' in dashsignal.toml (there are: none)",
    ),
    "view-unknown-source": (
        ["add-view", "trend", "--source", "daily"],
        "view 'trend': unknown source 'daily'; allowed: query, own, live",
    ),
    "interval-without-live": (
        ["add-view", "trend", "--interval", "5"],
        "view 'trend': --interval is for a live view",
    ),
    "interval-on-own": (
        ["add-view", "trend", "--source", "own", "--interval", "5"],
        "--interval is for a live view",
    ),
    "interval-too-short": (
        ["add-view", "ticker", "--source", "live", "--interval", "0.1"],
        "an interval of 0.1 s is out of range",
    ),
    "interval-not-a-number": (
        ["add-view", "ticker", "--source", "live", "--interval", "often"],
        "interval 'often' is not a number of seconds",
    ),
    "interval-nan": (
        ["add-view", "ticker", "--source", "live", "--interval", "nan"],
        "is not a number of seconds",
    ),
}


@pytest.mark.parametrize(
    ("command", "fragment"), BAD_STAGE_COMMANDS.values(), ids=list(BAD_STAGE_COMMANDS)
)
def test_bad_stage_or_source_is_refused_cleanly_and_writes_nothing(
    project: Path, command: list[str], fragment: str
) -> None:
    before = disk_state(project)

    result = cli(project, *command)

    assert fragment in assert_clean_error(result)
    assert disk_state(project) == before


def test_a_hand_edit_to_a_cycle_is_located_by_every_command(project: Path) -> None:
    cli_ok(project, "add-stage", "daily")
    cli_ok(project, "add-stage", "weekly", "--source", "daily")
    replace_in(project, "dashsignal.toml", 'source = "query"', 'source = "weekly"')
    before = disk_state(project)

    for command in (["regenerate"], ["check"], ["graph"], ["add-stage", "monthly"]):
        result = cli(project, *command)
        assert assert_clean_error(result) == "error: stages: cycle daily -> weekly -> daily"
    assert disk_state(project) == before
