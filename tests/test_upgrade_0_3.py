"""End to end: a project dashsignal 0.3.1 generated (tests/fixtures/project-0.3.1/demo, made with
`dashsignal new demo --yes --title "Sales dashboard"` at 0.3.1), first run on this runtime as it
is (what `pip install -U` alone gives a user), then regenerated with this checkout.

0.4 added summaries: the regenerated wiring declares the views and reads each one's summary, but
the project's view modules are the user's, written by 0.3.1 with `render(data)` alone. They must
keep working (the runtime hands them the whole result, cached whole as before) and `check` must
name each one as splittable.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import run_cli

pytestmark = pytest.mark.e2e

FIXTURE = Path(__file__).parent / "fixtures" / "project-0.3.1" / "demo"
VIEWS = ("sales", "share", "rows", "total")


def project_copy(tmp_path: Path) -> Path:
    project = tmp_path / "demo"
    shutil.copytree(FIXTURE, project)
    return project


def own_tests(project: Path) -> subprocess.CompletedProcess[str]:
    """The project's own tests, on this checkout's runtime."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("DASHSIGNAL_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-n", "0", "-p", "no:cacheprovider"],
        cwd=project,
        env=env | {"PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_a_03_project_runs_on_this_runtime_as_it_is(tmp_path: Path) -> None:
    project = project_copy(tmp_path)
    assert 'require_runtime("0.3")' in (project / "signaling" / "settings.py").read_text()
    result = own_tests(project)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_regenerating_keeps_the_view_modules_and_check_names_each_one_to_split(
    tmp_path: Path,
) -> None:
    project = project_copy(tmp_path)
    before = {view: (project / "views" / f"{view}.py").read_bytes() for view in VIEWS}
    assert run_cli("regenerate", cwd=project).returncode == 0
    assert {view: (project / "views" / f"{view}.py").read_bytes() for view in VIEWS} == before
    computations = (project / "signaling" / "computations.py").read_text()
    assert all(f'View("{view}", views.{view})' in computations for view in VIEWS)

    checked = run_cli("check", "--json", cwd=project)
    assert checked.returncode == 0, checked.stdout
    report = json.loads(checked.stdout)
    assert report["problems"] == []
    splittable = sorted(n["path"] for n in report["notes"] if n["code"] == "splittable")
    assert splittable == sorted(f"views/{view}.py" for view in VIEWS)
    assert run_cli("check", "--strict", cwd=project).returncode == 1

    result = own_tests(project)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
