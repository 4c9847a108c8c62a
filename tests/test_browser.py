"""End to end in a real browser: generated projects pass their own tests/test_browser.py, whose
tests are dashsignal.testing.browser_contract's: it loads the dashboard in headless Chrome (one
browser for the run, a fresh page for each test), checks that every view is drawn, changes each
filter through the page, asserting that every view is redrawn from one query, and checks the
page's layout at desktop and phone width.
The demo's run takes the README's screenshots: `DASHSIGNAL_REFRESH_DOCS=1 pytest
tests/test_browser.py` writes them into docs/.

The demo's data is checked here too: it must make sense on those screenshots."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dashsignal.testing.browser_contract import BrowserContract

from cli_helpers import run_cli
from project_helpers import generate, make_spec

pytestmark = pytest.mark.e2e

DEMO_VIEWS = ("sales:graph", "share:graph", "rows:table", "total:indicator")
DEMO_FILTERS = ("region:dropdown", "product:multi", "year:range")

# Every-filter-kind and redis projects run this same browser test among their own tests in
# tests/test_generated_projects.py; here the demo also proves the README's screenshot is taken.
PROJECTS = {
    "demo": make_spec("demo", views=DEMO_VIEWS, filters=DEMO_FILTERS, title="Sales dashboard"),
}
DOCS = Path(__file__).resolve().parents[1] / "docs"
# The README's screenshots, by the variable that makes the generated browser test take each.
SCREENSHOTS = {
    "DASHSIGNAL_SCREENSHOT": "dashboard.png",
    "DASHSIGNAL_PHONE_SCREENSHOT": "dashboard-phone.png",
}

BROWSER_TEST = Path("tests") / "test_browser.py"
# The contract's tests: each runs once, the filter-change test once per filter.
CONTRACT_TESTS = [name for name in vars(BrowserContract) if name.startswith("test_")]


@pytest.mark.parametrize("name", sorted(PROJECTS))
def test_generated_browser_test_passes(name: str, tmp_path: Path) -> None:
    assert shutil.which("chromedriver"), (
        "the browser tests need Chrome or Chromium and chromedriver on PATH"
        " (Debian: apt-get install chromium chromium-driver)"
    )
    spec = PROJECTS[name]
    project = generate(tmp_path / spec.app.name, spec)
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    env["DASHSIGNAL_DEMO_CHECKS"] = "1"  # the demo's view modules, as generated
    if name == "demo":
        env |= {variable: str(tmp_path / file) for variable, file in SCREENSHOTS.items()}

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
    assert "skipped" not in summary, "a browser test was skipped: " + output[-2000:]
    passed = len(CONTRACT_TESTS) - 1 + len(spec.filters)
    assert summary.startswith(f"{passed} passed"), output[-2000:]
    if name == "demo":
        for file in SCREENSHOTS.values():
            screenshot = tmp_path / file
            assert screenshot.is_file(), f"no screenshot {file} was saved"
            assert screenshot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
            assert screenshot.stat().st_size > 20_000, f"the screenshot {file} looks blank"
            if os.environ.get("DASHSIGNAL_REFRESH_DOCS"):
                shutil.copyfile(screenshot, DOCS / file)


# Run inside the demo project: what its data and views give, as JSON.
DEMO_DATA_PROBE = """
import json

import data
import views.extra
import views.rows
import views.total
from signaling.filters import FILTERS

data.DEMO_DELAY_SECONDS = 0
every = data.expensive_query(FILTERS.defaults())
early = data.expensive_query({**FILTERS.defaults(), "year": [2019, 2020]})
rows = views.rows.render(views.rows.summarise(every))
print(json.dumps({
    "year_is_day_year": bool((every["year"] == every["day"].dt.year).all()),
    "early_years": sorted({int(y) for y in early["day"].dt.year.unique()}),
    "first_days": sorted({str(d.date()) for d in rows["day"].head(20)}),
    "amounts_descending": bool(rows["amount"].is_monotonic_decreasing),
    "total": views.total.render(views.total.summarise(every)),
    "extra": views.extra.render(views.extra.summarise(every)),
}))
"""


def test_the_demo_data_makes_sense(tmp_path: Path) -> None:
    # The demo, plus an indicator added by hand as a user adds one.
    project = generate(tmp_path / "demo", PROJECTS["demo"])
    added = run_cli("add-view", "extra", "--kind", "indicator", cwd=project)
    assert added.returncode == 0, added.stdout + added.stderr
    probe = subprocess.run(
        [sys.executable, "-c", DEMO_DATA_PROBE],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    seen = json.loads(probe.stdout)

    # Choosing 2019-2020 shows days of 2019-2020: each row's year is its day's.
    assert seen["year_is_day_year"]
    assert seen["early_years"] == [2019, 2020]
    # The table shows the largest sales first, from many days, not 500 rows of the last day.
    assert seen["amounts_descending"]
    assert len(seen["first_days"]) > 10, seen["first_days"]
    # Money with two decimals; the added indicator does not repeat the demo's total.
    assert re.fullmatch(r"\d{1,3}(,\d{3})*\.\d\d", seen["total"]), seen["total"]
    assert seen["extra"] != seen["total"]
