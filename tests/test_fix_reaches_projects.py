"""A fix to the runtime reaches a generated project without regenerating it, and a runtime that no
longer runs a project's wiring says so at start-up.

The runtime is installed from this checkout's wheel into a folder of its own (ahead of any
editable install on the path). A later release is that same installed runtime with its version
raised and one change made to its files, as a release would ship it: a patch release (0.N.x) that
tightens the request guard, and a minor release (0.N+1) whose SUPPORTED_WIRING no longer lists the
project's series. The project's files are never touched: their digests are compared before and
after.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import dashsignal
from dashsignal.compat import series_of

from project_helpers import generate, make_spec

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent

# A compute request whose region value is a list nested 12 levels deep: a body of the renderer's
# shape, deeper than any browser sends. The installed runtime's guard (MAX_DEPTH 32) lets it
# through to the filter check (204: an undeclared value); the patched one (MAX_DEPTH 8) answers 400.
PROBE = """
import json, os, sys
import app
client = app.server.test_client()
deep = "North"
for _ in range(12):
    deep = [deep]
body = {
    "output": "dashsignal-signal.data",
    "outputs": {"id": "dashsignal-signal", "property": "data"},
    "inputs": [
        {"id": "region", "property": "value", "value": deep},
        {"id": "year", "property": "value", "value": [2019, 2025]},
    ],
    "changedPropIds": ["region.value"],
    "state": [],
}
import dashsignal
response = client.post("/_dash-update-component", json=body)
print(json.dumps({"runtime": dashsignal.__version__, "status": response.status_code}))
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This checkout's wheel, unpacked as pip installs it."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("dashsignal-*.whl")
    site = out / "site"
    zipfile.ZipFile(wheel).extractall(site)
    return site


def release(installed: Path, target: Path, version: str, patch: dict[str, tuple[str, str]]) -> Path:
    """`installed` as a later release would install it: `version`, and each file's text replaced."""
    shutil.copytree(installed, target)
    patch = {"dashsignal/__init__.py": (dashsignal.__version__, version), **patch}
    for name, (old, new) in patch.items():
        path = target / name
        text = path.read_text(encoding="utf-8")
        assert old in text, (name, old)
        path.write_text(text.replace(old, new), encoding="utf-8")
    return target


def digests(project: Path) -> dict[str, str]:
    return {
        p.relative_to(project).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(project.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and ".cache" not in p.parts
    }


def run_in(
    project: Path, site: Path, code: str, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(site), "CACHE_DIR": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=project, env=env, capture_output=True, text=True
    )


def test_a_patch_release_of_the_runtime_changes_the_project_without_a_regenerate(
    installed: Path, tmp_path: Path
) -> None:
    project = generate(tmp_path / "demo", make_spec("demo"))
    before = digests(project)
    major, minor, patch_level = (int(part) for part in dashsignal.__version__.split("."))
    fixed = release(
        installed,
        tmp_path / "fixed",
        f"{major}.{minor}.{patch_level + 1}",
        {"dashsignal/guard.py": ("MAX_DEPTH = 32", "MAX_DEPTH = 8")},
    )

    answers = []
    for site in (installed, fixed):
        probed = run_in(project, site, PROBE, tmp_path)
        assert probed.returncode == 0, probed.stderr
        answers.append(json.loads(probed.stdout.splitlines()[-1]))

    assert answers == [
        {"runtime": dashsignal.__version__, "status": 204},
        {"runtime": f"{major}.{minor}.{patch_level + 1}", "status": 400},
    ]
    assert digests(project) == before


def test_a_runtime_that_no_longer_runs_the_wiring_stops_the_app_with_one_clear_line(
    installed: Path, tmp_path: Path
) -> None:
    project = generate(tmp_path / "demo", make_spec("demo"))
    major, minor, _ = (int(part) for part in dashsignal.__version__.split("."))
    later = release(installed, tmp_path / "later", f"{major}.{minor + 1}.0", {})

    started = run_in(project, later, "import app", tmp_path)

    assert started.returncode == 1
    last = started.stderr.strip().splitlines()[-1]
    assert last.startswith("dashsignal.compat.WiringMismatch: "), started.stderr
    assert f"generated for dashsignal {series_of(dashsignal.__version__)}" in last
    assert "run `dashsignal regenerate` in the project" in last
    assert "AttributeError" not in started.stderr
    # The same project on the runtime it was generated for starts.
    assert run_in(project, installed, "import app", tmp_path).returncode == 0
    assert re.search(
        r"require_runtime\(\"\d+\.\d+\"\)", (project / "signaling/settings.py").read_text()
    )
