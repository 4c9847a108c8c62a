"""A write interrupted anywhere leaves the project entirely old or entirely new.

The writer keeps a journal in .dashsignal/ before its first step; the next command (any of
them) finishes or undoes the write, and `check` says that it did. Interruptions are real: a
child process killed at every system call of a write, and real `dashsignal` processes killed
with SIGKILL at random moments of a large regenerate.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dashsignal_cli.answers import build_spec_data, parse_filter_arg, parse_view_arg
from dashsignal_cli.journal import is_temporary_name
from dashsignal_cli.planner import Plan
from dashsignal_cli.spec import spec_from_data
from dashsignal_cli.spec_edit import add_entry, remove_entry
from dashsignal_cli.sync import plan_sync
from dashsignal_cli.writer import apply_plan, recover

from cli_helpers import assert_clean_error, run_cli, tree_snapshot
from project_helpers import generate

Snapshot = dict[str, bytes | None]


def big_project(target: Path, views: int = 24) -> Path:
    spec = spec_from_data(
        build_spec_data(
            name="shop",
            title=None,
            views=[parse_view_arg(f"chart{i}:{('graph', 'table')[i % 2]}") for i in range(views)],
            filters=[parse_filter_arg(f) for f in ("region", "year:range")],
            backend="filesystem",
            timeout=300,
        )
    )
    return generate(target, spec)


def rename_every_view(text: str, views: int = 24) -> str:
    """A spec edit that touches most of the project: every view renamed, a filter added."""
    for i in range(views):
        text = add_entry(text, "views", {"id": f"renamed{i}", "kind": "graph", "title": "R"})
        text = remove_entry(text, "views", f"chart{i}")
    return add_entry(text, "filters", {"id": "product", "kind": "multi", "options": ["a", "b"]})


def no_temporary_files(root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() for p in root.rglob("*") if is_temporary_name(p.name)]


def journals(root: Path) -> list[str]:
    return sorted(p.name for p in (root / ".dashsignal").glob("journal*"))


@pytest.fixture(scope="module")
def old_and_new(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Snapshot, Snapshot]:
    """A project whose spec was edited by hand (old), and the same after regenerate (new)."""
    base = tmp_path_factory.mktemp("states")
    old = big_project(base / "old")
    spec = old / "dashsignal.toml"
    spec.write_text(rename_every_view(spec.read_text()))
    new = base / "new"
    shutil.copytree(old, new)
    assert run_cli("regenerate", cwd=new).returncode == 0
    old_tree, new_tree = tree_snapshot(old), tree_snapshot(new)
    assert old_tree != new_tree
    return old, old_tree, new_tree


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Plan, Snapshot, Snapshot]:
    """A smaller edited project, the plan that regenerates it, and both states."""
    base = tmp_path_factory.mktemp("planned")
    old = big_project(base / "old", views=6)
    spec = old / "dashsignal.toml"
    spec.write_text(rename_every_view(spec.read_text(), views=6))
    plan = plan_sync(old).plan
    new = shutil.copytree(old, base / "new")
    apply_plan(new, plan)
    return old, plan, tree_snapshot(old), tree_snapshot(new)


# --- a child process killed at each system call of a write ---------------------------------

# Every call by which the writer changes the disk (Path.replace calls os.replace, and so on).
_STEPS = ("open", "write", "fsync", "replace", "link", "unlink", "mkdir", "rmdir")


def _run_killed_at(root: Path, plan: Plan, step: int | None) -> int:
    """In a forked child, apply `plan` to `root`; the `step`-th call above kills the child.

    Returns how many such calls the write made (when it was not killed). The plan is made by
    the parent, once: what a kill may leave is compared with one old and one new state.
    """
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read)
        try:
            calls = [0]
            originals = {name: getattr(os, name) for name in _STEPS}

            def wrap(name: str) -> Callable[..., Any]:
                def call(*args: Any, **kwargs: Any) -> Any:
                    calls[0] += 1
                    if calls[0] == step:
                        os._exit(9)  # as abrupt as SIGKILL: no clean-up, no finally
                    return originals[name](*args, **kwargs)

                return call

            for name in _STEPS:
                setattr(os, name, wrap(name))
            apply_plan(root, plan)
            for name in _STEPS:
                setattr(os, name, originals[name])
            os.write(write, str(calls[0]).encode())
            os._exit(0)
        except BaseException:
            os._exit(3)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    with os.fdopen(read) as pipe:
        written = pipe.read()
    code = os.waitstatus_to_exitcode(status)
    assert code == (9 if step else 0), f"child exited {code}"
    return int(written) if written else 0


def test_a_write_killed_at_any_step_is_finished_or_undone_by_the_next_command(
    planned: tuple[Path, Plan, Snapshot, Snapshot], tmp_path: Path
) -> None:
    old, plan, old_tree, new_tree = planned
    probe = shutil.copytree(old, tmp_path / "probe")
    total = _run_killed_at(probe, plan, None)
    assert tree_snapshot(probe) == new_tree
    assert total > 100  # every file's open, write, fsync and renames

    outcomes = {"old": 0, "new": 0}
    for step in range(1, total + 1):
        work = shutil.copytree(old, tmp_path / f"kill{step}")
        _run_killed_at(work, plan, step)
        recover(work)
        after = tree_snapshot(work)
        assert after in (old_tree, new_tree), f"a mix of old and new after a kill at step {step}"
        outcomes["old" if after == old_tree else "new"] += 1
        shutil.rmtree(work)
    # Killed before the commit point, the write is undone; after it, finished.
    assert outcomes["old"] > 10 and outcomes["new"] > 10, outcomes


# --- real dashsignal processes killed with SIGKILL -----------------------------------------


def _env() -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1", "PYTHONUTF8": "1"}


def _kill_during(command: list[str], root: Path, rng: random.Random) -> float:
    """Start `dashsignal COMMAND` in `root`, SIGKILL it at a random moment; return when.

    Half of the kills wait for the journal (the write under way) and then a random fraction of
    a typical write; the other half land at a random time from the start.
    """
    journal = root / ".dashsignal" / "journal-prepare.json"
    start = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-m", "dashsignal_cli", *command],
        cwd=root,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=_env(),
    )
    try:
        if rng.random() < 0.5:
            time.sleep(rng.uniform(0, 1.5))
        else:
            while not journal.exists() and child.poll() is None:
                pass  # the write's first step is a matter of microseconds: poll hard
            time.sleep(rng.uniform(0, 0.05))
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait()
    return time.monotonic() - start


def test_sigkill_at_random_moments_of_a_large_regenerate(
    old_and_new: tuple[Path, Snapshot, Snapshot], tmp_path: Path
) -> None:
    old, old_tree, new_tree = old_and_new
    rng = random.Random(20260101)
    seen = {"old": 0, "new": 0, "interrupted": 0}
    expected = {"old": _check_codes(old)}
    done = shutil.copytree(old, tmp_path / "done")
    assert run_cli("regenerate", cwd=done).returncode == 0
    expected["new"] = _check_codes(done)
    for trial in range(16):
        work = tmp_path / f"trial{trial}"
        shutil.copytree(old, work)
        _kill_during(["regenerate"], work, rng)
        interrupted = bool(journals(work))
        # The next command, whatever it is, sees one whole state: here, check.
        result = run_cli("check", "--json", cwd=work)
        after = tree_snapshot(work)
        assert after in (old_tree, new_tree), f"trial {trial}: a mix of old and new files"
        assert no_temporary_files(work) == [] and journals(work) == []
        codes = [p["code"] for p in json.loads(result.stdout)["problems"]]
        state = "old" if after == old_tree else "new"
        assert codes == ["interrupted"] * interrupted + expected[state], (trial, codes)
        seen["interrupted" if interrupted else state] += 1
        shutil.rmtree(work)
    assert seen["interrupted"] >= 3, seen


def _check_codes(root: Path) -> list[str]:
    return [p["code"] for p in json.loads(run_cli("check", "--json", cwd=root).stdout)["problems"]]


def test_sigkill_during_add_view_then_add_view_again(tmp_path: Path) -> None:
    """Killed or not, running the same command again ends in the same project."""
    rng = random.Random(7)
    reference = big_project(tmp_path / "reference", views=8)
    pristine = tmp_path / "pristine"
    shutil.copytree(reference, pristine)
    assert run_cli("add-view", "extra", cwd=reference).returncode == 0
    expected = tree_snapshot(reference)
    for trial in range(6):
        work = tmp_path / f"trial{trial}"
        shutil.copytree(pristine, work)
        _kill_during(["add-view", "extra"], work, rng)
        result = run_cli("add-view", "extra", cwd=work)
        if result.returncode != 0:  # the first run had finished: the view is there already
            # (It may have been killed after its last rename: then this run first says that
            # it finished that write, and then that the view is there.)
            lines = result.stderr.splitlines()
            if lines and lines[0].startswith("recovered: "):
                assert "was finished (rolled forward)" in lines[0]
                result = dataclasses.replace(result, stderr="\n".join(lines[1:]) + "\n")
            assert "already a view with id 'extra'" in assert_clean_error(result)
        assert tree_snapshot(work) == expected, f"trial {trial}"
        shutil.rmtree(work)


# --- what the next command says, and what check reports -------------------------------------


def _interrupted_copy(
    planned: tuple[Path, Plan, Snapshot, Snapshot], tmp_path: Path, step: int
) -> Path:
    """A copy of the planned project whose write was killed at `step` (< 0: from the end)."""
    old, plan, _, _ = planned
    if step < 0:
        step += _run_killed_at(shutil.copytree(old, tmp_path / "probe"), plan, None)
    work = shutil.copytree(old, tmp_path / "work")
    _run_killed_at(work, plan, step)
    assert journals(work)
    return work


def test_the_next_command_says_it_finished_an_interrupted_write(
    planned: tuple[Path, Plan, Snapshot, Snapshot], tmp_path: Path
) -> None:
    new_tree = planned[3]
    work = _interrupted_copy(planned, tmp_path, -5)  # renaming into place: rolled forward
    result = run_cli("regenerate", cwd=work)
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("recovered: a write interrupted in its commit step")
    assert "rolled forward" in result.stderr
    assert all(line.split()[0] == "keep" for line in result.stdout.splitlines())
    assert tree_snapshot(work) == new_tree


def test_check_reports_the_interrupted_write_it_undid(
    planned: tuple[Path, Plan, Snapshot, Snapshot], tmp_path: Path
) -> None:
    old_tree = planned[2]
    work = _interrupted_copy(planned, tmp_path, 40)  # writing the new texts: rolled back
    result = run_cli("check", cwd=work)
    assert result.returncode == 1
    assert "interrupted  .dashsignal/: a write interrupted in its prepare step" in result.stdout
    assert "rolled back" in result.stdout
    assert tree_snapshot(work) == old_tree
    again = json.loads(run_cli("check", "--json", cwd=work).stdout)
    assert "interrupted" not in [p["code"] for p in again["problems"]]


def test_a_dry_run_refuses_to_plan_over_an_interrupted_write(
    planned: tuple[Path, Plan, Snapshot, Snapshot], tmp_path: Path
) -> None:
    work = _interrupted_copy(planned, tmp_path, 40)
    before = tree_snapshot(work)
    result = run_cli("regenerate", "--dry-run", cwd=work)
    line = assert_clean_error(result)
    assert "interrupted while writing the project" in line
    assert "Run `dashsignal regenerate`" in result.stderr
    assert tree_snapshot(work) == before


def test_a_damaged_journal_is_reported_in_one_line_and_nothing_is_touched(
    planned: tuple[Path, Plan, Snapshot, Snapshot], tmp_path: Path
) -> None:
    work = _interrupted_copy(planned, tmp_path, -5)
    journal = work / ".dashsignal" / "journal-commit.json"
    data = json.loads(journal.read_text())
    data["steps"][0]["path"] = "../outside.py"  # tampered with: must not be followed
    journal.write_text(json.dumps(data))
    before = tree_snapshot(work)
    for command in (["regenerate"], ["add-view", "x"], ["check"]):
        line = assert_clean_error(run_cli(*command, cwd=work))
        assert "journal-commit.json is damaged" in line
    report = json.loads(run_cli("check", "--json", cwd=work).stdout)
    assert [p["code"] for p in report["problems"]] == ["interrupted"]
    assert tree_snapshot(work) == before
    assert not (tmp_path / "outside.py").exists()


def test_check_reports_temporary_files_no_journal_accounts_for(tmp_path: Path) -> None:
    """What a dashsignal from before journals left when it was killed between two renames."""
    project = big_project(tmp_path / "shop", views=2)
    leftover = project / "signaling" / ".callbacks.py.0123abcd.dashsignal-old"
    leftover.write_text("# the old callbacks\n")
    result = run_cli("check", "--json", cwd=project)
    assert result.returncode == 1
    problems = json.loads(result.stdout)["problems"]
    assert {"code": "leftover", "path": "signaling/.callbacks.py.0123abcd.dashsignal-old"} in [
        {"code": p["code"], "path": p["path"]} for p in problems
    ]
    assert leftover.read_text() == "# the old callbacks\n"  # not ours to delete


def test_a_second_command_waits_its_turn(tmp_path: Path) -> None:
    import fcntl

    project = big_project(tmp_path / "shop", views=2)
    before = tree_snapshot(project)
    handle = os.open(project, os.O_RDONLY)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)  # as a running dashsignal command holds it
        line = assert_clean_error(run_cli("add-view", "extra", cwd=project))
        assert "another dashsignal command is changing" in line
    finally:
        os.close(handle)
    assert tree_snapshot(project) == before
