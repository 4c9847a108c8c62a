"""Every command explains itself: a one-line summary, an example, and help on every option."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from dashsignal_cli.cli import app

COMMANDS = [
    "new",
    "add-view",
    "remove-view",
    "add-filter",
    "remove-filter",
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
