"""What check reports, how it exits, and the functions it expects in the user's modules.

Run in process as a user runs them (tests/cli_helpers.run_cli), on projects generated into
tmp_path.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path

import pytest

import dashsignal_cli

from cli_helpers import (
    assert_clean_error,
)
from lifecycle_helpers import (
    CALLBACKS,
    IDS,
    LAYOUT,
    MY_HELPER,
    NAME,
    append_to,
    check_findings,
    cli,
    cli_ok,
    demo_project,
    disk_state,
    functions_of,
    make_conflict,
    read,
    replace_in,
    report,
    with_own_query,
    write,
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return demo_project(tmp_path)


# --- check ----------------------------------------------------------------------------------


def test_check_passes_on_a_new_project_and_writes_nothing(tmp_path: Path) -> None:
    cli_ok(tmp_path, "new", NAME, "--yes")
    project = tmp_path / NAME
    before = disk_state(project)

    result = cli_ok(project, "check")

    assert result.stdout.startswith("check passed")
    assert disk_state(project) == before


def _spec_edited(project: Path) -> None:
    replace_in(project, "dashsignal.toml", '"Total sales"', '"Grand total"')


def _managed_edited(project: Path) -> None:
    append_to(project, IDS, MY_HELPER)


def _view_removed(project: Path) -> None:
    cli_ok(project, "remove-view", "share")


def _conflicted(project: Path) -> None:
    make_conflict(project)
    assert cli(project, "remove-view", "total").returncode == 3


# name -> (backend, set-up, the finding expected, a fragment of its message)
CHECK_PROBLEMS: dict[str, tuple[str, Callable[[Path], None] | None, tuple[str, str], str]] = {
    "out-of-date": ("filesystem", _spec_edited, ("out-of-date", LAYOUT), "would be updated"),
    "edited-out-of-date": (
        "filesystem",
        lambda p: (_managed_edited(p), _spec_edited(p)),
        ("out-of-date", LAYOUT),
        "would be updated",
    ),
    "unread-filter": (
        "filesystem",
        lambda p: cli_ok(with_own_query(p), "add-filter", "channel", "--kind", "multi"),
        ("unread", "data.py"),
        "filter 'channel' (multi) is never read",
    ),
    "orphan": ("filesystem", _view_removed, ("orphan", "views/share.py"), "belongs to no view"),
    "no-render": (
        "filesystem",
        lambda p: replace_in(p, "views/share.py", "def render(", "def draw("),
        ("function", "views/share.py"),
        "no render() function, which draws view 'share'",
    ),
    "conflict": ("filesystem", _conflicted, ("conflict", CALLBACKS), "conflict markers"),
    "risky-simple": ("simple", None, ("risky", "dashsignal.toml"), "cache backend 'simple'"),
    "risky-null": ("null", None, ("risky", "dashsignal.toml"), "cache backend 'null'"),
}


@pytest.mark.parametrize(
    ("backend", "set_up", "finding", "fragment"), CHECK_PROBLEMS.values(), ids=list(CHECK_PROBLEMS)
)
def test_check_fails_with_one_line_per_problem_and_writes_nothing(
    tmp_path: Path,
    backend: str,
    set_up: Callable[[Path], None] | None,
    finding: tuple[str, str],
    fragment: str,
) -> None:
    project = demo_project(tmp_path, backend=backend)
    if set_up:
        set_up(project)
    before = disk_state(project)

    result = cli(project, "check")

    assert result.returncode == 1
    error = assert_clean_error(result)
    *lines, versions = result.stdout.splitlines()
    problems = list(itertools.takewhile(lambda line: not line.startswith("notes"), lines))
    findings = check_findings("\n".join(problems))
    assert error == f"error: {len(findings)} problem(s) found"
    assert len(findings) == len(problems)
    assert versions.startswith(f"dashsignal {dashsignal_cli.__version__} running; ")
    matching = [message for code, path, message in findings if (code, path) == finding]
    assert len(matching) == 1 and fragment in matching[0], result.stdout
    assert disk_state(project) == before


def _edit_then_merge_cleanly(project: Path) -> None:
    replace_in(project, LAYOUT, '"Sales by month"),', '"Monthly sales (edited)"),')
    _spec_edited(project)  # changes the layout too, elsewhere: a clean three-way merge
    assert report(cli_ok(project, "regenerate").stdout)[LAYOUT] == ("merge", "your edits kept")


@pytest.mark.parametrize(
    ("set_up", "path"),
    [(_managed_edited, IDS), (_edit_then_merge_cleanly, LAYOUT)],
    ids=["edited", "after-a-clean-merge"],
)
def test_an_edit_that_merges_cleanly_is_a_note_that_only_strict_fails_on(
    project: Path, set_up: Callable[[Path], None], path: str
) -> None:
    set_up(project)

    passed = cli_ok(project, "check")
    strict = cli(project, "check", "--strict")
    document = json.loads(cli_ok(project, "check", "--json").stdout)

    assert passed.stdout.startswith("check passed: the project is valid and in line with its spec")
    assert "1 note(s)" in passed.stdout.splitlines()[0]
    assert ("edited", path) in [f[:2] for f in check_findings(passed.stdout)]
    assert strict.returncode == 1
    assert assert_clean_error(strict) == (
        "error: 1 problem(s) found (1 of them notes, failing under --strict)"
    )
    assert document["ok"] is True and document["problems"] == []
    assert [(n["code"], n["path"]) for n in document["notes"]] == [("edited", path)]
    assert json.loads(cli(project, "check", "--json", "--strict").stdout)["ok"] is False


def test_a_conflict_fails_check_even_without_strict(project: Path) -> None:
    _conflicted(project)
    assert cli(project, "check").returncode == 1
    document = json.loads(cli(project, "check", "--json").stdout)
    assert ("conflict", CALLBACKS) in [(p["code"], p["path"]) for p in document["problems"]]


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_check_exits_2_when_it_cannot_run(tmp_path: Path, as_json: bool) -> None:
    result = cli(tmp_path, "check", *(["--json"] * as_json))
    assert result.returncode == 2
    assert "no dashsignal.toml" in assert_clean_error(result)
    assert result.stdout == ""


def test_an_invalid_spec_is_a_problem_found_not_a_failure_to_run(project: Path) -> None:
    replace_in(project, "dashsignal.toml", 'kind = "table"', 'kind = "pie"')
    assert cli(project, "check").returncode == 1
    document = json.loads(cli(project, "check", "--json").stdout)
    assert [p["code"] for p in document["problems"]] == ["invalid-spec"]


def _set_manifest_version(project: Path, version: str | None) -> None:
    path = project / ".dashsignal" / "manifest.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    if version is None:
        del data["dashsignal"]
    else:
        data["dashsignal"] = version
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def test_check_names_the_generating_and_the_running_version(project: Path) -> None:
    running = dashsignal_cli.__version__
    result = cli_ok(project, "check")
    assert result.stdout.splitlines()[-1] == (
        f"dashsignal {running} running; the project was generated by dashsignal {running}"
    )
    document = json.loads(cli_ok(project, "check", "--json").stdout)
    assert document["dashsignal"] == {"running": running, "generated": running}


def test_a_project_of_another_version_is_a_note_until_regenerated(project: Path) -> None:
    _set_manifest_version(project, "0.0.9")

    result = cli_ok(project, "check")  # the same files: nothing out of date, a note
    document = json.loads(cli_ok(project, "check", "--json").stdout)

    assert result.stdout.splitlines()[-1].endswith("generated by dashsignal 0.0.9")
    assert document["dashsignal"]["generated"] == "0.0.9"
    assert [(n["code"], n["path"]) for n in document["notes"]] == [
        ("version", ".dashsignal/manifest.json")
    ]
    assert "generated by dashsignal 0.0.9" in document["notes"][0]["message"]
    assert cli(project, "check", "--strict").returncode == 1
    regenerated = cli_ok(project, "regenerate").stdout  # the same files: only the records change
    assert regenerated == "  update dashsignal's records in .dashsignal/\n"
    assert json.loads(read(project, ".dashsignal/manifest.json"))["dashsignal"] == (
        dashsignal_cli.__version__
    )
    assert cli_ok(project, "check", "--strict").stdout.startswith("check passed")


def test_a_manifest_without_a_version_is_read(project: Path) -> None:
    _set_manifest_version(project, None)

    document = json.loads(cli(project, "check", "--json").stdout)

    assert document["dashsignal"]["generated"] is None
    assert cli_ok(project, "regenerate").returncode == 0
    assert cli_ok(project, "check", "--strict").returncode == 0


@pytest.mark.parametrize(
    ("kind", "form"),
    [
        ("dropdown", "one of its options, or None"),
        ("multi", "a list of its options"),
        ("checklist", "a list of its options"),
        ("radio", "one of its options"),
        ("range", "[low, high], two numbers"),
        ("dates", '["YYYY-MM-DD", "YYYY-MM-DD"]'),
    ],
)
def test_add_filter_says_the_users_query_does_not_read_it_and_check_fails_until_it_does(
    project: Path, kind: str, form: str
) -> None:
    with_own_query(project)
    added = cli_ok(project, "add-filter", "channel", "--kind", kind)

    [note] = [line for line in added.stdout.splitlines() if line.startswith("note:")]
    assert "data.py is yours" in note and 'filters.get("channel")' in note and form in note
    checked = cli(project, "check")
    assert checked.returncode == 1
    [(code, path, message)] = check_findings(checked.stdout)
    assert (code, path) == ("unread", "data.py") and form in message

    replace_in(
        project,
        "data.py",
        "    return frame[mask].reset_index(drop=True)",
        '    channel = filters.get("channel")  # read, used some day\n'
        "    return frame[mask].reset_index(drop=True)",
    )
    assert cli_ok(project, "check").stdout.startswith("check passed")


def test_a_filter_named_only_in_a_comment_or_read_by_an_own_view(project: Path) -> None:
    with_own_query(project)
    cli_ok(project, "add-filter", "channel")
    append_to(project, "data.py", "# channel: to do\n")
    assert [f[0] for f in check_findings(cli(project, "check").stdout)] == ["unread"]
    cli_ok(project, "add-view", "mine", "--source", "own")
    append_to(project, "views/mine.py", '\nCHANNEL = "channel"\n')
    assert cli_ok(project, "check").stdout.startswith("check passed")


def test_add_filter_says_nothing_when_the_query_reads_it_already(project: Path) -> None:
    append_to(project, "data.py", '\nCOLUMNS = ["channel"]\n')
    added = cli_ok(project, "add-filter", "channel")
    assert "note:" not in added.stdout
    assert cli_ok(project, "check").stdout.startswith("check passed")


# --- check: the functions the wiring calls in the user's modules -----------------------------


def test_check_finds_a_stage_module_without_derive(project: Path) -> None:
    cli_ok(project, "add-stage", "daily")
    replace_in(project, "stages/daily.py", "def derive(", "def derive_totals(")
    before = disk_state(project)

    result = cli(project, "check")

    assert result.returncode == 1
    [(code, path, message)] = check_findings(result.stdout)
    assert (code, path) == ("function", "stages/daily.py")
    assert "no derive(data) function" in message and "'daily'" in message
    assert disk_state(project) == before


@pytest.mark.parametrize("source", ["own", "live"])
def test_check_finds_a_view_turned_own_or_live_by_hand_without_compute(
    project: Path, source: str
) -> None:
    replace_in(
        project,
        "dashsignal.toml",
        'title = "Sales by month"\n',
        f'title = "Sales by month"\nsource = "{source}"\n',
    )
    cli_ok(project, "regenerate")

    result = cli(project, "check")

    assert result.returncode == 1
    [(code, path, message)] = check_findings(result.stdout)
    assert (code, path) == ("function", "views/sales.py")
    assert "no compute(filters) function" in message and "'sales' is now" in message
    # Deleting the module gets a fresh one, with compute(): then all is well.
    (project / "views" / "sales.py").unlink()
    cli_ok(project, "regenerate")
    assert "compute" in functions_of(project, "views/sales.py")
    assert cli_ok(project, "check").stdout.startswith("check passed")


@pytest.mark.parametrize(
    "defined",
    [
        "from .shared import derive\n",
        "derive = len\n",
        "def derive(data):\n    return data\n",
    ],
    ids=["imported", "assigned", "plain-def"],
)
def test_check_accepts_derive_defined_any_way(project: Path, defined: str) -> None:
    cli_ok(project, "add-stage", "daily")
    write(project, "stages/daily.py", 'VERSION = "1"\n' + defined)

    assert cli_ok(project, "check").stdout.startswith("check passed")


def test_check_json_reports_the_missing_function(project: Path) -> None:
    cli_ok(project, "add-stage", "daily")
    write(project, "stages/daily.py", 'VERSION = "1"\n')

    result = cli(project, "check", "--json")

    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert [(p["code"], p["path"]) for p in document["problems"]] == [
        ("function", "stages/daily.py")
    ]


# --- check: views that still aggregate the whole frame in render -----------------------------

# A view module as dashsignal wrote them before summarise: render(data) receives the whole frame.
RENDER_OF_THE_FRAME = """\
import pandas as pd
from plotly.graph_objects import Bar, Figure


