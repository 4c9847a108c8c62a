"""Edits to dashsignal.toml keep the user's comments and layout.

Run in process as a user runs them (tests/cli_helpers.run_cli), on projects generated into
tmp_path.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from lifecycle_helpers import (
    COMMENTS,
    DEMO_VIEW_IDS,
    ROWS_BLOCK,
    SALES_BLOCK,
    SHARE_BLOCK,
    add_comments,
    cli_ok,
    demo_project,
    read,
    replace_in,
    view_ids,
    write,
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return demo_project(tmp_path)


# --- the user's comments and layout in dashsignal.toml --------------------------------------

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
