"""regenerate is idempotent: after a change it updates once, then has nothing to do.

Run in process as a user runs them (tests/cli_helpers.run_cli), on projects generated into
tmp_path.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cli_helpers import (
    render_return_annotation,
)
from lifecycle_helpers import (
    CALLBACKS,
    LAYOUT,
    NAME,
    NOTHING_TO_DO,
    SALES_BLOCK,
    SHARE_BLOCK,
    cli_ok,
    demo_project,
    disk_state,
    functions_of,
    read,
    replace_in,
    report,
    write,
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return demo_project(tmp_path)


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
