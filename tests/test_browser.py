"""End to end in a real browser: generated projects pass their own tests/test_browser.py, which
loads the dashboard in headless Chrome (Dash's dash_duo), checks that every view is drawn, and
changes each filter through the page, asserting that every view is redrawn from one query."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dashsignal_cli.render import _context, demo_columns
from dashsignal_cli.spec import Spec
from dashsignal_cli.templating import environment

from project_helpers import generate, make_spec

pytestmark = pytest.mark.e2e

DEMO_VIEWS = ("sales:graph", "share:graph", "rows:table", "total:indicator")
DEMO_FILTERS = ("region:dropdown", "product:multi", "year:range")

# Every-filter-kind and redis projects run this same browser test among their own tests in
# tests/test_generated_projects.py; here the demo also proves the README's screenshot is taken.
PROJECTS = {
    "demo": make_spec("demo", views=DEMO_VIEWS, filters=DEMO_FILTERS),
}

BROWSER_TEST = Path("tests") / "test_browser.py"


def generate_with_browser_test(target: Path, spec: Spec) -> Path:
    """The project of `spec`, with tests/test_browser.py rendered from its template unless the
    generator already wrote it."""
    project = generate(target, spec)
    path = project / BROWSER_TEST
    if not path.exists():
        template = environment().get_template("tests/test_browser.py.jinja")
        path.write_text(template.render(_context(spec, demo_columns(spec))), encoding="utf-8")
    return project


@pytest.mark.parametrize("name", sorted(PROJECTS))
def test_generated_browser_test_passes(name: str, tmp_path: Path) -> None:
    assert shutil.which("chromedriver"), (
        "the browser tests need Chrome or Chromium and chromedriver on PATH"
        " (Debian: apt-get install chromium chromium-driver)"
    )
    spec = PROJECTS[name]
    project = generate_with_browser_test(tmp_path / spec.app.name, spec)
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    screenshot = tmp_path / "dashboard.png"
    if name == "demo":
        env["DASHSIGNAL_SCREENSHOT"] = str(screenshot)

    command = [sys.executable, "-m", "pytest", str(BROWSER_TEST), "--headless"]
    result = subprocess.run(
        [*command, "-p", "no:cacheprovider", "-q", "-rs"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )

    output = result.stdout.strip()
    summary = output.splitlines()[-1] if output else ""
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in summary, output[-2000:]
    assert "skipped" not in summary, "a browser test was skipped: " + output[-2000:]
    if name == "demo":
        assert screenshot.is_file(), "no screenshot was saved"
        assert screenshot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        assert screenshot.stat().st_size > 20_000, "the screenshot looks blank"
