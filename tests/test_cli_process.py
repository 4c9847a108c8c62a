"""The CLI tests run `dashsignal` in process; here a real interpreter runs the same commands.

What only a process shows: the exit status the shell sees, what reaches its two pipes, and that
a project written by the console script is the one the in-process run writes. Each case runs
both ways on twin folders and must agree exactly (the in-process runner is what the other CLI
tests trust). Ctrl-C and terminals are in test_cli_interactive.py, kills in test_transactions.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cli_helpers import CliResult, run_cli, run_cli_process, tree_snapshot
from lifecycle_helpers import demo_project, make_conflict, replace_in


def _demo(folder: Path) -> Path:
    folder.mkdir()
    return demo_project(folder, "shop")


def _conflicted(folder: Path) -> Path:
    """The demo with a hand edit to the line that wires `total`, and that view renamed in the
    spec: regenerating them clashes."""
    project = _demo(folder)
    make_conflict(project)
    replace_in(project, "dashsignal.toml", 'id = "total"', 'id = "turnover"')
    return project


def _empty(folder: Path) -> Path:
    folder.mkdir()
    return folder


# (command, the folder it runs in, made fresh for each run, the exit status both must have)
CASES: list[tuple[list[str], Callable[[Path], Path], int]] = [
    (["new", "shop", "--yes"], _empty, 0),
    (["new", "shop", "--view", "x:pie", "--yes"], _empty, 1),  # a usage error
    (["new", "--yes"], _empty, 2),  # no name, and nothing to ask it with
    (["add-view", "extra", "--kind", "table"], _demo, 0),
    (["add-view", "sales"], _demo, 1),  # the id is taken
    (["regenerate"], _conflicted, 3),  # a clashing edit: conflict markers
    (["regenerate", "--dry-run"], _conflicted, 3),
    (["check"], _conflicted, 1),
    (["check", "--json"], _empty, 2),  # no project: check cannot run
    (["graph"], _demo, 0),
    (["--version"], _empty, 0),
]


def _run_both(
    tmp_path: Path, args: list[str], make: Callable[[Path], Path]
) -> tuple[CliResult, CliResult, Path, Path]:
    here = make(tmp_path / "in-process")
    there = make(tmp_path / "process")
    return run_cli(*args, cwd=here), run_cli_process(*args, cwd=there), here, there


@pytest.mark.parametrize(
    ("args", "make", "status"), CASES, ids=[" ".join(case[0]) for case in CASES]
)
def test_a_real_process_exits_prints_and_writes_as_the_in_process_run(
    tmp_path: Path, args: list[str], make: Callable[[Path], Path], status: int
) -> None:
    inside, process, here, there = _run_both(tmp_path, args, make)
    assert process.returncode == status, process.stderr
    assert inside.returncode == status, inside.stderr
    assert "Traceback" not in process.stderr
    # The folders' names differ, and so does every path printed: compare with them swapped.
    assert inside.stdout.replace(str(here), "<project>") == process.stdout.replace(
        str(there), "<project>"
    )
    assert inside.stderr.replace(str(here), "<project>") == process.stderr.replace(
        str(there), "<project>"
    )
    assert tree_snapshot(here) == tree_snapshot(there)
