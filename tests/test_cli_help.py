"""Every command explains itself: a one-line summary, an example, and help on every option."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from dashsignal_cli.cli import app

from cli_helpers import run_cli

COMMANDS = [
    "new",
    "add-view",
    "remove-view",
    "add-filter",
    "remove-filter",
    "add-stage",
    "remove-stage",
    "regenerate",
    "check",
    "graph",
]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_a_summary_an_example_and_help_on_every_option(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"], env={"NO_COLOR": "1", "COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Example" in result.output
    assert "[]" not in result.output  # markup eaten by the help renderer
    click_command = typer.main.get_command(app).commands[command]  # type: ignore[attr-defined]
    assert click_command.help and click_command.help.strip().splitlines()[0]
    for parameter in click_command.params:
        if parameter.name != "help":
            assert getattr(parameter, "help", None), f"{command}: --{parameter.name} has no help"


def test_the_root_help_lists_every_command() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"NO_COLOR": "1", "COLUMNS": "200"})
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.output


def test_output_to_a_pipe_has_no_colour_codes(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env["TERM"] = "xterm-256color"
    # The second `new` fails (the folder exists): its error must come through plain too.
    for args in (["new", "shop", "--yes"], ["new", "shop", "--yes"], ["--help"]):
        result = subprocess.run(
            [sys.executable, "-m", "dashsignal_cli", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        assert "\x1b[" not in result.stdout + result.stderr
    assert result.returncode == 0


@pytest.mark.parametrize(
    ("command", "texts"),
    [
        ("new", ["ID[:KIND][@SOURCE]", "--stage", "ID[:SOURCE]", "--pattern", "live/SECONDS"]),
        ("add-view", ["--source", "--interval", "--source live --interval 10"]),
        ("add-stage", ["--source", "--title", "add-stage weekly --source daily"]),
        ("remove-stage", ["remove-stage weekly"]),
        ("graph", ["memoize"]),
    ],
)
def test_help_documents_stages_sources_and_the_pattern(command: str, texts: list[str]) -> None:
    result = CliRunner().invoke(app, [command, "--help"], env={"NO_COLOR": "1", "COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for text in texts:
        assert text in result.output


@pytest.mark.parametrize("command", [[], *([c] for c in COMMANDS)], ids=["root", *COMMANDS])
def test_help_shows_no_type_of_a_flag_no_braces_and_plain_defaults(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], env={"NO_COLOR": "1", "COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output
    [usage] = [line for line in result.output.splitlines() if "Usage:" in line]
    assert "{" not in usage and "}" not in usage
    assert "[default: (" not in result.output
    for line in result.output.splitlines():
        if line.lstrip("│ ").startswith("--") and "<" in line:
            raise AssertionError(f"an option without a metavar: {line.strip()}")


def test_new_usage_names_its_optional_argument_and_add_view_its_required_one() -> None:
    env = {"NO_COLOR": "1", "COLUMNS": "200"}
    new = CliRunner().invoke(app, ["new", "--help"], env=env).output
    add_view = CliRunner().invoke(app, ["add-view", "--help"], env=env).output
    assert "Usage: dashsignal new [OPTIONS] [NAME]" in new
    assert "Usage: dashsignal add-view [OPTIONS] ID" in add_view
    assert "Default: 300." in new


@pytest.mark.parametrize(
    "args",
    [
        *([c, "--help"] for c in COMMANDS),
        ["new", "--no-such-flag"],
        ["add-view"],
        ["regenerate", "--project"],
    ],
    ids=[*COMMANDS, "new-bad-flag", "add-view-missing-id", "regenerate-missing-value"],
)
def test_a_command_run_alone_says_what_it_says_among_all_the_others(
    args: list[str], tmp_path: Path
) -> None:
    # main() composes only the command it is asked to run; its help and its usage errors are
    # the ones of the app with every command.
    env = {"NO_COLOR": "1", "COLUMNS": "200", "FORCE_COLOR": None, "TERM": "dumb"}
    alone = run_cli(*args, cwd=tmp_path)
    among = CliRunner().invoke(app, args, env=env)
    assert (alone.returncode, alone.stdout, alone.stderr) == (
        among.exit_code,
        among.stdout,
        among.stderr,
    )