def render(data: pd.DataFrame) -> Figure:
    totals = data.groupby("region", observed=True)["amount"].sum()
    return Figure(Bar(x=totals.index, y=totals))
"""


def test_a_view_that_aggregates_in_render_is_a_note_that_only_strict_fails_on(
    project: Path,
) -> None:
    write(project, "views/share.py", RENDER_OF_THE_FRAME)

    passed = cli_ok(project, "check")
    strict = cli(project, "check", "--strict")
    document = json.loads(cli_ok(project, "check", "--json").stdout)

    assert passed.stdout.startswith("check passed") and "1 note(s)" in passed.stdout
    [(code, path, message)] = check_findings(passed.stdout)
    assert (code, path) == ("splittable", "views/share.py")
    assert "split it into summarise(data)" in message and "render(summary)" in message
    assert document["ok"] is True and document["problems"] == []
    assert [(n["code"], n["path"]) for n in document["notes"]] == [("splittable", "views/share.py")]
    assert strict.returncode == 1
    assert assert_clean_error(strict).endswith("(1 of them notes, failing under --strict)")


def test_generated_views_and_own_or_live_views_are_not_splittable(project: Path) -> None:
    # Own and live views have compute(filters) and render(data), and nothing to split.
    cli_ok(project, "add-view", "mine", "--source", "own")
    cli_ok(project, "add-view", "ticker", "--kind", "indicator", "--source", "live")
    cli_ok(project, "add-stage", "daily")
    cli_ok(project, "add-view", "trend", "--source", "daily")
    assert "summarise" not in functions_of(project, "views/mine.py")
    assert "summarise" in functions_of(project, "views/trend.py")

    assert cli_ok(project, "check", "--strict").stdout.startswith("check passed")


def test_a_view_of_a_stage_that_aggregates_in_render_is_splittable_too(project: Path) -> None:
    cli_ok(project, "add-stage", "daily")
    cli_ok(project, "add-view", "trend", "--source", "daily")
    write(project, "views/trend.py", RENDER_OF_THE_FRAME)

    document = json.loads(cli_ok(project, "check", "--json").stdout)

    assert [(n["code"], n["path"]) for n in document["notes"]] == [("splittable", "views/trend.py")]


@pytest.mark.parametrize(
    "defined",
    ["from .shared import render, summarise\n", "render = summarise = str\n"],
    ids=["imported", "assigned"],
)
def test_check_accepts_render_and_summarise_defined_any_way(project: Path, defined: str) -> None:
    write(project, "views/share.py", 'VERSION = "1"\n' + defined)

    assert cli_ok(project, "check", "--strict").stdout.startswith("check passed")
