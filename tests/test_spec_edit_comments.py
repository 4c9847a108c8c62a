"""remove-view, remove-filter and remove-stage keep the comments the user wrote in the entry."""

from __future__ import annotations

import tomllib
from collections import Counter
from pathlib import Path

import pytest

from dashsignal_cli.spec_edit import comments, remove_entry
from dashsignal_cli.specfile import ENTRY_COMMENTS

from cli_helpers import load_toml, run_cli
from project_helpers import generate, make_spec

COMMENTED = """\
# my dashboard
[app]
name = "shop"  # do not rename

# regions as finance names them
[[filters]]
id = "region"
options = [
  "North",  # our biggest
  "South#1",  # a '#' in a string is not a comment
]

[[filters]]
id = "year"  # fiscal years
kind = "range"
min = 2019
max = 2025

[[stages]]
id = "daily"
source = "query"  # "query" or the id of the stage it derives from
# daily totals: Bob's request
title = 'Daily # totals'

# sales: reviewed by finance
[[views]]
id = "sales"  # asked for by Ann
# TODO: a second y axis
kind = "graph"
title = \"\"\"Sales # by month\"\"\"

# share: the regional split
[[views]]
id = "share"
source = "daily"
"""


def users_comments(text: str) -> Counter[str]:
    found = Counter(comments(text))
    for ours in ENTRY_COMMENTS:
        del found[ours]
    return found


def test_comments_are_found_outside_strings_only() -> None:
    assert comments(COMMENTED) == [
        "# my dashboard",
        "# do not rename",
        "# regions as finance names them",
        "# our biggest",
        "# a '#' in a string is not a comment",
        "# fiscal years",
        '# "query" or the id of the stage it derives from',
        "# daily totals: Bob's request",
        "# sales: reviewed by finance",
        "# asked for by Ann",
        "# TODO: a second y axis",
        "# share: the regional split",
    ]


@pytest.mark.parametrize(
    ("table", "entry_id", "kept"),
    [
        (
            "views",
            "sales",
            ["# sales: reviewed by finance", "# asked for by Ann", "# TODO: a second y axis"],
        ),
        ("views", "share", ["# share: the regional split"]),
        (
            "filters",
            "region",
            [
                "# regions as finance names them",
                "# our biggest",
                "# a '#' in a string is not a comment",
            ],
        ),
        ("filters", "year", ["# fiscal years"]),
    ],
)
def test_the_removed_entrys_comments_are_kept_where_it_was(
    table: str, entry_id: str, kept: list[str]
) -> None:
    text = COMMENTED.replace('source = "daily"\n', "") if entry_id != "share" else COMMENTED
    edited = remove_entry(text, table, entry_id)
    what = {"views": "view", "filters": "filter"}[table]
    note = f"# dashsignal removed the {what} {entry_id!r} here; its comments:"
    lines = edited.splitlines()
    at = lines.index(note)
    assert lines[at + 1 : at + 1 + len(kept)] == kept
    assert users_comments(text) - users_comments(edited) == Counter()
    assert entry_id not in [e["id"] for e in tomllib.loads(edited)[table]]


def test_a_stage_keeps_the_users_comment_not_the_one_dashsignal_wrote() -> None:
    text = COMMENTED.replace('source = "daily"\n', "")
    edited = remove_entry(text, "stages", "daily")
    assert "# dashsignal removed the stage 'daily' here; its comments:\n" in edited
    assert "# daily totals: Bob's request\n" in edited
    assert "derives from" not in edited
    assert "stages" not in tomllib.loads(edited)


def test_an_entry_without_comments_leaves_no_note() -> None:
    text = COMMENTED.replace("  # fiscal years", "")
    assert "dashsignal removed" not in remove_entry(text, "filters", "year")


@pytest.mark.parametrize(
    "text",
    [
        'views = [\n  { id = "a" },  # the first view\n  { id = "b" },\n]\n[app]\nname = "x"\n',
        '[app]\nname = "x"\n\n[[views]]\nid = "a"\n# about a\n[views.extra]\nk = 1 # odd\n\n'
        '[[views]]\nid = "b"\n',
    ],
    ids=["inline-tables", "sub-table"],
)
def test_no_removal_loses_a_comment_whatever_the_layout(text: str) -> None:
    edited = remove_entry(text, "views", "a")
    assert users_comments(text) - users_comments(edited) == Counter()
    assert [v["id"] for v in tomllib.loads(edited)["views"]] == ["b"]


def test_crlf_files_keep_their_line_endings() -> None:
    text = COMMENTED.replace("\n", "\r\n")
    edited = remove_entry(text, "filters", "year")
    assert "\n" not in edited.replace("\r\n", "")
    assert "\r\n# fiscal years\r\n" in edited


@pytest.mark.parametrize(
    ("command", "block", "comment"),
    [
        (["remove-view", "share"], 'id = "share"', "# the regional split, for Ann"),
        (["remove-filter", "region"], 'id = "region"', "# as finance names them"),
    ],
)
def test_the_remove_commands_keep_the_users_comments(
    tmp_path: Path, command: list[str], block: str, comment: str
) -> None:
    project = generate(tmp_path / "shop", make_spec("shop"))
    spec = project / "dashsignal.toml"
    spec.write_text(spec.read_text().replace(block, f"{block}  {comment}"))
    result = run_cli(*command, cwd=project)
    assert result.returncode == 0, result.stderr
    text = spec.read_text()
    assert f"here; its comments:\n{comment}\n" in text
    assert command[1] not in [e["id"] for e in load_toml(project)[command[0][7:] + "s"]]
    assert run_cli("check", cwd=project).returncode in (0, 1)  # a valid spec, whatever else
