"""The writer applies a plan all at once or not at all."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from dashsignal_cli.errors import WriteError
from dashsignal_cli.spec_edit import add_entry, remove_entry
from dashsignal_cli.sync import plan_sync
from dashsignal_cli.writer import apply_plan

from cli_helpers import tree_snapshot
from project_helpers import generate, make_spec


def grow_plan(project: Path) -> Any:
    """A plan that creates (files and folders), updates, merges and deletes.

    It adds a view and a stage (stages/ is a new folder) and removes a view.
    """
    (project / "signaling" / "ids.py").write_text(
        (project / "signaling" / "ids.py").read_text() + "\n# a hand edit\n"
    )

    def edit(text: str) -> str:
        text = add_entry(text, "views", {"id": "extra", "kind": "table", "title": "Extra"})
        text = add_entry(text, "stages", {"id": "daily", "source": "query", "title": "Daily"})
        return remove_entry(text, "views", "share")

    return plan_sync(project, edit).plan


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return generate(tmp_path / "shop", make_spec("shop"))


def test_a_plan_is_applied_in_full(project: Path) -> None:
    plan = grow_plan(project)
    apply_plan(project, plan)
    assert (project / "views" / "extra.py").is_file()
    assert "update_extra" in (project / "signaling" / "callbacks.py").read_text()
    assert "# a hand edit" in (project / "signaling" / "ids.py").read_text()
    assert plan_sync(project).plan.touches_nothing
    leftovers = [p for p in project.rglob("*") if "dashsignal-new" in p.name or "-old" in p.name]
    assert leftovers == []


# The system calls the writer makes, patched where they live: os.replace is what
# Path.replace calls, os.open what the writer creates its files with.
OS_CALLS = ["open", "write", "fsync", "replace", "link", "mkdir"]


def count_calls(project: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> int:
    """How often applying the grow plan calls os.`name`, measured on a copy."""
    copy = project.parent / "copy"
    shutil.copytree(project, copy)
    plan = grow_plan(copy)
    original = getattr(os, name)
    calls = [0]

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(os, name, counting)
        apply_plan(copy, plan)
    return calls[0]


@pytest.mark.parametrize("name", OS_CALLS)
@pytest.mark.parametrize("where", [0.0, 0.3, 0.6, 1.0])
def test_a_failure_half_way_leaves_the_project_as_it_was(
    project: Path, monkeypatch: pytest.MonkeyPatch, name: str, where: float
) -> None:
    total = count_calls(project, name, monkeypatch)
    assert total > 0
    failing_call = max(1, round(where * total))
    plan = grow_plan(project)
    before = tree_snapshot(project)
    original = getattr(os, name)
    calls = [0]

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == failing_call:
            raise OSError(errno.ENOSPC, "No space left on device", str(args[0]))
        return original(*args, **kwargs)

    monkeypatch.setattr(os, name, failing)
    if name == "link":  # the writer falls back on a rename: that write still succeeds
        apply_plan(project, plan)
        monkeypatch.undo()
        assert plan_sync(project).plan.touches_nothing
        return
    with pytest.raises(WriteError, match="the project was left as it was"):
        apply_plan(project, plan)
    monkeypatch.undo()
    assert tree_snapshot(project) == before
