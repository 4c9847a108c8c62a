"""`dashsignal new` to a pipe prints the created tree without Rich, and exactly as Rich does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dashsignal_cli.answers import NewProject
from dashsignal_cli.commands import console, report
from dashsignal_cli.sync import new_project_files

DEMO = list(new_project_files(NewProject.from_flags("demo").spec()))
STAGED = list(
    new_project_files(
        NewProject.from_flags(
            "staged", stages=["daily"], views=["a@daily", "b:table@own", "c:indicator@live"]
        ).spec()
    )
)
TARGETS = [
    "demo",
    "/tmp/some/where/demo",
    "/tmp/" + "a_long_folder_name/" * 5 + "demo",
    "/tmp/[bold]odd[/]/demo",
    "/tmp/:smile:/demo",
    "/tmp/caf\u00e9/demo",
    "/tmp/back\\slash/demo",
]


def created(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    target: str,
    written: list[str],
    *,
    rich: bool,
) -> str:
    with monkeypatch.context() as patch:
        if rich:
            patch.setattr(report, "plain_width", lambda: None)
        console.out.cache_clear()
        try:
            report.report_created(Path(target), written)
        finally:
            console.out.cache_clear()
    return capsys.readouterr().out


@pytest.mark.parametrize("written", [DEMO, STAGED], ids=["demo", "staged"])
@pytest.mark.parametrize("target", TARGETS)
def test_the_plain_tree_is_the_one_rich_prints_at_every_width(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    target: str,
    written: list[str],
) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    monkeypatch.setenv("COLUMNS", "1000")
    lengths = {
        len(line) for line in created(monkeypatch, capsys, target, written, rich=True).split("\n")
    }
    # Each line's own length, and one less (where Rich crops it) and one more.
    for width in sorted({0, 1, 80} | {n + d for n in lengths for d in (-1, 0, 1)}):
        monkeypatch.setenv("COLUMNS", str(width))
        plain = created(monkeypatch, capsys, target, written, rich=False)
        assert plain == created(monkeypatch, capsys, target, written, rich=True), width


def test_the_plain_tree_is_printed_where_it_fits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    monkeypatch.setenv("COLUMNS", "80")
    files = {"app.py": None, "views/": {"a.py": None}}
    records = ".dashsignal/ (records)"
    assert report._plain_created(Path("/tmp/demo"), files, records) == (  # type: ignore[arg-type]
        "created /tmp/demo/\n├── app.py\n├── views/\n│   └── a.py\n└── .dashsignal/ (records)\n"
        "\nNext:\n  cd /tmp/demo\n  pip install -r requirements-dev.txt\n"
        "  python app.py            # http://127.0.0.1:8050\n"
        "  python -m pytest         # the project's own tests\n"
    )
    monkeypatch.setenv("COLUMNS", "12")
    assert report._plain_created(Path("/tmp/demo"), files, records) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("env", "plain"),
    [
        ({}, True),
        ({"FORCE_COLOR": "1"}, False),
        ({"FORCE_COLOR": ""}, True),
        ({"TTY_COMPATIBLE": "1"}, False),
        ({"TTY_COMPATIBLE": "0", "FORCE_COLOR": "1"}, True),
    ],
)
def test_rich_prints_where_it_would_colour(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], plain: bool
) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    monkeypatch.setenv("COLUMNS", "80")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert (console.plain_width() is not None) == plain


def test_new_to_a_pipe_does_not_import_rich(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from dashsignal_cli.cli import main\n"
        "try:\n"
        "    main(['new', 'demo', '--yes'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'rich'), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={"COLUMNS": "100", "XDG_CACHE_HOME": str(tmp_path / "cache")},
        check=True,
    )
    assert result.stdout.startswith("created demo/\n├── .gitignore\n")
    assert result.stderr.strip().splitlines()[-1] == "[]"
