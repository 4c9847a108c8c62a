"""Growing a project as a user does: the lifecycle commands through a real subprocess.

`add-view`, `remove-view`, `add-filter`, `remove-filter`, `regenerate` and `check`, run as
`python -m dashsignal_cli` with stdin not a terminal and no colour, on projects generated into
tmp_path. Organised by behaviour: what each command changes, how it finds the project, what
`--dry-run` shows, that the user's comments, files and edits survive, how clashing edits are
handled, how bad input is refused, that regeneration is idempotent, what `check` reports, and
how deleted files come back (or, the user's own, do not).
"""

from __future__ import annotations

import ast
import datetime as dt
import itertools
import json
import os
import re
import subprocess
import sys
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
from dashsignal_cli.spec import spec_from_data

from cli_helpers import (
    assert_clean_error,
    generated_filters,
    load_toml,
    render_return_annotation,
    run_cli,
    tree_snapshot,
)
from project_helpers import generate, make_spec

NAME = "proj"
DEMO_VIEW_IDS = ["sales", "share", "rows", "total"]
DEMO_FILTER_IDS = ["region", "product", "year"]
RENDER_RETURNS = {"graph": "Figure", "table": "pd.DataFrame", "indicator": "str"}

# The [[views]] blocks of the demo spec exactly as `dashsignal new` writes them.
SALES_BLOCK = '[[views]]\nid = "sales"\nkind = "graph"\ntitle = "Sales by month"\n'
SHARE_BLOCK = '[[views]]\nid = "share"\nkind = "graph"\ntitle = "Sales by region"\n'
ROWS_BLOCK = '[[views]]\nid = "rows"\nkind = "table"\ntitle = "Matching rows"\n'
TOTAL_BLOCK = '[[views]]\nid = "total"\nkind = "indicator"\ntitle = "Total sales"\n'
TIMEOUT_LINE = "timeout = 300 # seconds an entry is kept"

CALLBACKS = "signaling/callbacks.py"
LAYOUT = "signaling/layout.py"
IDS = "signaling/ids.py"
DRY_RUN_END = "Dry run: nothing was written."
NOTHING_TO_DO = "Nothing to do: the project is in line with dashsignal.toml."

_ACTIONS = "create|update|merge|conflict|replace|delete|keep"
_REPORT_LINE = re.compile(
    rf"^  (?P<verb>(?:would )?(?:{_ACTIONS}))\s+(?P<path>\S+)(?:\s+(?P<note>\S.*?))?\s*$"
)
_CHECK_LINE = re.compile(r"^  (?P<code>[a-z-]+)\s+(?P<path>\S+): (?P<message>.+)$")


# --- helpers --------------------------------------------------------------------------------


def demo_project(tmp_path: Path, name: str = NAME, **spec: Any) -> Path:
    """The project of `dashsignal new NAME --yes` (4 views, 3 filters), generated in-process."""
    spec.setdefault("views", DEFAULT_VIEWS)
    spec.setdefault("filters", DEFAULT_FILTERS)
    return generate(tmp_path / name, make_spec(name, **spec))


