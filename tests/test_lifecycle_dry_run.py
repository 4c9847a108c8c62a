"""--dry-run shows exactly what the real run then does, and writes nothing.

Run in process as a user runs them (tests/cli_helpers.run_cli), on projects generated into
tmp_path.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lifecycle_helpers import (
    CALLBACKS,
    DRY_RUN_END,
    cli,
    cli_ok,
    demo_project,
    disk_state,
    make_conflict,
    replace_in,
    report,
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return demo_project(tmp_path)


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
