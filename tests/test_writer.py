"""The writer applies a plan all at once or not at all."""

from __future__ import annotations

import pathlib
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
    """A plan that creates, updates, merges and deletes: add a view and remove another."""
    (project / "signaling" / "outputs.py").write_text(
        (project / "signaling" / "outputs.py").read_text() + "\n# a hand edit\n"
    )

    def edit(text: str) -> str:
        text = add_entry(text, "views", {"id": "extra", "kind": "table", "title": "Extra"})
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
    assert "# a hand edit" in (project / "signaling" / "outputs.py").read_text()
    assert plan_sync(project).plan.touches_nothing
    leftovers = [p for p in project.rglob("*") if "dashsignal-new" in p.name or "-old" in p.name]
    assert leftovers == []


def count_calls(project: Path, method: str, monkeypatch: pytest.MonkeyPatch) -> int:
    """How often applying the grow plan calls Path.`method`, measured on a copy."""
    copy = project.parent / "copy"
    shutil.copytree(project, copy)
    plan = grow_plan(copy)
    original = getattr(pathlib.Path, method)
    calls = [0]

    def counting(self: Path, *args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(self, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(pathlib.Path, method, counting)
        apply_plan(copy, plan)
    return calls[0]


@pytest.mark.parametrize("method", ["write_text", "replace"])
@pytest.mark.parametrize("where", [0.0, 0.3, 0.6, 1.0])
def test_a_failure_half_way_leaves_the_project_as_it_was(
    project: Path, monkeypatch: pytest.MonkeyPatch, method: str, where: float
) -> None:
    total = count_calls(project, method, monkeypatch)
    failing_call = max(1, round(where * total))
    plan = grow_plan(project)
    before = tree_snapshot(project)
    original = getattr(pathlib.Path, method)
    calls = [0]

    def failing(self: Path, *args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == failing_call:
            raise OSError(28, "No space left on device", str(self))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, method, failing)
    with pytest.raises(WriteError, match="the project was left as it was"):
        apply_plan(project, plan)
    monkeypatch.undo()
    assert tree_snapshot(project) == before