def cli(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`dashsignal ARGS` run inside `project`; no traceback whatever the outcome."""
    result = run_cli(*args, cwd=project)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def cli_ok(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = cli(project, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def report(stdout: str) -> dict[str, tuple[str, str]]:
    """The lines of a change report as {path: (verb, note)}."""
    found: dict[str, tuple[str, str]] = {}
    for line in stdout.splitlines():
        match = _REPORT_LINE.match(line)
        if match:
            found[match["path"]] = (match["verb"], match["note"] or "")
    return found


def check_findings(stdout: str) -> list[tuple[str, str, str]]:
    """The lines of a `check` report as (code, path, message)."""
    return [
        (m["code"], m["path"], m["message"])
        for m in map(_CHECK_LINE.match, stdout.splitlines())
        if m is not None
    ]


def disk_state(root: Path) -> tuple[dict[str, bytes | None], dict[str, tuple[int, int]]]:
    """Every entry's bytes, and its inode and mtime: a rewrite of the same text shows too."""
    stats = {
        path.relative_to(root).as_posix(): (path.stat().st_ino, path.stat().st_mtime_ns)
        for path in [root, *root.rglob("*")]
    }
    return tree_snapshot(root), stats


def read(project: Path, path: str) -> str:
    return (project / path).read_text(encoding="utf-8")


def write(project: Path, path: str, text: str) -> None:
    (project / path).write_text(text, encoding="utf-8")


def replace_in(project: Path, path: str, old: str, new: str) -> None:
    text = read(project, path)
    assert text.count(old) == 1, f"{old!r} not exactly once in {path}"
    write(project, path, text.replace(old, new))


def append_to(project: Path, path: str, text: str) -> None:
    write(project, path, read(project, path) + text)


def view_ids(project: Path) -> list[str]:
    return [view["id"] for view in load_toml(project)["views"]]


def filter_ids(project: Path) -> list[str]:
    return [item["id"] for item in load_toml(project)["filters"]]


def functions_of(project: Path, path: str) -> list[str]:
    module = ast.parse(read(project, path))
    return [node.name for node in module.body if isinstance(node, ast.FunctionDef)]


def string_constants(project: Path, path: str) -> set[str]:
    module = ast.parse(read(project, path))
    return {
        node.value
        for node in ast.walk(module)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


_WIRING = """\
import json
import app
print(json.dumps({
    output: sorted({item["id"] for item in callback["inputs"]})
    for output, callback in app.app.callback_map.items()
}))
"""


def app_wiring(project: Path, tmp_path: Path) -> dict[str, list[str]]:
    """Import the project's app in a fresh interpreter: {callback output: [input ids]}."""
    env = {
        **os.environ,
        "PYTHONDONTWRITEBYTECODE": "1",
        "CACHE_DIR": str(tmp_path / "cache"),
    }
    result = subprocess.run(
        [sys.executable, "-c", _WIRING],
        cwd=project,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    wiring: dict[str, list[str]] = json.loads(result.stdout)
    return wiring


def make_conflict(project: Path) -> str:
    """Edit the line that wires the `total` view's output; return the edited line."""
    lines = read(project, CALLBACKS).splitlines()
    [line] = [line for line in lines if 'Output("total", "children")' in line]
    assert lines.index(line) > lines.index("def register_callbacks(app: Dash) -> None:")
    mine = line + "  # wired by hand"
    replace_in(project, CALLBACKS, line + "\n", mine + "\n")
    return mine


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return demo_project(tmp_path)


# --- add-view / remove-view / add-filter / remove-filter: what they change -------------------


def test_add_view_alone_adds_a_graph_titled_from_its_id(project: Path) -> None:
    result = cli_ok(project, "add-view", "chart3")

    assert view_ids(project) == [*DEMO_VIEW_IDS, "chart3"]
    assert load_toml(project)["views"][-1] == {"id": "chart3", "kind": "graph", "title": "Chart3"}
    assert render_return_annotation(project / "views" / "chart3.py") == "Figure"
    assert "update_chart3" in functions_of(project, CALLBACKS)
    assert "Chart3" in string_constants(project, LAYOUT)
    assert report(result.stdout)["views/chart3.py"] == ("create", "yours from now on")


HOSTILE_TITLES = [
    ("table", "He said \"hi\", 'bye' and \"\"\" then '''"),
    ("indicator", "{{ 7*7 }} {% if x %}jinja{% endif %} ${HOME} \\n not a newline"),
    ("graph", "first line\nsecond line: Ventes été — ☃ 日本語"),
]


@pytest.mark.parametrize(("kind", "title"), HOSTILE_TITLES, ids=["quotes", "template", "newline"])
def test_add_view_kind_and_hostile_title_end_up_as_literals(
    project: Path, kind: str, title: str
) -> None:
    cli_ok(project, "add-view", "chart3", "--kind", kind, "--title", title)

    assert load_toml(project)["views"][-1] == {"id": "chart3", "kind": kind, "title": title}
    compile(read(project, LAYOUT), LAYOUT, "exec")
    assert title in string_constants(project, LAYOUT)
    assert render_return_annotation(project / "views" / "chart3.py") == RENDER_RETURNS[kind]
    assert "update_chart3" in functions_of(project, CALLBACKS)
    assert 'Output("chart3", ' in read(project, CALLBACKS)


def test_remove_view_unwires_it_but_keeps_its_module(project: Path) -> None:
    module = read(project, "views/share.py")

    result = cli_ok(project, "remove-view", "share")

    assert view_ids(project) == ["sales", "rows", "total"]
    assert "update_share" not in functions_of(project, CALLBACKS)
    assert 'id="share"' not in read(project, LAYOUT)
    assert read(project, "views/share.py") == module
    assert report(result.stdout)["views/share.py"] == ("keep", "belongs to no view any more")


D = dt.date
FILTER_CASES: dict[str, tuple[list[str], dict[str, Any]]] = {
    "dropdown": (
        ["--option", "Online", "--option", "Retail", "--label", "Sales \"channel\" 'x'"],
        {"label": "Sales \"channel\" 'x'", "options": ["Online", "Retail"]},
    ),
    "multi": ([], {"label": "Channel", "options": ["Online", "Retail", "Partner"]}),
    "checklist": (
        ["--option", "1", "--option", "two"],
        {"label": "Channel", "options": [1, "two"]},
    ),
    "radio": (["--option", "A", "--option", "B"], {"label": "Channel", "options": ["A", "B"]}),
    "range": (["--min", "0", "--max", "500"], {"label": "Channel", "min": 0, "max": 500}),
    "dates": (
        ["--min", "2024-01-01", "--max", "2024-12-31", "--label", "Période"],
        {"label": "Période", "min": D(2024, 1, 1), "max": D(2024, 12, 31)},
    ),
}


@pytest.mark.parametrize(("kind", "case"), FILTER_CASES.items(), ids=list(FILTER_CASES))
def test_add_filter_of_each_kind_reaches_spec_and_generated_code(
    project: Path, kind: str, case: tuple[list[str], dict[str, Any]]
) -> None:
    args, expected = case

    cli_ok(project, "add-filter", "channel", "--kind", kind, *args)

    assert filter_ids(project) == [*DEMO_FILTER_IDS, "channel"]
    assert load_toml(project)["filters"][-1] == {"id": "channel", "kind": kind, **expected}
    declared = generated_filters(project)["channel"]
    assert (declared["kind"], declared["label"]) == (kind, expected["label"])
    assert 'id="channel"' in read(project, "signaling/filters.py")  # its control: FILTERS
    # That the compute step takes it as an input: test_project_grown_with_every_kind_...


def test_remove_filter_takes_it_out_of_spec_and_generated_code(project: Path) -> None:
    cli_ok(project, "remove-filter", "product")

    assert filter_ids(project) == ["region", "year"]
    assert "product" not in generated_filters(project)
    assert 'id="product"' not in read(project, "signaling/filters.py")


def test_project_grown_with_every_kind_imports_and_wires_them(
    project: Path, tmp_path: Path
) -> None:
    cli_ok(project, "add-view", "grid", "--kind", "table", "--title", HOSTILE_TITLES[0][1])
    cli_ok(project, "add-view", "kpi", "--kind", "indicator", "--title", HOSTILE_TITLES[2][1])
    cli_ok(project, "add-view", "chart3")
    for kind, (args, _) in FILTER_CASES.items():
        cli_ok(project, "add-filter", f"f_{kind}", "--kind", kind, *args)

    wiring = app_wiring(project, tmp_path)

    assert {"kpi.children", "chart3.figure"} <= set(wiring)
    assert any(".grid.rowData" in output for output in wiring)
    new_filters = [f"f_{kind}" for kind in FILTER_CASES]
    assert wiring["dashsignal-signal.data"] == sorted([*DEMO_FILTER_IDS, *new_filters])


def test_project_after_removals_imports_without_them(project: Path, tmp_path: Path) -> None:
    cli_ok(project, "remove-view", "share")
    cli_ok(project, "remove-filter", "product")

    wiring = app_wiring(project, tmp_path)

    assert "share.figure" not in wiring
    assert {"sales.figure", "total.children"} <= set(wiring)
    assert wiring["dashsignal-signal.data"] == ["region", "year"]


# --- finding the project --------------------------------------------------------------------


@pytest.mark.parametrize("subfolder", ["views", "signaling", "notes/deeper/still"])
def test_commands_find_the_project_from_a_subfolder(project: Path, subfolder: str) -> None:
    cwd = project / subfolder
    cwd.mkdir(parents=True, exist_ok=True)
    before = {p.name for p in cwd.iterdir()}

    cli_ok(cwd, "add-view", "chart3")

    assert view_ids(project)[-1] == "chart3"
    assert (project / "views" / "chart3.py").is_file()
    assert {p.name for p in cwd.iterdir()} - before <= (
        {"chart3.py"} if subfolder == "views" else set()
    )


@pytest.mark.parametrize(
    ("option", "relative", "command"),
    [
        ("--project", False, ["add-view", "chart3"]),
        ("-p", False, ["add-view", "chart3"]),
        ("-p", True, ["add-view", "chart3"]),
        ("--project", True, ["check"]),
    ],
    ids=["--project-absolute", "-p-absolute", "-p-relative", "check"],
)
def test_project_option_works_from_elsewhere(
    project: Path, tmp_path: Path, option: str, relative: bool, command: list[str]
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = os.path.relpath(project, elsewhere) if relative else str(project)

    result = cli_ok(elsewhere, *command, option, where)

    assert list(elsewhere.iterdir()) == []
    if command[0] == "check":
        assert "check passed" in result.stdout
    else:
        assert view_ids(project)[-1] == "chart3"
        assert (project / "views" / "chart3.py").is_file()


@pytest.mark.parametrize(
    "command", [["add-view", "chart3"], ["regenerate"], ["check"]], ids=lambda c: c[0]
)
def test_outside_any_project_fails_cleanly_naming_the_option(
    tmp_path: Path, command: list[str]
) -> None:
    assert not any((folder / "dashsignal.toml").exists() for folder in tmp_path.parents)
    (tmp_path / "notes.txt").write_text("not a project\n", encoding="utf-8")
    before = disk_state(tmp_path)

    result = cli(tmp_path, *command)

    assert "no dashsignal.toml" in assert_clean_error(result)
    assert "--project" in result.stderr
    assert disk_state(tmp_path) == before


def test_project_option_on_a_folder_without_spec_fails_cleanly(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    before = disk_state(tmp_path)

    result = cli(tmp_path, "add-view", "chart3", "--project", str(folder))

    assert "is not a dashsignal project" in assert_clean_error(result)
    assert "--project" in result.stderr
    assert disk_state(tmp_path) == before


# --- --dry-run ------------------------------------------------------------------------------

# (command, a spec edit made by hand first, what the dry run must announce)
DRY_RUNS: dict[str, tuple[list[str], tuple[str, str] | None, list[str]]] = {
    "add-view": (
        ["add-view", "chart3"],
        None,
        [
            "would update     dashsignal.toml",
            "would create     views/chart3.py",
            "+++ b/views/chart3.py",
        ],
    ),
    "remove-view": (
        ["remove-view", "share"],
        None,
        [
            "would update     dashsignal.toml",
            "would keep       views/share.py",
            "+++ b/signaling/callbacks.py",
        ],
    ),
    "add-filter": (
        ["add-filter", "channel", "--kind", "multi"],
        None,
        ["would update     dashsignal.toml", "+++ b/signaling/filters.py"],
    ),
    "remove-filter": (
        ["remove-filter", "product"],
        None,
        ["would update     dashsignal.toml", "+++ b/signaling/filters.py"],
    ),
    "regenerate": (
        ["regenerate"],
        ('title = "Total sales"', 'title = "Grand total"'),
        [
            "would update     signaling/layout.py",
            "+++ b/signaling/layout.py",
            '+            indicator_card("total", "Grand total"),',
        ],
    ),
}


@pytest.mark.parametrize(("command", "edit", "announced"), DRY_RUNS.values(), ids=list(DRY_RUNS))
def test_dry_run_shows_the_changes_and_writes_nothing(
    project: Path, command: list[str], edit: tuple[str, str] | None, announced: list[str]
) -> None:
    if edit:
        replace_in(project, "dashsignal.toml", *edit)
    before = disk_state(project)

    result = cli_ok(project, *command, "--dry-run")

    for text in announced:
        assert text in result.stdout
    assert result.stdout.rstrip().splitlines()[-1] == DRY_RUN_END
    assert disk_state(project) == before


@pytest.mark.parametrize(
    ("command", "edit"), [(c, e) for c, e, _ in DRY_RUNS.values()], ids=list(DRY_RUNS)
)
def test_dry_run_announces_exactly_what_the_real_run_then_does(
    project: Path, command: list[str], edit: tuple[str, str] | None
) -> None:
    if edit:
        replace_in(project, "dashsignal.toml", *edit)

    dry = report(cli_ok(project, *command, "--dry-run").stdout)
    real = report(cli_ok(project, *command).stdout)

    assert dry
    assert dry == {path: (f"would {verb}", note) for path, (verb, note) in real.items()}


def test_dry_run_of_a_conflict_exits_3_and_writes_nothing(project: Path) -> None:
    make_conflict(project)
    before = disk_state(project)

    result = cli(project, "remove-view", "total", "--dry-run")

    assert result.returncode == 3
    assert "would get conflict markers: signaling/callbacks.py" in result.stderr
    assert report(result.stdout)[CALLBACKS][0] == "would conflict"
    assert result.stdout.rstrip().splitlines()[-1] == DRY_RUN_END
    assert disk_state(project) == before


def test_dry_run_with_force_names_the_backup_but_writes_nothing(project: Path) -> None:
    make_conflict(project)
    before = disk_state(project)

    result = cli_ok(project, "remove-view", "total", "--force", "--dry-run")

    verb, note = report(result.stdout)[CALLBACKS]
    assert verb == "would replace"
    assert note.endswith("saved as signaling/callbacks.py.dashsignal-backup")
    assert result.stdout.rstrip().splitlines()[-1] == DRY_RUN_END
    assert disk_state(project) == before


# --- the user's comments and layout in dashsignal.toml --------------------------------------

TOP = "# TOP: owned by the data team, ask before changing\n"
KEY = "  # KEY: shown on the card"
BETWEEN = "\n# BETWEEN: the charts below are experimental\n"
COMMENTS = [TOP.strip(), KEY.strip(), BETWEEN.strip()]


def add_comments(project: Path) -> str:
    """Comments at the top, on a key line and between two entries; return the new text."""
    text = read(project, "dashsignal.toml")
    text = TOP + text
    text = text.replace('title = "Sales by month"\n', f'title = "Sales by month"{KEY}\n')
    text = text.replace(f"\n{SHARE_BLOCK}", f"{BETWEEN}\n{SHARE_BLOCK}")
    assert all(comment in text for comment in COMMENTS)
    write(project, "dashsignal.toml", text)
    return text


NEW_VIEW = '\n[[views]]\nid = "chart3"\nkind = "graph"\ntitle = "Chart3"\n'
NEW_FILTER = (
    '[[filters]]\nid = "channel"\nkind = "multi"\nlabel = "Channel"\n'
    'options = ["Online", "Retail", "Partner"]\n\n'
)
# command -> how the spec text must change: every other byte stays as the user left it.
SPEC_EDITS: dict[str, tuple[list[str], Callable[[str], str]]] = {
    "add-view": (["add-view", "chart3"], lambda text: text + NEW_VIEW),
    "add-filter": (
        ["add-filter", "channel", "--kind", "multi"],
        lambda text: text.replace("[[views]]", NEW_FILTER + "[[views]]", 1),
    ),
    "remove-view": (["remove-view", "rows"], lambda text: text.replace(ROWS_BLOCK + "\n", "")),
}


@pytest.mark.parametrize(("command", "expected"), SPEC_EDITS.values(), ids=list(SPEC_EDITS))
def test_spec_edits_keep_the_users_comments_and_layout(
    project: Path, command: list[str], expected: Callable[[str], str]
) -> None:
    before = add_comments(project)

    cli_ok(project, *command)

    after = read(project, "dashsignal.toml")
    positions = [after.find(comment) for comment in COMMENTS]
    assert -1 not in positions and positions == sorted(positions)
    assert after == expected(before)


def test_added_view_follows_the_existing_ones(project: Path) -> None:
    add_comments(project)

    cli_ok(project, "add-view", "chart3")

    text = read(project, "dashsignal.toml")
    assert view_ids(project) == [*DEMO_VIEW_IDS, "chart3"]
    assert text.index('id = "chart3"') > text.index('id = "total"')
    assert text.rstrip().endswith('title = "Chart3"')


def test_remove_view_keeps_the_comment_that_documents_the_next_entry(project: Path) -> None:
    doc = "# share: the regional split, reviewed by finance\n"
    replace_in(project, "dashsignal.toml", "\n" + SHARE_BLOCK, "\n" + doc + SHARE_BLOCK)
    before = read(project, "dashsignal.toml")

    cli_ok(project, "remove-view", "sales")

    assert read(project, "dashsignal.toml") == before.replace(SALES_BLOCK + "\n", "")


def test_add_view_to_a_spec_that_writes_its_views_as_inline_tables(project: Path) -> None:
    text = read(project, "dashsignal.toml")
    start = text.index(SALES_BLOCK)
    inline = 'views = [{ id = "sales", kind = "graph" }, { id = "share", kind = "graph" }]\n\n'
    write(project, "dashsignal.toml", inline + text[:start].rstrip("\n") + "\n")
    assert view_ids(project) == ["sales", "share"]

    cli_ok(project, "add-view", "chart3")

    assert view_ids(project) == ["sales", "share", "chart3"]
    assert (project / "views" / "chart3.py").is_file()


# --- ownership: the user's files and edits --------------------------------------------------

USER_FILES = ["app.py", "data.py", "views/sales.py", "README.md", "pyproject.toml", ".gitignore"]
# (command, whether to edit the spec by hand first so that regenerate has work to do)
WRITING_COMMANDS = {
    "add-view": (["add-view", "chart3", "--kind", "table"], False),
    "remove-view": (["remove-view", "share"], False),
    "remove-view-of-the-edited-module": (["remove-view", "sales"], False),
    "add-filter": (["add-filter", "channel", "--kind", "checklist"], False),
    "remove-filter": (["remove-filter", "product"], False),
    "regenerate": (["regenerate"], True),
    "regenerate-force": (["regenerate", "--force"], True),
}


@pytest.mark.parametrize(
    ("command", "edit_spec"), WRITING_COMMANDS.values(), ids=list(WRITING_COMMANDS)
)
def test_no_command_overwrites_an_edited_user_file(
    project: Path, command: list[str], edit_spec: bool
) -> None:
    for path in USER_FILES:
        append_to(project, path, "\n# USER EDIT: mine, not dashsignal's\n")
    if edit_spec:
        replace_in(project, "dashsignal.toml", '"filesystem"', '"redis"')
    before = {path: (project / path).read_bytes() for path in USER_FILES}

    result = cli_ok(project, *command)

    assert any(verb == "update" for verb, _ in report(result.stdout).values())
    assert {path: (project / path).read_bytes() for path in USER_FILES} == before


def test_removed_views_module_is_kept_reported_and_then_fails_check(project: Path) -> None:
    module = (project / "views" / "sales.py").read_bytes()

    result = cli_ok(project, "remove-view", "sales")

    assert report(result.stdout)["views/sales.py"] == ("keep", "belongs to no view any more")
    assert (project / "views" / "sales.py").read_bytes() == module
    checked = cli(project, "check")
    assert checked.returncode == 1
    assert ("orphan", "views/sales.py", "belongs to no view any more") in check_findings(
        checked.stdout
    )


MY_HELPER = '\n\ndef my_helper() -> str:\n    """Added by hand."""\n    return "mine"\n'


@pytest.mark.parametrize(
    ("command", "spec_edit", "generated"),
    [
        (["add-view", "chart3"], None, '"Chart3"'),
        (["regenerate"], ('title = "Total sales"', 'title = "Grand total"'), '"Grand total"'),
    ],
    ids=["add-view", "regenerate"],
)
def test_hand_edits_of_managed_files_are_merged_not_lost(
    project: Path, command: list[str], spec_edit: tuple[str, str] | None, generated: str
) -> None:
    append_to(project, IDS, MY_HELPER)
    replace_in(project, LAYOUT, '"Sales by month"),', '"Monthly sales (edited)"),')
    if spec_edit:
        replace_in(project, "dashsignal.toml", *spec_edit)

    result = cli_ok(project, *command)

    lines = report(result.stdout)
    assert lines[LAYOUT] == ("merge", "your edits kept")
    assert lines.get(IDS, ("",))[0] not in ("update", "replace", "conflict")
    assert read(project, IDS).endswith(MY_HELPER)
    layout = read(project, LAYOUT)
    assert '"Monthly sales (edited)"),' in layout and generated in layout
    compile(layout, LAYOUT, "exec")


# --- clashing edits -------------------------------------------------------------------------


def test_clashing_edit_gets_conflict_markers_and_exit_3(project: Path) -> None:
    mine = make_conflict(project)

    result = cli(project, "remove-view", "total")

    assert result.returncode == 3
    assert "signaling/callbacks.py" in assert_clean_error(result)
    lines = read(project, CALLBACKS).splitlines()
    start = lines.index("<<<<<<< yours")
    middle = lines.index("=======")
    end = next(i for i, line in enumerate(lines) if line.startswith(">>>>>>> "))
    assert start < lines.index(mine) < middle < end
    assert report(result.stdout)[CALLBACKS] == ("conflict", "your edits clash with the new version")
    assert "total" not in view_ids(project)


def test_unresolved_markers_keep_regenerate_failing_and_the_file_untouched(project: Path) -> None:
    make_conflict(project)
    assert cli(project, "remove-view", "total").returncode == 3
    before = disk_state(project)

    result = cli(project, "regenerate")

    assert result.returncode == 3
    assert "signaling/callbacks.py" in assert_clean_error(result)
    assert report(result.stdout)[CALLBACKS] == (
        "conflict",
        "still holds conflict markers: resolve them first",
    )
    assert disk_state(project) == before


@pytest.mark.parametrize(
    "after_conflict", [True, False], ids=["regenerate-force-after-markers", "remove-view-force"]
)
def test_force_resolves_only_the_clashing_hunks_after_a_backup(
    project: Path, after_conflict: bool
) -> None:
    mine = make_conflict(project)
    # An edit of the same file, far from the clash: it clashes with nothing.
    register = "\ndef compute_signal(filters: dict[str, Any]) -> dict[str, Any]:\n"
    replace_in(project, CALLBACKS, register, MY_HELPER.lstrip("\n") + "\n" + register)
    if after_conflict:
        assert cli(project, "remove-view", "total").returncode == 3
        command = ["regenerate", "--force"]
    else:
        command = ["remove-view", "total", "--force"]
    previous = read(project, CALLBACKS)

    result = cli_ok(project, *command)

    backup = f"{CALLBACKS}.dashsignal-backup"
    assert read(project, backup) == previous
    assert backup in result.stdout
    verb, note = report(result.stdout)[CALLBACKS]
    assert verb == "replace" and "your other edits kept" in note
    callbacks = read(project, CALLBACKS)
    # The clashing hunk is the generated one; the helper, which clashed with nothing, is kept.
    generated = read(project, f".dashsignal/base/{CALLBACKS}")
    assert callbacks == generated.replace(register, MY_HELPER.lstrip("\n") + "\n" + register)
    assert mine not in callbacks
    assert "<<<<<<<" not in callbacks and "update_total" not in callbacks
    compile(callbacks, CALLBACKS, "exec")
    # What is left is a clean merge of the user's edit: a note for check, not a problem.
    checked = json.loads(cli(project, "check", "--json").stdout)
    assert [(p["code"], p["path"]) for p in checked["problems"]] == [("orphan", "views/total.py")]
    assert [(n["code"], n["path"]) for n in checked["notes"]] == [("edited", CALLBACKS)]


def test_force_on_a_file_dashsignal_did_not_write_replaces_it_whole(project: Path) -> None:
    """With no base to merge from, nothing tells the user's hunks apart: the new text, backed up."""
    (project / ".dashsignal" / "base" / CALLBACKS).unlink()
    append_to(project, CALLBACKS, MY_HELPER)

    result = cli_ok(project, "regenerate", "--force")

    assert report(result.stdout)[CALLBACKS] == (
        "replace",
        f"replaced (--force); your version saved as {CALLBACKS}.dashsignal-backup",
    )
    assert MY_HELPER not in read(project, CALLBACKS)


# --- bad input ------------------------------------------------------------------------------

SPEC_READERS = {
    "regenerate": ["regenerate"],
    "check": ["check"],
    "add-view": ["add-view", "chart3"],
    "remove-view": ["remove-view", "share"],
    "add-filter": ["add-filter", "channel"],
    "remove-filter": ["remove-filter", "product"],
}


@pytest.mark.parametrize("command", SPEC_READERS.values(), ids=list(SPEC_READERS))
def test_toml_syntax_error_is_located_and_nothing_written(
    project: Path, command: list[str]
) -> None:
    replace_in(project, "dashsignal.toml", TIMEOUT_LINE, TIMEOUT_LINE.replace("= ", "= = ", 1))
    line = (
        read(project, "dashsignal.toml")
        .splitlines()
        .index("timeout = = 300 # seconds an entry is kept")
    )
    before = disk_state(project)

    result = cli(project, *command)

    error = assert_clean_error(result)
    assert re.match(rf"error: dashsignal\.toml:{line + 1}:\d+: ", error), error
    assert disk_state(project) == before


@pytest.mark.parametrize("command", list(SPEC_READERS.values())[:3], ids=list(SPEC_READERS)[:3])
def test_schema_error_names_the_key_and_the_allowed_values(
    project: Path, command: list[str]
) -> None:
    replace_in(project, "dashsignal.toml", 'kind = "table"', 'kind = "pie"')
    before = disk_state(project)

    result = cli(project, *command)

    error = assert_clean_error(result)
    assert "views[2].kind" in error and "graph, table, indicator" in error
    assert disk_state(project) == before


BAD_COMMANDS: dict[str, tuple[list[str], str]] = {
    "existing-view-id": (["add-view", "sales"], "there is already a view with id 'sales'"),
    "existing-filter-id": (["add-view", "region"], "there is already a filter with id 'region'"),
    "existing-id-other-case": (
        ["add-view", "SALES"],
        "already a view with id 'sales' (same as 'SALES' ignoring case)",
    ),
    "id-starts-with-digit": (["add-view", "2x"], "'2x' is not a valid identifier"),
    "id-with-dash": (["add-view", "a-b"], "'a-b' is not a valid identifier"),
    "id-keyword": (["add-view", "class"], "'class' is a Python keyword"),
    "unknown-view-kind": (
        ["add-view", "chart3", "--kind", "pie"],
        "unknown view kind 'pie'; allowed: graph, table, indicator",
    ),
    "remove-unknown-view": (["remove-view", "nope"], "no view 'nope' in dashsignal.toml"),
    "option-on-range": (
        ["add-filter", "price", "--kind", "range", "--option", "3"],
        "--option is for dropdown, multi, checklist and radio",
    ),
    "min-on-dropdown": (
        ["add-filter", "channel", "--min", "1"],
        "--min and --max are for range and dates filters",
    ),
    "min-above-max": (
        ["add-filter", "price", "--kind", "range", "--min", "9", "--max", "1"],
        "min (9) must be less than max (1)",
    ),
    "bad-date": (
        ["add-filter", "period", "--kind", "dates", "--min", "2025-13-01"],
        "--min '2025-13-01' is not a valid bound",
    ),
    "unknown-filter-kind": (["add-filter", "price", "--kind", "slider"], "unknown filter kind"),
    "remove-unknown-filter": (["remove-filter", "nope"], "no filter 'nope' in dashsignal.toml"),
}


@pytest.mark.parametrize(("command", "fragment"), BAD_COMMANDS.values(), ids=list(BAD_COMMANDS))
def test_bad_command_is_refused_cleanly_and_writes_nothing(
    project: Path, command: list[str], fragment: str
) -> None:
    before = disk_state(project)

    result = cli(project, *command)

    assert fragment in assert_clean_error(result)
    assert disk_state(project) == before


@pytest.mark.parametrize(
    ("command", "fragment"),
    [
        (["remove-filter", "region"], "a project needs at least one filter"),
        (["remove-view", "sales"], "a project needs at least one view"),
    ],
    ids=["last-filter", "last-view"],
)
def test_removing_the_last_entry_is_refused(
    tmp_path: Path, command: list[str], fragment: str
) -> None:
    project = demo_project(tmp_path, views=("sales:graph",), filters=("region:dropdown",))
    before = disk_state(project)

    result = cli(project, *command)

    assert fragment in assert_clean_error(result)
    assert disk_state(project) == before


# --- regenerate is idempotent ---------------------------------------------------------------


def test_regenerate_on_a_new_project_has_nothing_to_do(tmp_path: Path) -> None:
    cli_ok(tmp_path, "new", NAME, "--yes")
    project = tmp_path / NAME
    before = disk_state(project)

    result = cli_ok(project, "regenerate")

    assert result.stdout.strip() == NOTHING_TO_DO
    assert disk_state(project) == before


def _swap_sales_and_share(text: str) -> str:
    return (
        text.replace(SALES_BLOCK, "@@").replace(SHARE_BLOCK, SALES_BLOCK).replace("@@", SHARE_BLOCK)
    )


SPEC_HAND_EDITS: dict[str, tuple[Callable[[str], str], list[str]]] = {
    "reorder-views": (_swap_sales_and_share, [LAYOUT]),
    "retitle": (lambda t: t.replace('"Total sales"', '"Grand total"'), [LAYOUT]),
    "backend-redis": (
        lambda t: t.replace('"filesystem"', '"redis"'),
        ["gunicorn.conf.py", "signaling/settings.py"],
    ),
}


@pytest.mark.parametrize(("edit", "updated"), SPEC_HAND_EDITS.values(), ids=list(SPEC_HAND_EDITS))
def test_regenerate_after_a_hand_edit_updates_once_then_has_nothing_to_do(
    project: Path, edit: Callable[[str], str], updated: list[str]
) -> None:
    text = read(project, "dashsignal.toml")
    assert edit(text) != text
    write(project, "dashsignal.toml", edit(text))

    first = report(cli_ok(project, "regenerate").stdout)
    between = disk_state(project)
    second = cli_ok(project, "regenerate")

    assert all(first[path][0] == "update" for path in updated)
    assert second.stdout.strip() == NOTHING_TO_DO
    assert disk_state(project) == between


def test_regenerate_after_a_hand_rename_keeps_the_old_module_and_creates_the_new(
    project: Path,
) -> None:
    old_module = (project / "views" / "rows.py").read_bytes()
    replace_in(project, "dashsignal.toml", 'id = "rows"', 'id = "latest"')

    result = cli_ok(project, "regenerate")

    lines = report(result.stdout)
    assert lines["views/rows.py"] == ("keep", "belongs to no view any more")
    assert lines["views/latest.py"] == ("create", "yours from now on")
    assert (project / "views" / "rows.py").read_bytes() == old_module
    assert render_return_annotation(project / "views" / "latest.py") == "pd.DataFrame"
    callbacks = functions_of(project, CALLBACKS)
    assert "update_latest" in callbacks and "update_rows" not in callbacks


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
        lambda p: cli_ok(p, "add-filter", "channel", "--kind", "multi"),
        ("unread", "data.py"),
        "filter 'channel' (multi) is never read",
    ),
    "orphan": ("filesystem", _view_removed, ("orphan", "views/share.py"), "belongs to no view"),
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


# --- deleted files --------------------------------------------------------------------------


@pytest.mark.parametrize("path", [IDS, CALLBACKS, "assets/dashsignal.css", "requirements.txt"])
def test_deleted_managed_file_is_recreated_by_regenerate(project: Path, path: str) -> None:
    text = read(project, path)
    (project / path).unlink()

    result = cli_ok(project, "regenerate")

    assert report(result.stdout)[path] == ("create", "recreated: it was deleted")
    assert read(project, path) == text


@pytest.mark.parametrize("path", ["README.md", ".gitignore", "pyproject.toml"])
def test_deleted_optional_user_file_stays_deleted(project: Path, path: str) -> None:
    (project / path).unlink()
    before = disk_state(project)

    result = cli_ok(project, "regenerate")

    assert result.stdout.strip() == NOTHING_TO_DO
    assert not (project / path).exists()
    assert disk_state(project) == before


@pytest.mark.parametrize("path", ["views/sales.py", "app.py", "data.py"])
def test_deleted_user_file_the_app_needs_is_recreated(project: Path, path: str) -> None:
    text = read(project, path)
    (project / path).unlink()

    result = cli_ok(project, "regenerate")

    assert report(result.stdout)[path] == ("create", "recreated: the app needs it")
    assert read(project, path) == text


# --- stages and view sources: add-stage, remove-stage, add-view --source --------------------

DAILY_BLOCK = '[[stages]]\nid = "daily"\nsource = "query"\ntitle = "Daily"\n'


def pattern_project(tmp_path: Path, pattern: str, name: str = NAME) -> Path:
    """The demo project in `pattern`, generated in-process."""
    data = build_spec_data(
        name=name,
        title=None,
        views=[parse_view_arg(v) for v in DEFAULT_VIEWS],
        filters=[parse_filter_arg(f) for f in DEFAULT_FILTERS],
        backend="filesystem",
        timeout=300,
        pattern=pattern,
    )
    return generate(tmp_path / name, spec_from_data(data))


def stage_ids(project: Path) -> list[str]:
    return [stage["id"] for stage in load_toml(project).get("stages", [])]


def assert_graph_matches_wiring(project: Path, tmp_path: Path) -> dict[str, list[str]]:
    """What `graph --json` says triggers each callback is what the app really wires."""
    flow = json.loads(cli_ok(project, "graph", "--json").stdout)
    wiring = app_wiring(project, tmp_path)
    filters = sorted(f["id"] for f in flow["filters"])
    if flow["pattern"] == "signal":
        assert wiring[f"{flow['signal']}.data"] == filters
    for stage in flow["stages"]:
        if stage["signal"] is not None:
            assert wiring[f"{stage['signal']}.data"] == sorted(stage["inputs"])
    for view in flow["views"]:
        [output] = [key for key in wiring if re.search(rf"(^|\.\.){view['id']}\.", key)]
        assert wiring[output] == sorted(view["inputs"]), view["id"]
    stores = {key for key in wiring if key.startswith("dashsignal-signal")}
    assert len(stores) == (1 + len(flow["stages"]) if flow["pattern"] == "signal" else 0)
    return wiring


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


# --- deleted stage modules ------------------------------------------------------------------


def test_deleted_stage_module_is_recreated(project: Path) -> None:
    cli_ok(project, "add-stage", "daily")
    text = read(project, "stages/daily.py")
    (project / "stages" / "daily.py").unlink()

    result = cli_ok(project, "regenerate")

    assert report(result.stdout)["stages/daily.py"] == ("create", "recreated: the app needs it")
    assert read(project, "stages/daily.py") == text
