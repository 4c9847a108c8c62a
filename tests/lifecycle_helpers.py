"""Helpers of the lifecycle tests (tests/test_lifecycle_*.py): projects made in-process, the
commands run as a user runs them (tests/cli_helpers.run_cli), and readers of what they wrote.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from dashsignal_cli.answers import (
    DEFAULT_FILTERS,
    DEFAULT_VIEWS,
)

from cli_helpers import (
    CliResult,
    load_toml,
    run_cli,
    tree_snapshot,
)
from project_helpers import generate, make_spec

NAME = "proj"
DEMO_VIEW_IDS = ["sales", "share", "rows", "total"]
DEMO_FILTER_IDS = ["region", "product", "year"]
RENDER_RETURNS = {"graph": "Figure", "table": "pd.DataFrame", "indicator": "str"}

# The [[views]] blocks of the demo spec exactly as `dashsignal new` writes them.
SALES_BLOCK = '[[views]]\nid = "sales"\nkind = "graph"\ntitle = "Sales by month"\n'
SHARE_BLOCK = '[[views]]\nid = "share"\nkind = "graph"\ntitle = "Sales by region"\n'
ROWS_BLOCK = '[[views]]\nid = "rows"\nkind = "table"\ntitle = "Matching rows"\n'
TOTAL_BLOCK = '[[views]]\nid = "total"\nkind = "indicator"\ntitle = "Total sales"\n'
TIMEOUT_LINE = "timeout = 300 # seconds an entry is kept"

CALLBACKS = "signaling/callbacks.py"
LAYOUT = "signaling/layout.py"
IDS = "signaling/ids.py"
DRY_RUN_END = "Dry run: nothing was written."
NOTHING_TO_DO = "Nothing to do: the project is in line with dashsignal.toml."

_ACTIONS = "create|update|merge|conflict|replace|delete|keep"
_REPORT_LINE = re.compile(
    rf"^  (?P<verb>(?:would )?(?:{_ACTIONS}))\s+(?P<path>\S+)(?:\s+(?P<note>\S.*?))?\s*$"
)
_CHECK_LINE = re.compile(r"^  (?P<code>[a-z-]+)\s+(?P<path>\S+): (?P<message>.+)$")


# --- helpers --------------------------------------------------------------------------------


def demo_project(tmp_path: Path, name: str = NAME, **spec: Any) -> Path:
    """The project of `dashsignal new NAME --yes` (4 views, 3 filters), generated in-process."""
    spec.setdefault("views", DEFAULT_VIEWS)
    spec.setdefault("filters", DEFAULT_FILTERS)
    return generate(tmp_path / name, make_spec(name, **spec))


# A data.py of the user's own that reads each filter by name and never hands the declared
# FILTERS to a runtime helper: a filter added later is ignored by it until they read it.
OWN_QUERY = '''"""My own query."""

from typing import Any

import pandas as pd

DATA_VERSION = "1"


def expensive_query(filters: dict[str, Any]) -> pd.DataFrame:
    frame = pd.read_parquet("sales.parquet")
    mask = pd.Series(True, index=frame.index)
    if filters["region"] is not None:
        mask &= frame["region"] == filters["region"]
    if filters["product"]:
        mask &= frame["product"].isin(filters["product"])
    mask &= frame["year"].between(*filters["year"])
    return frame[mask].reset_index(drop=True)
'''


def with_own_query(project: Path) -> Path:
    """`project` with OWN_QUERY as its data.py (the demo's filters region, product, year)."""
    (project / "data.py").write_text(OWN_QUERY, encoding="utf-8")
    return project


def cli(project: Path, *args: str) -> CliResult:
    """`dashsignal ARGS` run inside `project`; no traceback whatever the outcome."""
    result = run_cli(*args, cwd=project)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def cli_ok(project: Path, *args: str) -> CliResult:
    result = cli(project, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def report(stdout: str) -> dict[str, tuple[str, str]]:
    """The lines of a change report as {path: (verb, note)}."""
    found: dict[str, tuple[str, str]] = {}
    for line in stdout.splitlines():
        match = _REPORT_LINE.match(line)
        if match:
            found[match["path"]] = (match["verb"], match["note"] or "")
    return found


def check_findings(stdout: str) -> list[tuple[str, str, str]]:
    """The lines of a `check` report as (code, path, message)."""
    return [
        (m["code"], m["path"], m["message"])
        for m in map(_CHECK_LINE.match, stdout.splitlines())
        if m is not None
    ]


def disk_state(root: Path) -> tuple[dict[str, bytes | None], dict[str, tuple[int, int]]]:
    """Every entry's bytes, and its inode and mtime: a rewrite of the same text shows too."""
    stats = {
        path.relative_to(root).as_posix(): (path.stat().st_ino, path.stat().st_mtime_ns)
        for path in [root, *root.rglob("*")]
    }
    return tree_snapshot(root), stats


def read(project: Path, path: str) -> str:
    return (project / path).read_text(encoding="utf-8")


def write(project: Path, path: str, text: str) -> None:
    (project / path).write_text(text, encoding="utf-8")


def replace_in(project: Path, path: str, old: str, new: str) -> None:
    text = read(project, path)
    assert text.count(old) == 1, f"{old!r} not exactly once in {path}"
    write(project, path, text.replace(old, new))


def append_to(project: Path, path: str, text: str) -> None:
    write(project, path, read(project, path) + text)


def view_ids(project: Path) -> list[str]:
    return [view["id"] for view in load_toml(project)["views"]]


def filter_ids(project: Path) -> list[str]:
    return [item["id"] for item in load_toml(project)["filters"]]


def functions_of(project: Path, path: str) -> list[str]:
    module = ast.parse(read(project, path))
    return [node.name for node in module.body if isinstance(node, ast.FunctionDef)]


def string_constants(project: Path, path: str) -> set[str]:
    module = ast.parse(read(project, path))
    return {
        node.value
        for node in ast.walk(module)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


_WIRING = """\
import json
import app
print(json.dumps({
    output: sorted({item["id"] for item in callback["inputs"]})
    for output, callback in app.app.callback_map.items()
}))
"""


def app_wiring(project: Path, tmp_path: Path) -> dict[str, list[str]]:
    """Import the project's app in a fresh interpreter: {callback output: [input ids]}."""
    env = {
        **os.environ,
        "PYTHONDONTWRITEBYTECODE": "1",
        "CACHE_DIR": str(tmp_path / "cache"),
    }
    result = subprocess.run(
        [sys.executable, "-c", _WIRING],
        cwd=project,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    wiring: dict[str, list[str]] = json.loads(result.stdout)
    return wiring


def make_conflict(project: Path) -> str:
    """Edit the line that wires the `total` view's output; return the edited line."""
    lines = read(project, CALLBACKS).splitlines()
    [line] = [line for line in lines if 'Output("total", "children")' in line]
    assert lines.index(line) > lines.index("def register_callbacks(app: Dash) -> None:")
    mine = line + "  # wired by hand"
    replace_in(project, CALLBACKS, line + "\n", mine + "\n")
    return mine


DAILY_BLOCK = '[[stages]]\nid = "daily"\nsource = "query"\ntitle = "Daily"\n'


def pattern_project(tmp_path: Path, pattern: str, name: str = NAME) -> Path:
    """The demo project in `pattern`, generated in-process."""
    return demo_project(tmp_path, name, pattern=pattern)


def stage_ids(project: Path) -> list[str]:
    return [stage["id"] for stage in load_toml(project).get("stages", [])]


def assert_graph_matches_wiring(project: Path, tmp_path: Path) -> dict[str, list[str]]:
    """What `graph --json` says triggers each callback is what the app really wires."""
    flow = json.loads(cli_ok(project, "graph", "--json").stdout)
    wiring = app_wiring(project, tmp_path)
    filters = sorted(f["id"] for f in flow["filters"])
    if flow["pattern"] == "signal":
        assert wiring[f"{flow['signal']}.data"] == filters
    for stage in flow["stages"]:
        if stage["signal"] is not None:
            assert wiring[f"{stage['signal']}.data"] == sorted(stage["inputs"])
    for view in flow["views"]:
        [output] = [key for key in wiring if re.search(rf"(^|\.\.){view['id']}\.", key)]
        assert wiring[output] == sorted(view["inputs"]), view["id"]
    stores = {key for key in wiring if key.startswith("dashsignal-signal")}
    assert len(stores) == (1 + len(flow["stages"]) if flow["pattern"] == "signal" else 0)
    return wiring


# A comment at the top, one on a key line and one between entries of dashsignal.toml.
TOP = "# TOP: owned by the data team, ask before changing\n"
KEY = "  # KEY: shown on the card"
BETWEEN = "\n# BETWEEN: the charts below are experimental\n"
COMMENTS = [TOP.strip(), KEY.strip(), BETWEEN.strip()]


def add_comments(project: Path) -> str:
    """Comments at the top, on a key line and between two entries; return the new text."""
    text = read(project, "dashsignal.toml")
    text = TOP + text
    text = text.replace('title = "Sales by month"\n', f'title = "Sales by month"{KEY}\n')
    text = text.replace(f"\n{SHARE_BLOCK}", f"{BETWEEN}\n{SHARE_BLOCK}")
    assert all(comment in text for comment in COMMENTS)
    write(project, "dashsignal.toml", text)
    return text


# A function a user adds by hand to a managed file.
MY_HELPER = '\n\ndef my_helper() -> str:\n    """Added by hand."""\n    return "mine"\n'
