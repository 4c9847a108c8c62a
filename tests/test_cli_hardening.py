"""Bad input and a hostile file system: one clean error, a non-zero exit, nothing changed.

Real conditions where root allows them: a read-only bind mount, a full tmpfs, an immutable
file (chattr +i), symbolic links to outside the project. The tests run as root, for whom
chmod would not stop a write; each mount is made and removed by its own test.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cli_helpers import assert_clean_error, load_toml, run_cli, tree_snapshot
from fs_helpers import fill, immutable, read_only, small_disk
from project_helpers import generate, make_spec


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return generate(tmp_path / "shop", make_spec("shop"))


GROWING = [
    ["add-view", "extra"],
    ["remove-view", "share"],
    ["add-filter", "channel", "--kind", "multi"],
    ["add-stage", "daily"],
]


def assert_refused_unchanged(root: Path, *args: str, cwd: Path | None = None) -> str:
    """Run a command that must fail cleanly and change nothing under `root`; its error line."""
    before = tree_snapshot(root)
    line = assert_clean_error(run_cli(*args, cwd=cwd or root))
    assert tree_snapshot(root) == before
    return line


# --- a read-only project -------------------------------------------------------------------


@pytest.mark.parametrize("command", GROWING, ids=lambda c: c[0])
def test_a_read_only_project_gets_one_line_and_is_left_alone(
    project: Path, command: list[str]
) -> None:
    with read_only(project):
        line = assert_refused_unchanged(project, *command)
        # The roll-back itself used to raise (unlinking files it never created): no more.
        assert "Read-only file system; the project was left as it was" in line
        assert "read-only" in run_cli(*command, cwd=project).stderr.splitlines()[1]


def test_regenerate_after_a_hand_edit_on_a_read_only_project(project: Path) -> None:
    spec = project / "dashsignal.toml"
    spec.write_text(spec.read_text().replace('title = "Shop"', 'title = "Shop 2"'))
    with read_only(project):
        assert "Read-only" in assert_refused_unchanged(project, "regenerate")
        assert run_cli("check", cwd=project).returncode == 1  # reading still works
        assert run_cli("graph", cwd=project).returncode == 0


def test_new_in_a_read_only_folder(tmp_path: Path) -> None:
    parent = tmp_path / "parent"
    parent.mkdir()
    with read_only(parent):
        line = assert_refused_unchanged(parent, "new", "shop", "--yes")
    assert "Read-only file system" in line


# --- a full disk ---------------------------------------------------------------------------


@pytest.mark.parametrize("leave", [0, 4096, 16384, 65536], ids=lambda n: f"{n // 1024}k-free")
@pytest.mark.parametrize("command", GROWING, ids=lambda c: c[0])
def test_a_full_disk_gets_one_line_and_changes_nothing(
    tmp_path: Path, command: list[str], leave: int
) -> None:
    with small_disk(tmp_path / "disk", "2m") as disk:
        project = generate(disk / "shop", make_spec("shop"))
        fill(disk, leave)
        before = tree_snapshot(project)
        result = run_cli(*command, cwd=project)
        if result.returncode == 0:  # there was room enough after all
            assert leave > 0 and tree_snapshot(project) != before
            return
        line = assert_clean_error(result)
        assert "No space left on device; the project was left as it was" in line
        assert tree_snapshot(project) == before


def test_new_on_a_full_disk_leaves_nothing(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", "64k") as disk:
        line = assert_refused_unchanged(disk, "new", "shop", "--yes")
        assert "No space left on device" in line
        assert list(disk.iterdir()) == []


# --- an immutable file: a rename fails after the commit point -------------------------------


@pytest.mark.parametrize("locked", ["signaling/callbacks.py", ".dashsignal/manifest.json"])
def test_an_immutable_file_fails_the_rename_and_everything_is_put_back(
    project: Path, locked: str
) -> None:
    with immutable(project / locked):
        line = assert_refused_unchanged(project, "add-view", "extra")
    assert f"cannot write {locked}" in line and "the project was left as it was" in line
    assert not list((project / ".dashsignal").glob("journal*"))


# --- names too long, folders missing -------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["new", "a" * 300, "--yes"],
        ["new", "shop", "--yes", "-C", "b" * 300],
        ["new", "shop", "--yes", "-C", "missing/deeper"],
        ["new", "shop", "--yes", "--view", "v" * 300],
        ["new", "shop", "--yes", "--filter", "f" * 300 + ":range"],
    ],
    ids=["name", "directory", "missing-parent", "view-id", "filter-id"],
)
def test_new_refuses_bad_names_and_folders_in_one_line(tmp_path: Path, args: list[str]) -> None:
    line = assert_refused_unchanged(tmp_path, *args)
    assert "Traceback" not in line


@pytest.mark.parametrize(
    "command", [["add-view", "v" * 300], ["add-filter", "f" * 300], ["add-stage", "s" * 300]]
)
def test_a_300_character_id_is_refused_before_any_file_name_is_made(
    project: Path, command: list[str]
) -> None:
    line = assert_refused_unchanged(project, *command)
    assert "300 characters long; at most 64" in line


# --- symbolic links to outside the project -------------------------------------------------


LINKS = {
    "views": (["add-view", "extra"], "views"),
    "stages": (["add-stage", "daily"], "stages"),
    "signaling": (["add-view", "extra"], "signaling"),
    "signaling/callbacks.py": (["add-view", "extra"], "signaling/callbacks.py"),
    "dashsignal.toml": (["add-view", "extra"], "dashsignal.toml"),
    ".dashsignal": (["add-view", "extra"], ".dashsignal"),
    ".dashsignal/base": (["add-view", "extra"], ".dashsignal/base"),
}


@pytest.mark.parametrize("link", list(LINKS))
@pytest.mark.parametrize("dry_run", [False, True], ids=["run", "dry-run"])
def test_a_link_to_outside_the_project_is_refused_before_anything_is_written(
    tmp_path: Path, link: str, dry_run: bool
) -> None:
    project = generate(tmp_path / "shop", make_spec("shop"))
    outside = tmp_path / "outside"
    outside.mkdir()
    place = project / link
    moved = outside / place.name
    if place.exists():
        shutil.move(place, moved)
    else:
        moved.mkdir()
    place.symlink_to(moved, target_is_directory=moved.is_dir())
    command, named = LINKS[link]
    before_outside = tree_snapshot(outside)

    line = assert_refused_unchanged(project, *command, *(["--dry-run"] * dry_run))

    assert line.startswith("error: refusing to write ")
    assert f"{named} is a symbolic link to {moved}, outside the project" in line
    assert tree_snapshot(outside) == before_outside
    if not dry_run:
        codes = [p.split()[0] for p in run_cli("check", cwd=project).stdout.splitlines()]
        assert "outside" in codes


def test_a_link_inside_the_project_is_fine(project: Path) -> None:
    (project / "views").rename(project / "my_views")
    (project / "views").symlink_to("my_views", target_is_directory=True)
    assert run_cli("add-view", "extra", cwd=project).returncode == 0
    assert (project / "my_views" / "extra.py").is_file()


def test_a_user_file_linked_outside_is_read_but_never_written(
    project: Path, tmp_path: Path
) -> None:
    shared = tmp_path / "shared_data.py"
    shutil.move(project / "data.py", shared)
    (project / "data.py").symlink_to(shared)
    assert run_cli("add-view", "extra", cwd=project).returncode == 0
    assert (project / "data.py").is_symlink()


# --- ids that clash with modules, and filters with too many states ---------------------------


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (["add-view", "__init__"], "id '__init__' is a dunder name"),
        (["add-view", "__main__", "--kind", "table"], "id '__main__' is a dunder name"),
        (["add-view", "signaling"], "id 'signaling' is reserved: it is a package or module"),
        (["add-view", "dash"], "id 'dash' is reserved: it is a module the generated code"),
        (["add-filter", "pandas"], "id 'pandas' is reserved"),
        (["add-filter", "views", "--kind", "range"], "id 'views' is reserved"),
        (["add-stage", "tests"], "id 'tests' is reserved"),
        (["add-stage", "flask"], "id 'flask' is reserved"),
        (["add-view", "class"], "is a Python keyword"),
    ],
)
def test_an_id_that_clashes_is_refused_by_every_command(
    project: Path, command: list[str], expected: str
) -> None:
    assert expected in assert_refused_unchanged(project, *command)


@pytest.mark.parametrize(
    "flag",
    [
        ["--view", "__init__"],
        ["--view", "plotly:table"],
        ["--filter", "data:multi"],
        ["--stage", "app"],
        ["--view", "x@views", "--stage", "views"],
    ],
)
def test_new_refuses_a_clashing_id_in_its_flags(tmp_path: Path, flag: list[str]) -> None:
    line = assert_refused_unchanged(tmp_path, "new", "shop", "--yes", *flag)
    assert "reserved" in line or "dunder" in line


def test_a_clashing_id_written_into_the_spec_by_hand_is_refused(project: Path) -> None:
    spec = project / "dashsignal.toml"
    spec.write_text(spec.read_text().replace('id = "share"', 'id = "__init__"'))
    for command in (["regenerate"], ["add-view", "extra"], ["check"], ["graph"]):
        line = assert_refused_unchanged(project, *command)
        assert "views[1].id: id '__init__' is a dunder name" in line


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            ("step = 1\n", "step = 1e-300\n"),
            "filters[1].step: 1e-300 gives 6e+300 steps from min (2019) to max (2025); a range "
            "filter has at most 1000 steps, so a step of at least 0.006",
        ),
        (
            ("max = 2025\nstep = 1\n", "max = 2025000\nstep = 1\n"),
            "filters[1].step: 1 gives 2.02e+06 steps from min (2019) to max (2025000)",
        ),
        (
            ("max = 2025\nstep = 1\n", "max = 2025000\n"),
            "",  # whole numbers without a step: the step grows with the range
        ),
    ],
)
def test_a_range_step_with_unbounded_states_is_refused_in_the_spec(
    project: Path, edit: tuple[str, str], expected: str
) -> None:
    spec = project / "dashsignal.toml"
    spec.write_text(spec.read_text().replace(*edit))
    if not expected:
        assert run_cli("regenerate", cwd=project).returncode == 0
        return
    assert expected in assert_refused_unchanged(project, "regenerate")


@pytest.mark.parametrize(
    ("flag", "ok"),
    [
        ("price:range=0..1", True),
        ("price:range=0.5..0.75", True),
        ("price:range=0..1000000", True),
        ("period:dates=2020-01-01..2029-12-31", True),
        ("period:dates=2000-01-01..2025-12-31", False),
    ],
)
def test_filter_flags_are_held_to_the_same_bounds(tmp_path: Path, flag: str, ok: bool) -> None:
    args = ["new", "shop", "--yes", "--filter", flag]
    if ok:
        assert run_cli(*args, cwd=tmp_path).returncode == 0
        return
    line = assert_refused_unchanged(tmp_path, *args)
    assert line == (
        f"error: filter {flag!r}: min (2000-01-01) to max (2025-12-31) spans 9496 days; a dates "
        "filter spans at most 3653 days (ten years: 6,677,685 (from, to) pairs, each its own "
        "cache entry)"
    )


def test_add_filter_with_a_dates_span_over_the_bound(project: Path) -> None:
    line = assert_refused_unchanged(
        project, "add-filter", "period", "--kind", "dates", "--min", "1990-01-01"
    )
    assert "spans at most 3653 days" in line
    assert [f["id"] for f in load_toml(project)["filters"]] == ["region", "year"]


# --- bad input of every kind: the tree is byte-identical afterwards --------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["add-view", "sales"],
        ["add-view", "x", "--kind", "pie"],
        ["add-view", "x", "--source", "nowhere"],
        ["remove-view", "nope"],
        ["remove-filter", "nope"],
        ["remove-stage", "nope"],
        ["add-filter", "x", "--kind", "range", "--min", "5", "--max", "1"],
        ["add-filter", "x", "--kind", "range", "--min", "zero"],
        ["add-stage", "query"],
        ["add-stage", "daily", "--source", "weekly"],
        ["graph", "--format", "png"],
    ],
)
def test_bad_input_changes_nothing_on_disk(project: Path, command: list[str]) -> None:
    assert_refused_unchanged(project, *command)


def test_a_folder_where_a_generated_file_belongs(project: Path) -> None:
    (project / "signaling" / "callbacks.py").unlink()
    (project / "signaling" / "callbacks.py").mkdir()
    line = assert_refused_unchanged(project, "regenerate")
    assert "is a folder where dashsignal expects a file" in line
