"""End to end: a project dashsignal 0.4.0 generated (tests/fixtures/project-0.4.0/demo, made with
`dashsignal new demo --yes --title "Sales dashboard"` at 0.4.0: no [data], its demo inside data.py)
runs on this runtime as it is, and regenerates without a new source: its spec reads as the pandas
source, data.py stays the user's, no signaling/source.py appears, and check passes."""

from __future__ import annotations

import shutil
from pathlib import Path

from test_upgrade_0_3 import own_tests

from dashsignal import __version__
from dashsignal.compat import series_of
from dashsignal_cli.specfile import parse_spec_text

from cli_helpers import run_cli

FIXTURE = Path(__file__).parent / "fixtures" / "project-0.4.0" / "demo"


def project_copy(tmp_path: Path) -> Path:
    project = tmp_path / "demo"
    shutil.copytree(FIXTURE, project)
    return project


def test_a_04_project_runs_on_this_runtime_as_it_is(tmp_path: Path) -> None:
    project = project_copy(tmp_path)
    assert 'require_runtime("0.4")' in (project / "signaling" / "settings.py").read_text()
    result = own_tests(project)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_regenerating_a_04_project_keeps_its_data_py_and_adds_no_source(tmp_path: Path) -> None:
    project = project_copy(tmp_path)
    data = (project / "data.py").read_bytes()
    spec = parse_spec_text((project / "dashsignal.toml").read_text())
    assert spec.data.source == "pandas"

    regenerated = run_cli("regenerate", cwd=project)

    assert regenerated.returncode == 0, regenerated.stderr
    assert (project / "data.py").read_bytes() == data
    assert not (project / "signaling" / "source.py").exists()
    assert run_cli("check", cwd=project).returncode == 0
    assert (
        f'require_runtime("{series_of(__version__)}")'
        in (project / "signaling" / "settings.py").read_text()
    )
    result = own_tests(project)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
